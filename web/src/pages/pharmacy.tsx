import { CameraOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Form, Input, Modal, Row, Space, Table, Tabs, Tag } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AsyncView, ErrorAlert } from '../components/async-view.js';
import { PageTitle } from '../components/shell.js';
import { useDirectory } from '../directory.js';
import { openApi } from '../lib/api.js';
import { useAsync } from '../lib/use-async.js';
import { useSignedIn } from '../session.js';
import { CameraScanner, VerificationResult, type Verification } from './verify-medicine.js';

const RESOLVER = 'https://id.gs1.org';

/** An EPCIS event at this moment, in China Standard Time as the consortium records them. */
function epcisEvent(bizStep: string, epcList: string[]): Record<string, unknown> {
  const eventTime = new Date(Date.now() + 8 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
  return { type: 'ObjectEvent', eventTime, eventTimeZoneOffset: '+08:00', action: 'OBSERVE', bizStep, epcList };
}

/** The EPC (canonical Digital Link) of a scanned code: an 18-digit SSCC for a case, else a pack found by the node. */
async function epcOf(code: string): Promise<string> {
  const c = code.trim();
  const sscc = /^(?:\(00\))?(\d{18})$/.exec(c) ?? /\/00\/(\d{18})$/.exec(c);
  if (sscc) return `${RESOLVER}/00/${sscc[1]}`;
  const v = await openApi.get<Verification>(`/v1/drugs/verify?code=${encodeURIComponent(c)}`);
  const m = /^sgtin:(\d{14})\.(.+)$/.exec(v.code);
  if (!v.found || !m) throw new Error(c);
  return `${RESOLVER}/01/${m[1]}/21/${m[2]}`;
}

function ScanInput({ id, label, value, onChange, onEnter }: { id: string; label: string; value: string; onChange(v: string): void; onEnter(): void }) {
  const { t } = useTranslation();
  const [scanning, setScanning] = useState(false);
  return (
    <>
      <label htmlFor={id} style={{ display: 'block', marginBottom: 6 }}>{label}</label>
      <Space.Compact style={{ width: '100%' }}>
        <Input id={id} value={value} onChange={(e) => onChange(e.target.value)} onPressEnter={onEnter} placeholder={t('verify.placeholder')} />
        <Button icon={<CameraOutlined />} onClick={() => setScanning(true)} aria-label={t('verify.scan')} />
      </Space.Compact>
      <Modal open={scanning} footer={null} onCancel={() => setScanning(false)} title={t('verify.scan')} destroyOnHidden>
        <CameraScanner onCode={(c) => { setScanning(false); onChange(c); }} onClose={() => setScanning(false)} />
      </Modal>
    </>
  );
}

function Dispense() {
  const { t } = useTranslation();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const [code, setCode] = useState('');
  const [checked, setChecked] = useState<Verification>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setError(undefined);
    setChecked(undefined);
    try {
      setChecked(await openApi.get<Verification>(`/v1/drugs/verify?code=${encodeURIComponent(code.trim())}`));
    } catch (err) {
      setError(err);
    }
  };
  const dispense = async (v: { patientId: string; prescription: string }) => {
    if (!checked) return;
    setBusy(true);
    setError(undefined);
    try {
      const epc = await epcOf(code);
      const receipt = await api.submit<{ result: { status: string } }>('drugs', 'capture', {
        event: epcisEvent('dispensing', [epc]),
        dispense: { patientId: v.patientId.trim(), prescription: v.prescription.trim() },
      });
      if (receipt.result.status === 'ok') message.success(t('pharmacy.dispensed'));
      setChecked(undefined);
      setCode('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const blocked = checked && (checked.verdict === 'danger' || !checked.found);
  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={10}>
        <Card size="small" title={t('pharmacy.dispenseTitle')}>
          <Alert type="info" showIcon title={t('pharmacy.dispenseHelp')} style={{ marginBottom: 12 }} />
          <ScanInput id="dispense-code" label={t('pharmacy.scanPack')} value={code} onChange={setCode} onEnter={check} />
          <Button style={{ marginTop: 8 }} onClick={check} disabled={!code.trim()}>{t('pharmacy.check')}</Button>
          {checked ? (
            <Form layout="vertical" style={{ marginTop: 16 }} onFinish={dispense}>
              {blocked ? <Alert type="error" showIcon title={t('pharmacy.doNotDispense')} style={{ marginBottom: 12 }} /> : null}
              <Form.Item name="patientId" label={t('pharmacy.patientId')} rules={[{ required: true, pattern: /^P[A-Z2-7]{26}$/, message: t('clinician.badId') }]}>
                <Input className="mc-mono" />
              </Form.Item>
              <Form.Item name="prescription" label={t('pharmacy.prescription')} rules={[{ required: true, message: t('consent.required') }]}>
                <Input placeholder="rx-1-0" />
              </Form.Item>
              <Button type="primary" htmlType="submit" loading={busy} disabled={!!blocked}>{t('pharmacy.dispense')}</Button>
            </Form>
          ) : null}
          {error ? <div style={{ marginTop: 12 }}><ErrorAlert error={error} /></div> : null}
        </Card>
      </Col>
      <Col xs={24} lg={14}>{checked ? <VerificationResult v={checked} /> : <Stock />}</Col>
    </Row>
  );
}

function Receive() {
  const { t } = useTranslation();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const add = () => {
    const c = code.trim();
    if (c && !codes.includes(c)) setCodes([...codes, c]);
    setCode('');
  };
  const receive = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const epcs = await Promise.all(codes.map(epcOf));
      const receipt = await api.submit<{ result: { status: string } }>('drugs', 'capture', { event: epcisEvent('receiving', epcs) });
      if (receipt.result.status === 'ok') message.success(t('pharmacy.received', { count: epcs.length }));
      setCodes([]);
    } catch (err) {
      setError(err instanceof Error && !('code' in err) ? new Error(t('pharmacy.unknownCode', { code: err.message })) : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card size="small" title={t('pharmacy.receiveTitle')}>
      <Alert type="info" showIcon title={t('pharmacy.receiveHelp')} style={{ marginBottom: 12 }} />
      <ScanInput id="receive-code" label={t('pharmacy.scanCase')} value={code} onChange={setCode} onEnter={add} />
      <Button style={{ marginTop: 8 }} onClick={add} disabled={!code.trim()}>{t('pharmacy.add')}</Button>
      <div style={{ margin: '12px 0' }}>
        {codes.map((c) => <Tag key={c} closable onClose={() => setCodes(codes.filter((x) => x !== c))} className="mc-mono">{c}</Tag>)}
      </div>
      {error ? <div style={{ marginBottom: 12 }}>{error instanceof Error && !('status' in error) ? <Alert type="error" showIcon title={error.message} /> : <ErrorAlert error={error} />}</div> : null}
      <Button type="primary" onClick={receive} loading={busy} disabled={codes.length === 0}>{t('pharmacy.confirmReceipt', { count: codes.length })}</Button>
    </Card>
  );
}

interface StockRow {
  gtin: string;
  lot: string;
  name?: string;
  nameEn?: string;
  strength?: string;
  active: number;
  inTransit: number;
  nonconformant: number;
  expires?: string;
  expired?: boolean;
  expiringSoon?: boolean;
  recalled?: boolean;
  [k: string]: unknown;
}

function Stock() {
  const { t, i18n } = useTranslation();
  const { api, profile } = useSignedIn();
  const state = useAsync(async () => {
    const [stock, products] = await Promise.all([
      api.get<StockRow[]>(`/v1/drugs/inventory?holder=${profile.institution}&expiringWithinDays=90`),
      openApi.query<Array<{ gtin: string; name: string; nameEn?: string; strength?: string }>>('drugs', 'products'),
    ]);
    const byGtin = new Map(products.map((p) => [p.gtin, p]));
    return stock.map((r) => ({ ...r, name: byGtin.get(r.gtin)?.name, nameEn: byGtin.get(r.gtin)?.nameEn, strength: byGtin.get(r.gtin)?.strength }));
  }, [profile.institution]);
  const english = i18n.language.startsWith('en');
  return (
    <Card size="small" title={t('pharmacy.stockTitle')} extra={<Button size="small" onClick={state.reload}>{t('common.refresh')}</Button>}>
      <AsyncView state={state}>
        {(data) => (
          <Table
            size="small"
            rowKey={(r) => `${r.gtin}/${r.lot}`}
            pagination={false}
            scroll={{ x: true }}
            dataSource={data}
            columns={[
              { title: t('verify.product'), render: (_: unknown, r: StockRow) => <span>{(english ? r.nameEn ?? r.name : r.name) ?? r.gtin} <span style={{ color: '#64748b', fontSize: 12 }}>{r.strength}</span></span> },
              { title: t('verify.lot'), dataIndex: 'lot' },
              { title: t('pharmacy.count'), render: (_: unknown, r: StockRow) => r.active },
              { title: t('pharmacy.inTransit'), render: (_: unknown, r: StockRow) => r.inTransit },
              { title: t('verify.expires'), dataIndex: 'expires' },
              {
                title: t('pharmacy.flags'),
                render: (_: unknown, r: StockRow) => (
                  <Space size={4} wrap>
                    {r.recalled ? <Tag color="red">{t('verify.warnings.recalled')}</Tag> : null}
                    {r.expired ? <Tag color="red">{t('verify.warnings.expired')}</Tag> : null}
                    {r.expiringSoon ? <Tag color="orange">{t('pharmacy.expiringSoon')}</Tag> : null}
                    {r.nonconformant ? <Tag color="orange">{t('pharmacy.nonconformant', { count: r.nonconformant })}</Tag> : null}
                  </Space>
                ),
              },
            ]}
          />
        )}
      </AsyncView>
    </Card>
  );
}

/** The pharmacy counter: dispense by scanning (with warnings), receive shipments, stock. */
export default function PharmacyPortal() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { profile } = useSignedIn();
  return (
    <>
      <PageTitle title={t('pharmacy.title')} sub={`${profile.name} · ${directory.institutionName(profile.institution)}`} />
      <Tabs
        items={[
          { key: 'dispense', label: t('pharmacy.tabDispense'), children: <Dispense /> },
          { key: 'receive', label: t('pharmacy.tabReceive'), children: <Receive /> },
          { key: 'stock', label: t('pharmacy.tabStock'), children: <Stock /> },
        ]}
      />
    </>
  );
}
