import { App as AntApp, ConfigProvider, Result, Spin } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { lazy, Suspense, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { ErrorAlert } from './components/async-view.js';
import { Shell } from './components/shell.js';
import { DirectoryProvider, useDirectoryState } from './directory.js';
import { LoginPage } from './pages/login.js';
import { SessionProvider, useSession, type Profile } from './session.js';

// Portals load on demand: a patient's phone does not download the regulator's charts.
const PatientPortal = lazy(() => import('./pages/patient/index.js'));
const ClinicianWorkspace = lazy(() => import('./pages/clinician/index.js'));
const PharmacyPortal = lazy(() => import('./pages/pharmacy.js'));
const RegulatorDashboard = lazy(() => import('./pages/regulator.js'));
const Explorer = lazy(() => import('./pages/explorer.js'));
const VerifyMedicinePage = lazy(() => import('./pages/verify-medicine.js'));

/** The portal a person lands on after signing in. */
export function homeOf(profile: Profile): string {
  if (profile.kind === 'patient' || profile.kind === 'proxy') return '/patient';
  const roles = profile.roles;
  if (roles.includes('regulator') || roles.includes('auditor')) return '/regulator';
  if (roles.includes('doctor') || roles.includes('nurse') || roles.includes('emergency')) return '/clinician';
  if (roles.includes('pharmacist')) return '/pharmacy';
  return '/explorer';
}

function RequireSession({ children }: { children: ReactNode }) {
  const { session } = useSession();
  const location = useLocation();
  if (!session) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

function Loading() {
  return (
    <div style={{ padding: 64, textAlign: 'center' }}>
      <Spin size="large" />
    </div>
  );
}

function Routed() {
  const { session } = useSession();
  const { directory, error, reload } = useDirectoryState();
  const { t } = useTranslation();
  if (error) {
    return (
      <div style={{ maxWidth: 560, margin: '64px auto', padding: 16 }}>
        <Result status="warning" title={t('app.nodeUnreachable')} extra={<ErrorAlert error={error} onRetry={reload} />} />
      </div>
    );
  }
  if (!directory) return <Loading />;
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<Shell />}>
        <Route path="/patient/*" element={<RequireSession><Suspense fallback={<Loading />}><PatientPortal /></Suspense></RequireSession>} />
        <Route path="/clinician/*" element={<RequireSession><Suspense fallback={<Loading />}><ClinicianWorkspace /></Suspense></RequireSession>} />
        <Route path="/pharmacy" element={<RequireSession><Suspense fallback={<Loading />}><PharmacyPortal /></Suspense></RequireSession>} />
        <Route path="/regulator" element={<RequireSession><Suspense fallback={<Loading />}><RegulatorDashboard /></Suspense></RequireSession>} />
        <Route path="/explorer" element={<Suspense fallback={<Loading />}><Explorer /></Suspense>} />
        <Route path="/verify" element={<Suspense fallback={<Loading />}><VerifyMedicinePage /></Suspense>} />
      </Route>
      <Route path="*" element={<Navigate to={session ? homeOf(session.profile) : '/login'} replace />} />
    </Routes>
  );
}

export function App() {
  const { i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  return (
    <ConfigProvider
      locale={english ? enUS : zhCN}
      theme={{ token: { colorPrimary: '#0f766e', borderRadius: 8, fontSize: 14 } }}
      button={{ autoInsertSpace: false }}
    >
      <AntApp>
        <SessionProvider>
          <DirectoryProvider>
            <Routed />
          </DirectoryProvider>
        </SessionProvider>
      </AntApp>
    </ConfigProvider>
  );
}
