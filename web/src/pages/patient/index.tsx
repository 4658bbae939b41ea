import { Tabs } from 'antd';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router-dom';
import { PageTitle } from '../../components/shell.js';
import { useSignedIn } from '../../session.js';
import { VerifyMedicine } from '../verify-medicine.js';
import { AccessLog } from './access-log.js';
import { Consents } from './consents.js';
import { MyRecords } from './my-records.js';
import { Requests } from './requests.js';

/** The patient portal: records, consents, who accessed, corrections and erasure, medicine verification. */
export default function PatientPortal() {
  const { t, i18n } = useTranslation();
  const { profile } = useSignedIn();
  const navigate = useNavigate();
  const tab = useParams()['*'] || 'records';
  const pid = profile.patientId!;
  const name = i18n.language.startsWith('en') && profile.nameEn ? profile.nameEn : profile.name;
  return (
    <>
      <PageTitle title={t('patient.title', { name })} sub={t('patient.sub', { pid })} />
      <Tabs
        activeKey={tab}
        onChange={(key) => navigate(`/patient/${key}`)}
        items={[
          { key: 'records', label: t('patient.tabs.records'), children: <MyRecords pid={pid} /> },
          { key: 'consents', label: t('patient.tabs.consents'), children: <Consents pid={pid} /> },
          { key: 'access', label: t('patient.tabs.access'), children: <AccessLog pid={pid} /> },
          { key: 'requests', label: t('patient.tabs.requests'), children: <Requests pid={pid} /> },
          { key: 'verify', label: t('patient.tabs.verify'), children: <VerifyMedicine /> },
        ]}
        destroyOnHidden
      />
    </>
  );
}
