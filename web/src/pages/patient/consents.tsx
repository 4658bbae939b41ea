import { Alert, App, Button, Card, Checkbox, Col, Empty, Form, Input, List, Popconfirm, Radio, Row, Select, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../../lib/format.js';
import { AsyncView, ErrorAlert } from '../../components/async-view.js';
import { useDirectory } from '../../directory.js';
import type { Bundle } from '../../lib/fhir-view.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';
import { AccessRequests } from './access-requests.js';
import { EXCLUDABLE_FIELDS, RESOURCE_TYPES } from './consent-fields.js';
import { describeConsent, termsOfFhirConsent, type ConsentTerms } from './consent-wording.js';

const PURPOSE_CHOICES = ['TREAT', 'ETREAT', 'HPAYMT', 'HRESCH', 'PUBHLTH'];
const ROLES = ['doctor', 'nurse', 'pharmacist', 'lab_technician', 'researcher', 'claims_adjuster'];
const INSTITUTION_TYPES = ['hospital', 'health_centre', 'clinic', 'pharmacy', 'insurer', 'research'];

interface GrantForm {
  actorKind: 'user' | 'institution' | 'role' | 'institution-type';
  user?: string;
  institution?: string;
  role?: string;
  roleInstitution?: string;
  type?: string;
  resourceTypes: string[];
  excludeFields: string[];
  purposes: string[];
  until?: string;
}

function termsOf(v: Partial<GrantForm>): ConsentTerms | undefined {
  let actor: ConsentTerms['actor'] | undefined;
  if (v.actorKind === 'user' && v.user) actor = { kind: 'user', did: v.user };
  if (v.actorKind === 'institution' && v.institution) actor = { kind: 'institution', id: v.institution };
  if (v.actorKind === 'role' && v.role) actor = { kind: 'role', role: v.role, ...(v.roleInstitution ? { institution: v.roleInstitution } : {}) };
  if (v.actorKind === 'institution-type' && v.type) actor = { kind: 'institution-type', type: v.type };
  if (!actor || !v.purposes?.length) return undefined;
  return {
    provision: 'permit',
    actor,
    purposes: v.purposes,
    ...(v.resourceTypes?.length ? { resourceTypes: v.resourceTypes } : {}),
    ...(v.excludeFields?.length ? { excludeFields: v.excludeFields } : {}),
    // Valid through the end of that day, China Standard Time (as the CLI does).
    ...(v.until ? { end: Date.parse(`${v.until}T23:59:59.999+08:00`) } : {}),
  };
}

function GrantConsent({ pid, onGranted }: { pid: string; onGranted(): void }) {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const [form] = Form.useForm<GrantForm>();
  const values = Form.useWatch([], form) as Partial<GrantForm> | undefined;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const terms = values ? termsOf(values) : undefined;
  const clinicians = directory.staff.filter((s) => s.status === 'active' && s.roles.some((r) => ['doctor', 'nurse', 'pharmacist'].includes(r)));
  const institutions = directory.institutions.filter((i) => i.status === 'active').map((i) => ({ value: i.id, label: directory.institutionName(i.id) }));
  const submit = async (v: GrantForm) => {
    const c = termsOf(v);
    if (!c) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.submit('consent', 'grant', {
        patientId: pid,
        provision: c.provision,
        actor: c.actor,
        purposes: c.purposes,
        scope: c.resourceTypes ? { resourceTypes: c.resourceTypes } : {},
        ...(c.excludeFields ? { excludeFields: c.excludeFields } : {}),
        period: c.end !== undefined ? { end: c.end } : {},
      });
      message.success(t('consent.granted'));
      form.resetFields();
      onGranted();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={t('consent.grantTitle')} size="small">
      <Form<GrantForm> form={form} layout="vertical" onFinish={submit} initialValues={{ actorKind: 'user', purposes: ['TREAT'], resourceTypes: [], excludeFields: [] }}>
        <Form.Item name="actorKind" label={t('consent.to')}>
          <Radio.Group optionType="button" options={(['user', 'institution', 'role', 'institution-type'] as const).map((k) => ({ value: k, label: t(`consent.actorKinds.${k}`) }))} />
        </Form.Item>
        {values?.actorKind === 'user' || values?.actorKind === undefined ? (
          <Form.Item name="user" label={t('consent.doctor')} rules={[{ required: true, message: t('consent.required') }]}>
            <Select
              id="consent-user"
              showSearch={{ optionFilterProp: 'label' }}
              placeholder={t('consent.doctorPlaceholder')}
              options={clinicians.map((s) => ({ value: s.did, label: `${s.name} · ${s.roles.map((r) => t(`roles.${r}`)).join('、')} · ${directory.institutionName(s.institution)}` }))}
            />
          </Form.Item>
        ) : null}
        {values?.actorKind === 'institution' ? (
          <Form.Item name="institution" label={t('consent.institution')} rules={[{ required: true, message: t('consent.required') }]}>
            <Select showSearch={{ optionFilterProp: 'label' }} options={institutions} />
          </Form.Item>
        ) : null}
        {values?.actorKind === 'role' ? (
          <Row gutter={12}>
            <Col xs={24} sm={12}>
              <Form.Item name="role" label={t('consent.role')} rules={[{ required: true, message: t('consent.required') }]}>
                <Select options={ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }))} />
              </Form.Item>
            </Col>
            <Col xs={24} sm={12}>
              <Form.Item name="roleInstitution" label={t('consent.atInstitution')}>
                <Select allowClear options={institutions} />
              </Form.Item>
            </Col>
          </Row>
        ) : null}
        {values?.actorKind === 'institution-type' ? (
          <Form.Item name="type" label={t('consent.institutionType')} rules={[{ required: true, message: t('consent.required') }]}>
            <Select options={INSTITUTION_TYPES.map((x) => ({ value: x, label: t(`institutionTypes.${x}`) }))} />
          </Form.Item>
        ) : null}
        <Form.Item name="resourceTypes" label={t('consent.what')} extra={t('consent.whatHelp')}>
          <Checkbox.Group options={RESOURCE_TYPES.map((r) => ({ value: r, label: t(`resourceTypes.${r}`) }))} />
        </Form.Item>
        <Form.Item name="excludeFields" label={t('consent.hide')} extra={t('consent.hideHelp')}>
          <Select id="consent-hide" mode="multiple" allowClear showSearch={{ optionFilterProp: "label" }} options={EXCLUDABLE_FIELDS.map((f) => ({ value: f, label: t(`fields.${f}`) }))} placeholder={t('consent.hidePlaceholder')} />
        </Form.Item>
        <Row gutter={12}>
          <Col xs={24} sm={14}>
            <Form.Item name="purposes" label={t('consent.purpose')} rules={[{ required: true, message: t('consent.required') }]}>
              <Checkbox.Group options={PURPOSE_CHOICES.map((p) => ({ value: p, label: t(`purposes.${p}`) }))} />
            </Form.Item>
          </Col>
          <Col xs={24} sm={10}>
            <Form.Item name="until" label={t('consent.untilLabel')} extra={t('consent.untilHelp')}>
              <Input type="date" min={new Date().toISOString().slice(0, 10)} />
            </Form.Item>
          </Col>
        </Row>
        <Alert
          type={terms ? 'info' : 'warning'}
          showIcon
          title={t('consent.preview')}
          description={<span data-testid="consent-preview">{terms ? describeConsent(terms, t, directory) : t('consent.previewIncomplete')}</span>}
          style={{ marginBottom: 16 }}
        />
        {error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={error} /></div> : null}
        <Button type="primary" htmlType="submit" loading={busy} disabled={!terms}>{t('consent.grantButton')}</Button>
      </Form>
    </Card>
  );
}

/** My consents: what each allows in plain words, revoke in one action, and a form to grant a new one. */
export function Consents({ pid }: { pid: string }) {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const state = useAsync(() => api.get<Bundle>(`/fhir/R4/Consent?patient=${pid}`), [pid]);
  const [revoking, setRevoking] = useState<string>();
  const [error, setError] = useState<unknown>();
  const revoke = async (id: string) => {
    setRevoking(id);
    setError(undefined);
    try {
      await api.submit('consent', 'revoke', { patientId: pid, consent: id });
      message.success(t('consent.revoked'));
      state.reload();
    } catch (err) {
      setError(err);
    } finally {
      setRevoking(undefined);
    }
  };
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={13}>
        <AccessRequests pid={pid} onDecided={state.reload} />
        <Card title={t('consent.listTitle')} size="small">
          {error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={error} /></div> : null}
          <AsyncView state={state}>
            {(bundle) => {
              const consents = (bundle.entry ?? []).map((e) => e.resource).sort((a, b) => String(b['dateTime']).localeCompare(String(a['dateTime'])));
              if (consents.length === 0) return <Empty description={t('consent.none')} />;
              return (
                <List
                  dataSource={consents}
                  renderItem={(c) => {
                    const active = c['status'] === 'active';
                    const terms = termsOfFhirConsent(c);
                    return (
                      <List.Item
                        data-testid="consent-item"
                        actions={
                          active
                            ? [
                                <Popconfirm key="revoke" title={t('consent.revokeConfirm')} okText={t('consent.revoke')} cancelText={t('common.cancel')} onConfirm={() => revoke(c.id)}>
                                  <Button danger size="small" loading={revoking === c.id}>{t('consent.revoke')}</Button>
                                </Popconfirm>,
                              ]
                            : []
                        }
                      >
                        <List.Item.Meta
                          title={
                            <Space wrap>
                              <Tag color={active ? 'green' : 'default'}>{active ? t('consent.active') : t('consent.inactive')}</Tag>
                              <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('consent.grantedOn', { date: fmt.dateTime(String(c['dateTime'])) })}</Typography.Text>
                            </Space>
                          }
                          description={<span style={{ color: active ? undefined : '#94a3b8' }}>{describeConsent(terms, t, directory)}</span>}
                        />
                      </List.Item>
                    );
                  }}
                />
              );
            }}
          </AsyncView>
        </Card>
      </Col>
      <Col xs={24} lg={11}>
        <GrantConsent pid={pid} onGranted={state.reload} />
      </Col>
    </Row>
  );
}
