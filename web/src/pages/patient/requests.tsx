import { App, Button, Card, Col, Empty, Form, Input, Radio, Row, Select, Table, Tag } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../../lib/format.js';
import { AsyncView, ErrorAlert } from '../../components/async-view.js';
import { useDirectory } from '../../directory.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';

interface ChangeRequest {
  id: string;
  recordId: string;
  kind: 'correction' | 'erasure';
  status: 'open' | 'accepted' | 'refused';
  custodian: string;
  filedAt: number;
  resolvedAt?: number;
  refusal?: string;
}
interface RecordMeta {
  id: string;
  resourceType: string;
  custodian: string;
  date?: string;
  status: string;
}

const STATUS_COLOR = { open: 'processing', accepted: 'success', refused: 'error' } as const;

/** Corrections and erasure: ask the custodian, follow the status (the wording stays encrypted at the custodian). */
export function Requests({ pid }: { pid: string }) {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const requests = useAsync(() => api.get<ChangeRequest[]>(`/v1/patients/${pid}/requests`), [pid]);
  const records = useAsync(() => api.get<RecordMeta[]>(`/v1/patients/${pid}/records`), [pid]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [form] = Form.useForm<{ recordId: string; kind: 'correction' | 'erasure'; details?: string }>();
  const submit = async (v: { recordId: string; kind: 'correction' | 'erasure'; details?: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', `/v1/records/${encodeURIComponent(v.recordId)}/requests`, { kind: v.kind, ...(v.details ? { details: v.details } : {}) });
      message.success(t('requests.filed'));
      form.resetFields();
      requests.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const recordLabel = (r: RecordMeta) => `${t(`resourceTypes.${r.resourceType}`, { defaultValue: r.resourceType })} · ${r.date ?? ''} · ${directory.institutionName(r.custodian)} (${r.id})`;
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={14}>
        <Card size="small" title={t('requests.listTitle')}>
          <AsyncView state={requests}>
            {(list) =>
              list.length === 0 ? (
                <Empty description={t('requests.none')} />
              ) : (
                <Table
                  size="small"
                  rowKey="id"
                  pagination={false}
                  scroll={{ x: true }}
                  dataSource={[...list].sort((a, b) => b.filedAt - a.filedAt)}
                  columns={[
                    { title: t('requests.kind'), dataIndex: 'kind', render: (k: string) => t(`requests.kinds.${k}`) },
                    { title: t('requests.record'), dataIndex: 'recordId' },
                    { title: t('requests.custodian'), dataIndex: 'custodian', render: (c: string) => directory.institutionName(c) },
                    { title: t('requests.filedAt'), dataIndex: 'filedAt', render: (x: number) => fmt.date(x) },
                    {
                      title: t('requests.status'),
                      render: (_: unknown, r: ChangeRequest) => (
                        <>
                          <Tag color={STATUS_COLOR[r.status]}>{t(`requests.statuses.${r.status}`)}</Tag>
                          {r.refusal ? <div style={{ fontSize: 12, color: '#64748b' }}>{t(`refusals.${r.refusal}`, { defaultValue: r.refusal })}</div> : null}
                        </>
                      ),
                    },
                  ]}
                />
              )
            }
          </AsyncView>
        </Card>
      </Col>
      <Col xs={24} lg={10}>
        <Card size="small" title={t('requests.newTitle')}>
          <Form form={form} layout="vertical" onFinish={submit} initialValues={{ kind: 'correction' }}>
            <Form.Item name="recordId" label={t('requests.record')} rules={[{ required: true, message: t('consent.required') }]}>
              <Select
                showSearch={{ optionFilterProp: 'label' }}
                loading={records.loading}
                options={(records.data ?? []).filter((r) => r.status !== 'erased').map((r) => ({ value: r.id, label: recordLabel(r) }))}
              />
            </Form.Item>
            <Form.Item name="kind" label={t('requests.kind')}>
              <Radio.Group options={[{ value: 'correction', label: t('requests.kinds.correction') }, { value: 'erasure', label: t('requests.kinds.erasure') }]} />
            </Form.Item>
            <Form.Item name="details" label={t('requests.details')} extra={t('requests.detailsHelp')}>
              <Input.TextArea rows={3} maxLength={4000} />
            </Form.Item>
            {records.error ? <ErrorAlert error={records.error} onRetry={records.reload} /> : null}
            {error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={error} /></div> : null}
            <Button type="primary" htmlType="submit" loading={busy}>{t('requests.submit')}</Button>
          </Form>
        </Card>
      </Col>
    </Row>
  );
}
