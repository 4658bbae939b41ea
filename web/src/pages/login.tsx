import { KeyOutlined, TeamOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Select, Space, Tabs, Typography, Upload } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useLocation, useNavigate } from 'react-router-dom';
import { homeOf } from '../app.js';
import { ErrorAlert } from '../components/async-view.js';
import { LanguageSwitch } from '../components/shell.js';
import { useDirectory, type Directory } from '../directory.js';
import { openApi } from '../lib/api.js';
import { fromBase64Url } from '../lib/encoding.js';
import { BrowserIdentity, decryptKeyFile, KeyFileError, parseKeyFile } from '../lib/identity.js';
import { useSession, type Profile } from '../session.js';

interface KeyRecord {
  did: string;
  kind: string;
  subject: string;
  institution?: string;
  status: string;
}

/** Who a key is, from the ledger (the key registry and the staff list); a key the ledger does not know is refused. */
async function profileOf(identity: BrowserIdentity, directory: Directory, demo?: { handle: string; name: string; nameEn?: string }): Promise<Profile> {
  const key = await openApi.query<KeyRecord>('identity', 'resolveKey', { did: identity.did });
  const staff = directory.staff.find((s) => s.did === identity.did);
  return {
    did: identity.did,
    kind: key.kind,
    name: demo?.name ?? staff?.name ?? key.subject,
    ...(demo?.nameEn ? { nameEn: demo.nameEn } : {}),
    ...(key.kind === 'patient' ? { patientId: key.subject } : {}),
    ...(key.institution ? { institution: key.institution } : {}),
    roles: staff?.roles ?? (key.kind === 'admin' ? ['admin'] : []),
    ...(demo ? { demoHandle: demo.handle } : {}),
  };
}

function DemoSignIn({ onSignedIn }: { onSignedIn(identity: BrowserIdentity, profile: Profile): void }) {
  const { t, i18n } = useTranslation();
  const directory = useDirectory();
  const demo = directory.demo!;
  const [handle, setHandle] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const english = i18n.language.startsWith('en');
  const byInstitution = demo.institutions.map((inst) => ({
    label: english ? inst.nameEn : inst.name,
    title: inst.id,
    options: demo.staff
      .filter((s) => s.institution === inst.id)
      .map((s) => ({ value: s.handle, label: `${s.name} · ${s.roles.map((r) => t(`roles.${r}`)).join('、')} · ${english ? inst.nameEn : inst.name}` })),
  }));
  const options = [
    {
      label: t('login.patients'),
      title: 'patients',
      options: demo.patients.map((p) => ({
        value: p.handle,
        label: `${english ? p.nameEn : p.name} · ${t(`gender.${p.gender}`)} · ${p.birthDate.slice(0, 4)} · ${directory.institutionName(p.institutions[0])}`,
      })),
    },
    ...byInstitution.filter((g) => g.options.length > 0),
  ];
  const signIn = async () => {
    if (!handle) return;
    setBusy(true);
    setError(undefined);
    try {
      const key = await openApi.get<{ did: string; signingSeed: string }>(`/v1/demo/keys/${encodeURIComponent(handle)}`);
      const identity = new BrowserIdentity(fromBase64Url(key.signingSeed));
      const person = demo.patients.find((p) => p.handle === handle) ?? demo.staff.find((s) => s.handle === handle);
      onSignedIn(identity, await profileOf(identity, directory, { handle, name: person?.name ?? handle, ...(person && 'nameEn' in person ? { nameEn: person.nameEn } : {}) }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form layout="vertical" onFinish={signIn}>
      <Alert type="info" showIcon title={t('login.demoNotice')} style={{ marginBottom: 16 }} />
      <Form.Item label={t('login.choosePerson')} htmlFor="demo-person" required>
        <Select
          id="demo-person"
          showSearch={{ optionFilterProp: 'label' }}
          placeholder={t('login.choosePlaceholder')}
          options={options}
          value={handle}
          onChange={setHandle}
          aria-label={t('login.choosePerson')}
        />
      </Form.Item>
      {error ? <div style={{ marginBottom: 16 }}><ErrorAlert error={error} /></div> : null}
      <Button type="primary" htmlType="submit" block size="large" loading={busy} disabled={!handle}>
        {t('app.signIn')}
      </Button>
    </Form>
  );
}

function KeyFileSignIn({ onSignedIn }: { onSignedIn(identity: BrowserIdentity, profile: Profile): void }) {
  const { t } = useTranslation();
  const directory = useDirectory();
  const [fileText, setFileText] = useState<string>();
  const [fileName, setFileName] = useState<string>();
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | unknown>();
  const signIn = async () => {
    if (!fileText) return;
    setBusy(true);
    setError(undefined);
    try {
      const identity = await decryptKeyFile(parseKeyFile(fileText), passphrase);
      onSignedIn(identity, await profileOf(identity, directory));
    } catch (err) {
      setError(err instanceof KeyFileError ? t(`login.${err.code}`) : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Form layout="vertical" onFinish={signIn}>
      <Typography.Paragraph type="secondary">{t('login.keyFileHelp')}</Typography.Paragraph>
      <Form.Item label={t('login.keyFile')} required>
        <Upload
          accept=".json,application/json"
          maxCount={1}
          showUploadList={false}
          beforeUpload={(file) => {
            void file.text().then((text) => {
              setFileText(text);
              setFileName(file.name);
            });
            return false;
          }}
        >
          <Button icon={<KeyOutlined />}>{fileName ?? t('login.chooseFile')}</Button>
        </Upload>
      </Form.Item>
      <Form.Item label={t('login.passphrase')} htmlFor="passphrase" required>
        <Input.Password id="passphrase" autoComplete="current-password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} />
      </Form.Item>
      {error ? <div style={{ marginBottom: 16 }}>{typeof error === 'string' ? <Alert type="error" showIcon role="alert" title={error} /> : <ErrorAlert error={error} />}</div> : null}
      <Button type="primary" htmlType="submit" block size="large" loading={busy} disabled={!fileText || !passphrase}>
        {busy ? t('login.decrypting') : t('app.signIn')}
      </Button>
    </Form>
  );
}

export function LoginPage() {
  const { t } = useTranslation();
  const directory = useDirectory();
  const { signIn, expired } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  const done = (identity: BrowserIdentity, profile: Profile) => {
    signIn(identity, profile, directory.chain);
    navigate(from && from !== '/login' ? from : homeOf(profile), { replace: true });
  };
  const tabs = [
    ...(directory.demo ? [{ key: 'demo', label: <span><TeamOutlined /> {t('login.demoTab')}</span>, children: <DemoSignIn onSignedIn={done} /> }] : []),
    { key: 'key', label: <span><KeyOutlined /> {t('login.keyTab')}</span>, children: <KeyFileSignIn onSignedIn={done} /> },
  ];
  return (
    <main className="mc-login">
      <Card className="mc-login-card" styles={{ body: { padding: 28 } }}>
        <Space style={{ width: '100%', justifyContent: 'space-between', marginBottom: 8 }} align="center" wrap>
          <Space align="center">
            <img src="/favicon.svg" width={36} height={36} alt="" />
            <div>
              <Typography.Title level={3} style={{ margin: 0 }}>{t('app.name')}</Typography.Title>
              <Typography.Text type="secondary">{directory.consortium}</Typography.Text>
            </div>
          </Space>
          <LanguageSwitch light />
        </Space>
        <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>{t('login.tagline')}</Typography.Paragraph>
        {expired ? <Alert type="warning" showIcon title={t('app.sessionExpired')} style={{ marginBottom: 12 }} /> : null}
        <Tabs items={tabs} />
        <Space wrap style={{ marginTop: 8 }}>
          <Button type="link" onClick={() => navigate('/verify')}>{t('nav.verify')}</Button>
          <Button type="link" onClick={() => navigate('/explorer')}>{t('nav.explorer')}</Button>
        </Space>
      </Card>
    </main>
  );
}
