import { AlertOutlined, CheckCircleOutlined, StopOutlined } from '@ant-design/icons';
import { Alert, Card, Empty, Segmented, Space, Tag, Timeline, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../../lib/format.js';
import { AsyncView } from '../../components/async-view.js';
import { useDirectory } from '../../directory.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';

export interface AccessEntry {
  id: string;
  time: number;
  height: number;
  decision: 'permit' | 'deny' | string;
  emergency: boolean;
  emergencyReason?: string;
  institution?: string;
  purpose: string;
  reason?: string;
  requester: string;
  requesterKind: string;
  roles?: string[];
  record: { id: string; resourceType: string; custodian: string; date?: string };
  withheldFields?: string[];
}

/** One request of one person: the log has an entry per record, a person thinks in visits. */
interface AccessEvent {
  key: string;
  first: AccessEntry;
  entries: AccessEntry[];
  permitted: number;
  denied: number;
  emergency: boolean;
}

function eventsOf(log: AccessEntry[]): AccessEvent[] {
  const byKey = new Map<string, AccessEvent>();
  for (const e of log) {
    const key = `${e.id}|${e.requester}`;
    const ev = byKey.get(key) ?? { key, first: e, entries: [], permitted: 0, denied: 0, emergency: false };
    ev.entries.push(e);
    if (e.decision === 'permit') ev.permitted++;
    else ev.denied++;
    ev.emergency ||= e.emergency;
    byKey.set(key, ev);
  }
  return [...byKey.values()].sort((a, b) => b.first.time - a.first.time);
}

/** Who accessed my records: a timeline, break-the-glass accesses in red, denied attempts too. */
export function AccessLog({ pid }: { pid: string }) {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api, profile } = useSignedIn();
  const state = useAsync(() => api.get<AccessEntry[]>(`/v1/patients/${pid}/access-log`), [pid]);
  const [filter, setFilter] = useState<'all' | 'others' | 'emergency' | 'denied'>('others');
  return (
    <AsyncView state={state}>
      {(log) => {
        const all = eventsOf(log);
        const emergencies = all.filter((e) => e.emergency);
        const shown = all.filter((e) =>
          filter === 'all' ? true : filter === 'others' ? e.first.requester !== profile.did : filter === 'emergency' ? e.emergency : e.denied > 0,
        );
        return (
          <Space orientation="vertical" style={{ width: '100%' }} size="middle">
            {emergencies.length ? (
              <Alert type="error" showIcon icon={<AlertOutlined />} title={t('access.emergencyBanner', { count: emergencies.length })} description={t('access.emergencyHelp')} />
            ) : null}
            <Segmented
              value={filter}
              onChange={(v) => setFilter(v as typeof filter)}
              options={[
                { value: 'others', label: t('access.filterOthers') },
                { value: 'emergency', label: t('access.filterEmergency') },
                { value: 'denied', label: t('access.filterDenied') },
                { value: 'all', label: t('access.filterAll') },
              ]}
            />
            <Card size="small">
              {shown.length === 0 ? (
                <Empty description={t('access.none')} />
              ) : (
                <Timeline
                  items={shown.slice(0, 200).map((ev) => {
                    const e = ev.first;
                    const who = directory.personName(e.requester) ?? (e.requester === profile.did ? t('access.you') : t(`kinds.${e.requesterKind}`, { defaultValue: e.requesterKind }));
                    const types = [...new Set(ev.entries.map((x) => t(`resourceTypes.${x.record.resourceType}`, { defaultValue: x.record.resourceType })))];
                    const withheld = [...new Set(ev.entries.flatMap((x) => x.withheldFields ?? []))].filter((f) => ev.entries.some((x) => f.startsWith(`${x.record.resourceType}.`)));
                    return {
                      key: ev.key,
                      color: ev.emergency ? 'red' : ev.permitted ? 'green' : 'gray',
                      dot: ev.emergency ? <AlertOutlined style={{ color: '#cf1322' }} /> : ev.permitted ? <CheckCircleOutlined /> : <StopOutlined />,
                      children: (
                        <div data-testid="access-event" className={ev.emergency ? 'mc-emergency-event' : undefined}>
                          <Space wrap size={4}>
                            <Typography.Text strong>{who}</Typography.Text>
                            <Typography.Text type="secondary">{directory.institutionName(e.institution)}</Typography.Text>
                            {(e.roles ?? []).map((r) => <Tag key={r}>{t(`roles.${r}`, { defaultValue: r })}</Tag>)}
                          </Space>
                          <div>
                            <Typography.Text type="secondary">{fmt.dateTime(e.time)}</Typography.Text> · {t(`purposes.${e.purpose}`, { defaultValue: e.purpose })}
                          </div>
                          <Space wrap size={4} style={{ marginTop: 4 }}>
                            {ev.emergency ? <Tag color="red">{t('access.emergency')}</Tag> : null}
                            {ev.permitted ? <Tag color="green">{t('access.permitted', { count: ev.permitted })}</Tag> : null}
                            {ev.denied ? <Tag color="default">{t('access.denied', { count: ev.denied })}</Tag> : null}
                            <Typography.Text type="secondary" style={{ fontSize: 12 }}>{types.join(t('common.listSeparator'))}</Typography.Text>
                          </Space>
                          {e.emergencyReason ? <div><Typography.Text type="danger">{t('access.reason', { reason: e.emergencyReason })}</Typography.Text></div> : null}
                          {withheld.length ? <div><Typography.Text type="secondary" style={{ fontSize: 12 }}>{t('access.withheld', { fields: withheld.map((f) => t(`fields.${f}`, { defaultValue: f })).join(t('common.listSeparator')) })}</Typography.Text></div> : null}
                        </div>
                      ),
                    };
                  })}
                />
              )}
            </Card>
          </Space>
        );
      }}
    </AsyncView>
  );
}
