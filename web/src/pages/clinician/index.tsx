import { AlertOutlined, SearchOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Empty, Form, Input, List, Modal, Row, Select, Space, Tabs, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AsyncView, ErrorAlert } from '../../components/async-view.js';
import { RecordsView } from '../../components/records-view.js';
import { PageTitle } from '../../components/shell.js';
import { useDirectory } from '../../directory.js';
import { ApiError } from '../../lib/api.js';
import { splitBundle, titleOf, type Bundle, type Resource } from '../../lib/fhir-view.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';
import { toBase64Url } from '../../lib/encoding.js';
import { WriteRecord } from './write-record.js';

const PATIENT_ID = /^P[A-Z2-7]{26}$/;

interface PatientHit {
  patientId: string;
  name?: string;
  nameEn?: string;
  gender?: string;
  birthYear?: number;
  registeredHere: boolean;
}

/**
 * Search by name among the patients registered at my institution. A POST with a random salt: the signed body's
 * hash is what reaches the ledger, so the name never does (see docs/ARCHITECTURE.md, clinician patient search).
 * Each patient found is itself a consent-checked, logged access.
 */
function NameSearch({ onPick }: { onPick(pid: string): void }) {
  const { t, i18n } = useTranslation();
  const { api, profile } = useSignedIn();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [hits, setHits] = useState<PatientHit[]>();
  const [error, setError] = useState<unknown>();
  const [missing, setMissing] = useState(false);
  const english = i18n.language.startsWith('en');
  const search = async () => {
    if (!name.trim()) return;
    setBusy(true);
    setError(undefined);
    setMissing(false);
    try {
      const salt = toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
      const res = await api.request<{ results: PatientHit[] }>('POST', `/v1/institutions/${profile.institution}/patients/search`, { name: name.trim(), salt });
      setHits(res.results);
    } catch (err) {
      // Older nodes lack the route: say so instead of a bare 404.
      if (err instanceof ApiError && err.status === 404 && /no route/.test(err.message)) setMissing(true);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <label htmlFor="name-search" style={{ display: 'block', marginBottom: 6 }}>{t('clinician.byName')}</label>
      <Space.Compact style={{ width: '100%' }}>
        <Input id="name-search" value={name} onChange={(e) => setName(e.target.value)} onPressEnter={search} placeholder={t('clinician.namePlaceholder')} />
        <Button icon={<SearchOutlined />} onClick={search} loading={busy}>{t('clinician.search')}</Button>
      </Space.Compact>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('clinician.searchLogged')}</Typography.Text>
      {missing ? <Alert style={{ marginTop: 8 }} type="info" showIcon title={t('clinician.nameSearchUnavailable')} /> : null}
      {error ? <div style={{ marginTop: 8 }}><ErrorAlert error={error} /></div> : null}
      {hits ? (
        <List
          size="small"
          style={{ marginTop: 8 }}
          locale={{ emptyText: t('clinician.noHits') }}
          dataSource={hits}
          renderItem={(h) => (
            <List.Item actions={[<Button key="open" size="small" onClick={() => onPick(h.patientId)}>{t('clinician.open')}</Button>]}>
              <List.Item.Meta
                title={(english ? h.nameEn ?? h.name : h.name) ?? h.patientId}
                description={<span>{h.gender ? t(`gender.${h.gender}`) : ''} {h.birthYear ?? ''} · <span className="mc-mono">{h.patientId}</span></span>}
              />
            </List.Item>
          )}
        />
      ) : null}
    </>
  );
}

function BreakGlass({ pid, onRead }: { pid: string; onRead(reason: string): void }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  return (
    <>
      <Button danger icon={<AlertOutlined />} onClick={() => setOpen(true)}>{t('clinician.breakGlass')}</Button>
      <Modal
        open={open}
        title={t('clinician.breakGlassTitle')}
        okText={t('clinician.breakGlassConfirm')}
        okButtonProps={{ danger: true, disabled: reason.trim().length < 10 }}
        cancelText={t('common.cancel')}
        onCancel={() => setOpen(false)}
        onOk={() => {
          setOpen(false);
          onRead(reason.trim());
        }}
      >
        <Alert type="error" showIcon title={t('clinician.breakGlassWarning', { pid })} style={{ marginBottom: 12 }} />
        <label htmlFor="glass-reason" style={{ display: 'block', marginBottom: 6 }}>{t('clinician.breakGlassReason')}</label>
        <Input.TextArea id="glass-reason" rows={3} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} showCount />
        <Typography.Text type="secondary">{t('clinician.breakGlassMin')}</Typography.Text>
      </Modal>
    </>
  );
}

/** Asks the patient for access; the patient approves (a consent is granted) or declines in their portal. */
function RequestAccess({ pid }: { pid: string }) {
  const { t } = useTranslation();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [note, setNote] = useState<string>();
  const ask = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', `/v1/patients/${pid}/access-requests`, { purposes: ['TREAT'], ...(text.trim() ? { message: text.trim() } : {}) });
      message.success(t('clinician.requestSent'));
      setOpen(false);
      setText('');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && /no route/.test(err.message)) setNote(t('clinician.requestUnavailable'));
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button onClick={() => setOpen(true)}>{t('clinician.requestAccess')}</Button>
      {note ? <Alert style={{ marginTop: 8 }} type="info" showIcon title={note} /> : null}
      <Modal open={open} title={t('clinician.requestAccess')} okText={t('clinician.send')} cancelText={t('common.cancel')} confirmLoading={busy} onOk={ask} onCancel={() => setOpen(false)}>
        <Typography.Paragraph type="secondary">{t('clinician.requestHelp')}</Typography.Paragraph>
        <label htmlFor="request-message" style={{ display: 'block', marginBottom: 6 }}>{t('clinician.requestMessage')}</label>
        <Input.TextArea id="request-message" rows={3} maxLength={1000} value={text} onChange={(e) => setText(e.target.value)} placeholder={t('clinician.requestReasonDefault')} />
        {error ? <div style={{ marginTop: 8 }}><ErrorAlert error={error} /></div> : null}
      </Modal>
    </>
  );
}

/** One patient's chart as I may see it: released records (withheld fields marked) and what was refused. */
function Chart({ pid }: { pid: string }) {
  const { t, i18n } = useTranslation();
  const { api, profile } = useSignedIn();
  const [purpose, setPurpose] = useState('TREAT');
  const [emergency, setEmergency] = useState<string>();
  const query = emergency ? `?_purpose=ETREAT&_emergency=${encodeURIComponent(emergency)}` : `?_purpose=${purpose}`;
  const state = useAsync(() => api.get<Bundle>(`/fhir/R4/Patient/${pid}/$everything${query}`), [pid, query]);
  const canBreakGlass = profile.roles.includes('emergency');
  const english = i18n.language.startsWith('en');
  return (
    <Card
      size="small"
      title={<span>{t('clinician.chartOf')} <span className="mc-mono">{pid}</span></span>}
      extra={
        <Space wrap>
          <label htmlFor="purpose" className="mc-hide-sm">{t('clinician.purpose')}</label>
          <Select
            id="purpose"
            size="small"
            value={emergency ? 'ETREAT' : purpose}
            onChange={(v) => { setEmergency(undefined); setPurpose(v); }}
            style={{ width: 150 }}
            // ETREAT is reached only through break-the-glass (with its reason), never picked here.
            options={['TREAT', 'CAREMGT', 'HPAYMT', 'HRESCH', 'PUBHLTH', 'ETREAT'].map((p) => ({ value: p, label: t(`purposes.${p}`), disabled: p === 'ETREAT' }))}
          />
          <Button size="small" onClick={state.reload} loading={state.loading}>{t('common.refresh')}</Button>
        </Space>
      }
    >
      {emergency ? <Alert type="error" showIcon title={t('clinician.emergencyActive')} description={emergency} style={{ marginBottom: 12 }} /> : null}
      <AsyncView state={state} rows={6}>
        {(bundle) => {
          const { records, refused } = splitBundle(bundle);
          const patient = records.find((r) => r.resourceType === 'Patient') as Resource | undefined;
          return (
            <>
              {patient ? <Typography.Title level={4} style={{ marginTop: 0 }}>{titleOf(patient, english)}</Typography.Title> : null}
              <Space wrap style={{ marginBottom: 12 }}>
                <Tag color="green" data-testid="released-count">{t('clinician.released', { count: records.length })}</Tag>
                {refused.length ? <Tag color="red" data-testid="refused-count">{t('clinician.refused', { count: refused.length })}</Tag> : null}
              </Space>
              {records.length === 0 && refused.length > 0 ? (
                <Alert
                  type="warning"
                  showIcon
                  data-testid="access-denied"
                  title={t('clinician.noAccess')}
                  description={t('clinician.noAccessHelp')}
                  style={{ marginBottom: 12 }}
                />
              ) : null}
              {records.length ? <RecordsView records={records} /> : refused.length ? null : <Empty description={t('records.none')} />}
              {refused.length ? (
                <Space wrap style={{ marginTop: 12 }}>
                  <RequestAccess pid={pid} />
                  {canBreakGlass ? <BreakGlass pid={pid} onRead={setEmergency} /> : null}
                </Space>
              ) : null}
            </>
          );
        }}
      </AsyncView>
    </Card>
  );
}

/** The clinician workspace: find a patient, read what consent allows, ask for access, break the glass, write. */
export default function ClinicianWorkspace() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { profile } = useSignedIn();
  const [pidInput, setPidInput] = useState('');
  const [pid, setPid] = useState<string>();
  const [pidError, setPidError] = useState(false);
  const open = (value: string) => {
    const v = value.trim().toUpperCase();
    if (!PATIENT_ID.test(v)) {
      setPidError(true);
      return;
    }
    setPidError(false);
    setPid(v);
  };
  return (
    <>
      <PageTitle title={t('clinician.title')} sub={`${profile.name} · ${profile.roles.map((r) => t(`roles.${r}`)).join('、')} · ${directory.institutionName(profile.institution)}`} />
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={8}>
          <Card size="small" title={t('clinician.findPatient')}>
            <Form layout="vertical" onFinish={() => open(pidInput)}>
              <Form.Item label={t('clinician.byId')} htmlFor="patient-id" validateStatus={pidError ? 'error' : undefined} help={pidError ? t('clinician.badId') : undefined}>
                <Space.Compact style={{ width: '100%' }}>
                  <Input id="patient-id" value={pidInput} onChange={(e) => setPidInput(e.target.value)} placeholder="P…" className="mc-mono" />
                  <Button type="primary" htmlType="submit">{t('clinician.open')}</Button>
                </Space.Compact>
              </Form.Item>
            </Form>
            <NameSearch onPick={(p) => { setPidInput(p); open(p); }} />
          </Card>
        </Col>
        <Col xs={24} lg={16}>
          {pid ? (
            <Tabs
              items={[
                { key: 'chart', label: t('clinician.tabChart'), children: <Chart key={pid} pid={pid} /> },
                { key: 'write', label: t('clinician.tabWrite'), children: <WriteRecord pid={pid} /> },
              ]}
            />
          ) : (
            <Card><Empty description={t('clinician.pickPatient')} /></Card>
          )}
        </Col>
      </Row>
    </>
  );
}
