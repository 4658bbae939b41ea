import { LogoutOutlined, UserOutlined } from '@ant-design/icons';
import { Alert, Button, Dropdown, Layout, Menu, Segmented, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { useDirectory } from '../directory.js';
import { ErrorBoundary } from './error-boundary.js';
import { useSession } from '../session.js';

export function LanguageSwitch({ light }: { light?: boolean }) {
  const { i18n, t } = useTranslation();
  return (
    <Segmented
      size="small"
      aria-label={t('app.language')}
      value={i18n.language.startsWith('en') ? 'en' : 'zh-CN'}
      onChange={(v) => void i18n.changeLanguage(String(v))}
      options={[
        { label: '中文', value: 'zh-CN' },
        { label: 'EN', value: 'en' },
      ]}
      style={light ? undefined : { background: 'rgba(255,255,255,.85)' }}
    />
  );
}

function useMinutesLeft(expiresAt: number | undefined): number | undefined {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  return expiresAt === undefined ? undefined : Math.max(0, Math.ceil((expiresAt - now) / 60_000));
}

/** Header, navigation for the signed-in person's portals, and the page below. */
export function Shell() {
  const { t } = useTranslation();
  const { session, signOut, expired } = useSession();
  const directory = useDirectory();
  const location = useLocation();
  const navigate = useNavigate();
  const minutesLeft = useMinutesLeft(session?.expiresAt);
  const profile = session?.profile;
  const roles = profile?.roles ?? [];
  const items = [
    ...(profile?.kind === 'patient' || profile?.kind === 'proxy' ? [{ key: '/patient', label: <Link to="/patient">{t('nav.patient')}</Link> }] : []),
    ...(roles.some((r) => ['doctor', 'nurse', 'emergency'].includes(r)) ? [{ key: '/clinician', label: <Link to="/clinician">{t('nav.clinician')}</Link> }] : []),
    ...(roles.includes('pharmacist') ? [{ key: '/pharmacy', label: <Link to="/pharmacy">{t('nav.pharmacy')}</Link> }] : []),
    ...(roles.includes('regulator') || roles.includes('auditor') ? [{ key: '/regulator', label: <Link to="/regulator">{t('nav.regulator')}</Link> }] : []),
    { key: '/verify', label: <Link to="/verify">{t('nav.verify')}</Link> },
    { key: '/explorer', label: <Link to="/explorer">{t('nav.explorer')}</Link> },
  ];
  const selected = items.map((i) => i.key).filter((k) => location.pathname.startsWith(k));
  const { i18n } = useTranslation();
  const name = profile ? (i18n.language.startsWith('en') && profile.nameEn ? profile.nameEn : profile.name) : '';
  const who = profile ? `${name}${profile.institution ? ` · ${directory.institutionName(profile.institution)}` : ''}` : '';
  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header className="mc-header">
        <Link to="/" className="mc-brand" aria-label={t('app.name')}>
          <img src="/favicon.svg" width={26} height={26} alt="" />
          <span>{t('app.name')}</span>
          <small>{directory.consortium}</small>
        </Link>
        <Menu theme="dark" mode="horizontal" selectedKeys={selected} items={items} aria-label={t('app.navigation')} />
        <div className="mc-header-right">
          <LanguageSwitch />
          {profile ? (
            <Dropdown
              menu={{
                items: [
                  { key: 'who', label: <div><div>{who}</div><Typography.Text type="secondary">{t('app.sessionLeft', { minutes: minutesLeft })}</Typography.Text></div>, disabled: true },
                  { type: 'divider' },
                  { key: 'out', icon: <LogoutOutlined />, label: t('app.signOut'), onClick: () => { signOut(); navigate('/login'); } },
                ],
              }}
            >
              <Button type="text" icon={<UserOutlined />} style={{ color: '#fff' }} aria-label={t('app.account')}>
                <span className="mc-hide-sm">{name}</span>
              </Button>
            </Dropdown>
          ) : (
            <Button size="small" onClick={() => navigate('/login')}>{t('app.signIn')}</Button>
          )}
        </div>
      </Layout.Header>
      <Layout.Content className="mc-content">
        {expired && !session ? <Alert type="warning" showIcon title={t('app.sessionExpired')} style={{ marginBottom: 16 }} /> : null}
        <ErrorBoundary resetKey={location.pathname}>
          <Outlet />
        </ErrorBoundary>
      </Layout.Content>
      <Layout.Footer className="mc-footer">{t('app.footer')}</Layout.Footer>
    </Layout>
  );
}

export function PageTitle({ title, sub }: { title: string; sub?: string }) {
  return (
    <>
      <Typography.Title level={3} className="mc-page-title">{title}</Typography.Title>
      {sub ? <div className="mc-page-sub">{sub}</div> : null}
    </>
  );
}
