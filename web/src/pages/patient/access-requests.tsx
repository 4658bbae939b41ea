import { App, Button, Card, List, Select, Space, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../../components/async-view.js';
import { useDirectory } from '../../directory.js';
import { ApiError } from '../../lib/api.js';
import { useFormat } from '../../lib/format.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';
import { EXCLUDABLE_FIELDS } from './consent-fields.js';

interface AccessRequest {
  id: string;
  requester: string;
  institution: string;
  roles: string[];
  purposes: string[];
  scope: { resourceTypes?: string[] };
  messageText?: string;
  requestedAt: number;
  expiresAt: number;
  status: string;
}

/** Clinicians asking me for access: approve (a consent for that clinician, fields hidden as I choose) or decline. */
export function AccessRequests({ pid, onDecided }: { pid: string; onDecided(): void }) {
  const { t } = useTranslation();
  const directory = useDirectory();
  const fmt = useFormat();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const state = useAsync(() => api.get<AccessRequest[]>(`/v1/patients/${pid}/access-requests?status=pending`), [pid]);
  const [hide, setHide] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<unknown>();
  // A node without access requests simply shows none.
  if (state.error instanceof ApiError && state.error.status === 404) return null;
  if (!state.data?.length && !state.error) return null;
  const decide = async (r: AccessRequest, action: 'approve' | 'decline') => {
    setBusy(`${r.id}/${action}`);
    setError(undefined);
    try {
      const excludeFields = hide[r.id] ?? [];
      await api.request('POST', `/v1/patients/${pid}/access-requests/${r.id}/${action}`, action === 'approve' ? (excludeFields.length ? { excludeFields } : {}) : { reason: 'NOT_NEEDED' });
      message.success(t(action === 'approve' ? 'accessRequests.approved' : 'accessRequests.declined'));
      state.reload();
      onDecided();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <Card size="small" title={<span>{t('accessRequests.title')} <Tag color="orange">{state.data?.length ?? 0}</Tag></span>} style={{ marginBottom: 16, borderColor: '#fcd34d' }}>
      {state.error ? <ErrorAlert error={state.error} onRetry={state.reload} /> : null}
      {error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={error} /></div> : null}
      <List
        dataSource={state.data ?? []}
        renderItem={(r) => {
          const who = directory.personName(r.requester) ?? r.requester.slice(0, 20);
          return (
            <List.Item data-testid="access-request">
              <Space orientation="vertical" style={{ width: '100%' }}>
                <Typography.Text>
                  {t('accessRequests.sentence', {
                    who,
                    institution: directory.institutionName(r.institution),
                    why: r.purposes.map((p) => t(`purposes.${p}`, { defaultValue: p })).join(t('common.listSeparator')),
                    what: r.scope.resourceTypes?.length ? r.scope.resourceTypes.map((x) => t(`resourceTypes.${x}`, { defaultValue: x })).join(t('common.listSeparator')) : t('consent.allRecords'),
                  })}
                </Typography.Text>
                {r.messageText ? <Typography.Text type="secondary">“{r.messageText}”</Typography.Text> : null}
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('accessRequests.dates', { asked: fmt.date(r.requestedAt), expires: fmt.date(r.expiresAt) })}</Typography.Text>
                <Select
                  mode="multiple"
                  allowClear
                  style={{ width: '100%' }}
                  aria-label={t('consent.hide')}
                  placeholder={t('accessRequests.hidePlaceholder')}
                  value={hide[r.id] ?? []}
                  onChange={(v) => setHide({ ...hide, [r.id]: v })}
                  options={EXCLUDABLE_FIELDS.map((f) => ({ value: f, label: t(`fields.${f}`) }))}
                />
                <Space>
                  <Button type="primary" loading={busy === `${r.id}/approve`} onClick={() => decide(r, 'approve')}>{t('accessRequests.approve')}</Button>
                  <Button loading={busy === `${r.id}/decline`} onClick={() => decide(r, 'decline')}>{t('accessRequests.decline')}</Button>
                </Space>
              </Space>
            </List.Item>
          );
        }}
      />
    </Card>
  );
}
