import { CameraOutlined, SafetyCertificateOutlined, WarningOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Descriptions, Input, Result, Space, Tag, Timeline, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../components/async-view.js';
import { PageTitle } from '../components/shell.js';
import { openApi } from '../lib/api.js';

export interface Verification {
  code: string;
  found: boolean;
  verdict: 'ok' | 'warning' | 'danger' | string;
  warnings: Array<{ code: string; message: string } | string>;
  product?: { name: string; nameEn?: string; approvalNumber?: string; strength?: string; maker?: string };
  batch?: { lot: string; manufactured?: string; expires?: string };
  status?: string;
  holder?: string;
  custody?: Array<{ bizStep: string; time: string; institution?: string; to?: string; txId: string; height: number }>;
  cn?: string;
}

/** Reads QR codes from the camera with jsQR (a pure-JS decoder: works in every browser with getUserMedia). */
export function CameraScanner({ onCode, onClose }: { onCode(code: string): void; onClose(): void }) {
  const { t } = useTranslation();
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string>();
  useEffect(() => {
    let stream: MediaStream | undefined;
    let frame = 0;
    let stopped = false;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    void (async () => {
      try {
        const { default: jsQR } = await import('jsqr');
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        if (stopped || !video.current) return;
        video.current.srcObject = stream;
        await video.current.play();
        const tick = () => {
          const v = video.current;
          if (stopped || !v || !ctx) return;
          if (v.videoWidth) {
            canvas.width = v.videoWidth;
            canvas.height = v.videoHeight;
            ctx.drawImage(v, 0, 0);
            const found = jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
            if (found?.data) {
              onCode(found.data);
              return;
            }
          }
          frame = requestAnimationFrame(tick);
        };
        tick();
      } catch {
        setError(t('verify.cameraError'));
      }
    })();
    return () => {
      stopped = true;
      cancelAnimationFrame(frame);
      stream?.getTracks().forEach((track) => track.stop());
    };
  }, [onCode, t]);
  return (
    <Space orientation="vertical" style={{ width: '100%' }}>
      {error ? <Alert type="warning" showIcon title={error} /> : <video ref={video} className="mc-scan-video" muted playsInline aria-label={t('verify.cameraView')} />}
      <Button onClick={onClose}>{t('verify.stopCamera')}</Button>
    </Space>
  );
}

export function VerificationResult({ v }: { v: Verification }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  if (!v.found) return <Result status="error" title={t('verify.notFound')} subTitle={t('verify.notFoundHelp')} />;
  const ok = v.verdict === 'ok';
  const warnings = v.warnings.map((w) => (typeof w === 'string' ? { code: w, message: w } : w));
  return (
    <Card data-testid="verify-result">
      <Result
        style={{ padding: '8px 0' }}
        status={ok ? 'success' : v.verdict === 'danger' ? 'error' : 'warning'}
        icon={ok ? <SafetyCertificateOutlined /> : <WarningOutlined />}
        title={ok ? t('verify.genuine') : t(`verify.verdicts.${v.verdict}`, { defaultValue: v.verdict })}
        subTitle={english ? v.product?.nameEn ?? v.product?.name : v.product?.name}
      />
      {warnings.length ? (
        <Space orientation="vertical" style={{ width: '100%', marginBottom: 12 }}>
          {warnings.map((w) => (
            <Alert key={w.code} type="warning" showIcon title={t(`verify.warnings.${w.code}`, { defaultValue: w.message })} />
          ))}
        </Space>
      ) : null}
      <Descriptions size="small" column={{ xs: 1, sm: 2 }} bordered>
        <Descriptions.Item label={t('verify.product')}>{english ? v.product?.nameEn ?? v.product?.name : v.product?.name} {v.product?.strength}</Descriptions.Item>
        <Descriptions.Item label={t('verify.approval')}>{v.product?.approvalNumber}</Descriptions.Item>
        <Descriptions.Item label={t('verify.maker')}>{v.product?.maker}</Descriptions.Item>
        <Descriptions.Item label={t('verify.lot')}>{v.batch?.lot}</Descriptions.Item>
        <Descriptions.Item label={t('verify.expires')}>{v.batch?.expires}</Descriptions.Item>
        <Descriptions.Item label={t('verify.status')}><Tag>{t(`packStatus.${v.status}`, { defaultValue: v.status ?? '—' })}</Tag></Descriptions.Item>
        <Descriptions.Item label={t('verify.holder')}>{v.holder ?? '—'}</Descriptions.Item>
        <Descriptions.Item label={t('verify.traceCode')}><span className="mc-mono">{v.cn ?? '—'}</span></Descriptions.Item>
      </Descriptions>
      {v.custody?.length ? (
        <>
          <Typography.Title level={5} style={{ marginTop: 16 }}>{t('verify.custody')}</Typography.Title>
          <Timeline
            items={v.custody.map((c) => ({
              key: c.txId,
              children: (
                <span>
                  <strong>{t(`bizSteps.${c.bizStep}`, { defaultValue: c.bizStep })}</strong> · {c.institution}
                  {c.to ? ` → ${c.to}` : ''} <Typography.Text type="secondary">{c.time.slice(0, 16).replace('T', ' ')}</Typography.Text>
                </span>
              ),
            }))}
          />
        </>
      ) : null}
    </Card>
  );
}

/** Verify a medicine: type the code or scan the pack's QR code; anyone may ask (no sign-in). */
export function VerifyMedicine() {
  const { t, i18n } = useTranslation();
  const [code, setCode] = useState('');
  const [scanning, setScanning] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Verification>();
  const [error, setError] = useState<unknown>();
  const verify = async (value: string) => {
    const c = value.trim();
    if (!c) return;
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await openApi.get<Verification>(`/v1/drugs/verify?code=${encodeURIComponent(c)}&lang=${i18n.language.startsWith('en') ? 'en' : 'zh'}`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Space orientation="vertical" style={{ width: '100%' }} size="middle">
      <Card size="small">
        <Typography.Paragraph type="secondary">{t('verify.help')}</Typography.Paragraph>
        <label htmlFor="verify-code" style={{ display: 'block', marginBottom: 6 }}>{t('verify.codeLabel')}</label>
        <Space.Compact style={{ width: '100%' }}>
          <Input id="verify-code" value={code} onChange={(e) => setCode(e.target.value)} onPressEnter={() => verify(code)} placeholder={t('verify.placeholder')} allowClear />
          <Button type="primary" onClick={() => verify(code)} loading={busy}>{t('verify.verify')}</Button>
        </Space.Compact>
        <div style={{ marginTop: 12 }}>
          {scanning ? (
            <CameraScanner
              onCode={(c) => {
                setScanning(false);
                setCode(c);
                void verify(c);
              }}
              onClose={() => setScanning(false)}
            />
          ) : (
            <Button icon={<CameraOutlined />} onClick={() => setScanning(true)}>{t('verify.scan')}</Button>
          )}
        </div>
      </Card>
      {error ? <ErrorAlert error={error} /> : null}
      {result ? <VerificationResult v={result} /> : null}
    </Space>
  );
}

export default function VerifyMedicinePage() {
  const { t } = useTranslation();
  return (
    <>
      <PageTitle title={t('verify.title')} sub={t('verify.sub')} />
      <VerifyMedicine />
    </>
  );
}
