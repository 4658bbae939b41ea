import { Alert, Card, Col, Empty, Row, Statistic, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../lib/format.js';
import { AsyncView } from '../components/async-view.js';
import { Chart } from '../components/chart.js';
import { PageTitle } from '../components/shell.js';
import { useDirectory } from '../directory.js';
import { ApiError, openApi } from '../lib/api.js';
import { useAsync } from '../lib/use-async.js';
import { useSignedIn } from '../session.js';

interface Counts { entries: number; permit: number; deny: number; emergency: number; gone: number }
interface DayStats { day: string; requests: number; counts: Counts; byInstitution: Record<string, Counts>; byPurpose: Record<string, number>; byRequesterKind: Record<string, number> }
interface AccessStats { from: string; to: string; totals: Omit<DayStats, 'day'>; days: DayStats[] }
interface Person { did?: string; name?: string; institution?: string; institutionName?: string }
interface Anomalies {
  emergencies: Array<{ access: string; requester: Person; institution?: string; time: number; reason: string; records: number; decision: string }>;
  highVolumeReaders: Array<{ day: string; requester: Person; institution?: string; patients: number; threshold: number }>;
  denialBursts: Array<{ day: string; requester: Person; institution?: string; denials: number; threshold: number; start: number }>;
}
interface DrugReport {
  suspicious: Array<{ id: string; at: number; code: string; finding: string; reportedBy: string }>;
  recalledInStock: Array<{ gtin: string; lot: string; reason: string; holders: Record<string, number> }>;
}

/** A missing oversight route (older node) becomes a clear note rather than an error. */
const unavailable = (err: unknown) => err instanceof ApiError && err.status === 404 && /no route/.test(err.message);

/** GET /v1/consortium/health (src/network/checkpoint-exchange.ts `ConsortiumHealth`). */
interface ConsortiumHealthView {
  tip: number;
  nodes: Array<{ institution?: string; nodeDid: string; height: number; lag: number; blockHash: string; self: boolean }>;
  agreement: { ok: boolean; disagreements: Array<{ height: number }> };
}

function ConsortiumHealth() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const state = useAsync(async () => {
    const [health, status, checkpoints] = await Promise.all([
      openApi.get<ConsortiumHealthView>('/v1/consortium/health'),
      openApi.get<{ pendingTxs: number; sequencer: string }>('/v1/status'),
      openApi.get<{ checkpoints: Array<{ height: number; blockHash: string; signer: string }> }>('/v1/checkpoints?limit=20'),
    ]);
    return { health, status, checkpoints: checkpoints.checkpoints };
  }, []);
  return (
    <Card size="small" title={t('regulator.health')}>
      <AsyncView state={state}>
        {({ health, status, checkpoints }) => {
          // Heights differ while nodes catch up; only conflicting signed checkpoints at one height break agreement.
          const disagreeing = new Set(health.agreement.disagreements.map((d) => d.height));
          return (
            <>
              <Row gutter={[12, 12]}>
                <Col xs={12} md={6}><Statistic className="mc-stat" title={t('regulator.nodes')} value={health.nodes.length} suffix={t('regulator.nodesSuffix')} /></Col>
                <Col xs={12} md={6}><Statistic className="mc-stat" title={t('explorer.height')} value={health.tip} /></Col>
                <Col xs={12} md={6}><Statistic className="mc-stat" title={t('regulator.lastCheckpoint')} value={checkpoints[0]?.height ?? '—'} /></Col>
                <Col xs={12} md={6}><Statistic className="mc-stat" title={t('explorer.pending')} value={status.pendingTxs} /></Col>
              </Row>
              {!health.agreement.ok && (
                <Alert style={{ marginTop: 12 }} type="error" showIcon title={t('regulator.disagreement', { heights: [...disagreeing].join(', ') })} />
              )}
              <Table
                style={{ marginTop: 12 }}
                size="small"
                rowKey="nodeDid"
                pagination={false}
                scroll={{ x: true }}
                dataSource={health.nodes}
                columns={[
                  { title: t('regulator.node'), dataIndex: 'institution', render: (i: string | undefined, n) => (i ? directory.institutionName(i) : n.nodeDid.slice(-12)) },
                  { title: t('explorer.height'), dataIndex: 'height' },
                  { title: t('regulator.lag'), dataIndex: 'lag' },
                  { title: t('explorer.hash'), dataIndex: 'blockHash', render: (h: string) => <span className="mc-mono">{h.slice(0, 16)}…</span> },
                  {
                    title: t('regulator.agreement'),
                    render: () => (health.agreement.ok ? <Tag color="green">{t('regulator.agrees')}</Tag> : <Tag color="red">{t('regulator.disagrees')}</Tag>),
                  },
                ]}
              />
              {status.sequencer === 'solo' && (
                <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>{t('regulator.singleNodeNote')}</Typography.Paragraph>
              )}
            </>
          );
        }}
      </AsyncView>
    </Card>
  );
}

function AccessStatistics() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const state = useAsync(() => api.get<AccessStats>('/v1/oversight/access-stats'), []);
  if (state.error && unavailable(state.error)) return <Alert type="info" showIcon title={t('regulator.statsUnavailable')} />;
  return (
    <AsyncView state={state} rows={6}>
      {(s) => {
        const days = s.days;
        const insts = new Map<string, Counts>();
        for (const d of days) for (const [i, c] of Object.entries(d.byInstitution)) {
          const x = insts.get(i) ?? { entries: 0, permit: 0, deny: 0, emergency: 0, gone: 0 };
          insts.set(i, { entries: x.entries + c.entries, permit: x.permit + c.permit, deny: x.deny + c.deny, emergency: x.emergency + c.emergency, gone: x.gone + c.gone });
        }
        const purposes = new Map<string, number>();
        for (const d of days) for (const [p, n] of Object.entries(d.byPurpose)) purposes.set(p, (purposes.get(p) ?? 0) + n);
        return (
          <Row gutter={[16, 16]}>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('regulator.requests')} value={s.totals.requests} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('regulator.permitted')} value={s.totals.counts.permit} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('regulator.denied')} value={s.totals.counts.deny} /></Card></Col>
            <Col xs={12} md={6}><Card size="small"><Statistic className="mc-stat" title={t('regulator.emergencies')} value={s.totals.counts.emergency} valueStyle={{ color: s.totals.counts.emergency ? '#cf1322' : undefined }} /></Card></Col>
            <Col xs={24} lg={14}>
              <Card size="small" title={t('regulator.perDay')}>
                {days.length === 0 ? <Empty /> : (
                  <Chart
                    label={t('regulator.perDay')}
                    option={{
                      tooltip: { trigger: 'axis' },
                      legend: { bottom: 0 },
                      grid: { left: 40, right: 16, top: 16, bottom: 48 },
                      xAxis: { type: 'category', data: days.map((d) => d.day.slice(5)) },
                      yAxis: { type: 'value' },
                      series: [
                        { name: t('regulator.permitted'), type: 'bar', stack: 'a', data: days.map((d) => d.counts.permit) },
                        { name: t('regulator.denied'), type: 'bar', stack: 'a', data: days.map((d) => d.counts.deny) },
                        { name: t('regulator.emergencies'), type: 'line', data: days.map((d) => d.counts.emergency), itemStyle: { color: '#dc2626' } },
                      ],
                    }}
                  />
                )}
              </Card>
            </Col>
            <Col xs={24} lg={10}>
              <Card size="small" title={t('regulator.byPurpose')}>
                <Chart
                  label={t('regulator.byPurpose')}
                  option={{
                    tooltip: { trigger: 'item' },
                    legend: { bottom: 0, type: 'scroll' },
                    series: [{ type: 'pie', radius: ['40%', '68%'], center: ['50%', '44%'], label: { show: false }, data: [...purposes].map(([p, n]) => ({ name: t(`purposes.${p}`, { defaultValue: p }), value: n })) }],
                  }}
                />
              </Card>
            </Col>
            <Col xs={24}>
              <Card size="small" title={t('regulator.byInstitution')}>
                <Chart
                  label={t('regulator.byInstitution')}
                  height={Math.max(200, insts.size * 34)}
                  option={{
                    tooltip: { trigger: 'axis' },
                    legend: { bottom: 0 },
                    grid: { left: 150, right: 16, top: 8, bottom: 40 },
                    yAxis: { type: 'category', data: [...insts.keys()].map((i) => directory.institutionName(i)) },
                    xAxis: { type: 'value' },
                    series: [
                      { name: t('regulator.permitted'), type: 'bar', stack: 'a', data: [...insts.values()].map((c) => c.permit) },
                      { name: t('regulator.denied'), type: 'bar', stack: 'a', data: [...insts.values()].map((c) => c.deny) },
                    ],
                  }}
                />
              </Card>
            </Col>
          </Row>
        );
      }}
    </AsyncView>
  );
}

function AnomalyPanel() {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const state = useAsync(() => api.get<Anomalies>('/v1/oversight/anomalies'), []);
  if (state.error && unavailable(state.error)) return <Alert type="info" showIcon title={t('regulator.anomaliesUnavailable')} />;
  const who = (p: Person) => p.name ?? directory.personName(p.did) ?? (p.did ? `${p.did.slice(8, 20)}…` : '—');
  return (
    <AsyncView state={state}>
      {(a) => (
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={12}>
            <Card size="small" title={<span>{t('regulator.emergencyList')} <Tag color="red">{a.emergencies.length}</Tag></span>}>
              <Table
                size="small"
                rowKey="access"
                pagination={{ pageSize: 5, hideOnSinglePage: true }}
                scroll={{ x: true }}
                dataSource={a.emergencies}
                columns={[
                  { title: t('regulator.when'), render: (_: unknown, e) => fmt.dateTime(e.time) },
                  { title: t('regulator.who'), render: (_: unknown, e) => `${who(e.requester)} · ${directory.institutionName(e.institution)}` },
                  { title: t('regulator.reason'), dataIndex: 'reason' },
                  { title: t('regulator.decision'), render: (_: unknown, e) => <Tag color={e.decision === 'permit' ? 'red' : 'default'}>{t(`decisions.${e.decision}`)}</Tag> },
                ]}
              />
            </Card>
          </Col>
          <Col xs={24} lg={12}>
            <Card size="small" title={t('regulator.highVolume')}>
              {a.highVolumeReaders.length === 0 && a.denialBursts.length === 0 ? (
                <Empty description={t('regulator.noAnomalies')} />
              ) : (
                <Table
                  size="small"
                  rowKey={(r) => `${r.kind}-${r.day}-${r.who}`}
                  pagination={{ pageSize: 5, hideOnSinglePage: true }}
                  dataSource={[
                    ...a.highVolumeReaders.map((h) => ({ kind: 'volume', day: h.day, who: `${who(h.requester)} · ${directory.institutionName(h.institution)}`, what: t('regulator.readPatients', { count: h.patients, threshold: h.threshold }) })),
                    ...a.denialBursts.map((d) => ({ kind: 'denials', day: d.day, who: `${who(d.requester)} · ${directory.institutionName(d.institution)}`, what: t('regulator.denialBurst', { count: d.denials }) })),
                  ]}
                  columns={[
                    { title: t('regulator.day'), dataIndex: 'day' },
                    { title: t('regulator.who'), dataIndex: 'who' },
                    { title: t('regulator.finding'), dataIndex: 'what' },
                  ]}
                />
              )}
            </Card>
          </Col>
        </Row>
      )}
    </AsyncView>
  );
}

function DrugOversight() {
  const fmt = useFormat();
  const { t } = useTranslation();
  const directory = useDirectory();
  const { api } = useSignedIn();
  const state = useAsync(() => api.get<DrugReport>('/v1/drugs/reports/regulator'), []);
  return (
    <AsyncView state={state}>
      {(r) => {
        const findings = new Map<string, number>();
        for (const s of r.suspicious) findings.set(s.finding, (findings.get(s.finding) ?? 0) + 1);
        return (
          <Row gutter={[16, 16]}>
            <Col xs={24} lg={9}>
              <Card size="small" title={t('regulator.suspicious')}>
                {findings.size === 0 ? <Empty /> : (
                  <Chart
                    label={t('regulator.suspicious')}
                    option={{
                      tooltip: { trigger: 'item' },
                      legend: { bottom: 0 },
                      series: [{ type: 'pie', radius: ['40%', '68%'], center: ['50%', '44%'], label: { show: false }, data: [...findings].map(([f, n]) => ({ name: t(`verify.warnings.${f}`, { defaultValue: f }), value: n })) }],
                    }}
                  />
                )}
              </Card>
            </Col>
            <Col xs={24} lg={15}>
              <Card size="small" title={t('regulator.recalledStock')}>
                <Table
                  size="small"
                  rowKey={(x) => `${x.gtin}/${x.lot}`}
                  pagination={false}
                  scroll={{ x: true }}
                  dataSource={r.recalledInStock}
                  columns={[
                    { title: 'GTIN', dataIndex: 'gtin', render: (g: string) => <span className="mc-mono">{g}</span> },
                    { title: t('verify.lot'), dataIndex: 'lot' },
                    { title: t('regulator.reason'), dataIndex: 'reason' },
                    { title: t('regulator.holders'), render: (_: unknown, x) => Object.entries(x.holders).map(([h, n]) => <Tag key={h}>{directory.institutionName(h)}: {n}</Tag>) },
                  ]}
                />
              </Card>
            </Col>
            <Col xs={24}>
              <Card size="small" title={t('regulator.scanReports')}>
                <Table
                  size="small"
                  rowKey="id"
                  pagination={{ pageSize: 8, hideOnSinglePage: true }}
                  scroll={{ x: true }}
                  dataSource={[...r.suspicious].sort((a, b) => b.at - a.at)}
                  columns={[
                    { title: t('regulator.when'), dataIndex: 'at', render: (x: number) => fmt.dateTime(x) },
                    { title: t('regulator.finding'), dataIndex: 'finding', render: (f: string) => <Tag color="red">{t(`verify.warnings.${f}`, { defaultValue: f })}</Tag> },
                    { title: t('regulator.code'), dataIndex: 'code', render: (c: string) => <span className="mc-mono">{c}</span> },
                    { title: t('regulator.reportedBy'), dataIndex: 'reportedBy', render: (i: string) => directory.institutionName(i) },
                  ]}
                />
              </Card>
            </Col>
          </Row>
        );
      }}
    </AsyncView>
  );
}

/** The regulator's dashboard: consortium health, access statistics and anomalies, drug safety; no patient data. */
export default function RegulatorDashboard() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { profile } = useSignedIn();
  return (
    <>
      <PageTitle title={t('regulator.title')} sub={`${profile.name} · ${directory.institutionName(profile.institution)} · ${t('regulator.noPatientData')}`} />
      <div style={{ display: 'grid', gap: 16 }}>
        <ConsortiumHealth />
        <Typography.Title level={4} style={{ margin: '8px 0 0' }}>{t('regulator.accessTitle')}</Typography.Title>
        <AccessStatistics />
        <AnomalyPanel />
        <Typography.Title level={4} style={{ margin: '8px 0 0' }}>{t('regulator.drugsTitle')}</Typography.Title>
        <DrugOversight />
      </div>
    </>
  );
}
