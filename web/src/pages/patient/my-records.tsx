import { DownloadOutlined, PrinterOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Space } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AsyncView } from '../../components/async-view.js';
import { RecordsView } from '../../components/records-view.js';
import { splitBundle, type Bundle } from '../../lib/fhir-view.js';
import { useAsync } from '../../lib/use-async.js';
import { useSignedIn } from '../../session.js';

export function downloadJson(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/fhir+json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Everything held about me across institutions ($everything: each record read is logged like anyone's). */
export function MyRecords({ pid }: { pid: string }) {
  const { t } = useTranslation();
  const { api } = useSignedIn();
  const state = useAsync(() => api.get<Bundle>(`/fhir/R4/Patient/${pid}/$everything`), [pid]);
  const [printing, setPrinting] = useState(false);
  const print = () => {
    setPrinting(true);
    setTimeout(() => {
      window.print();
      setPrinting(false);
    }, 300);
  };
  return (
    <AsyncView state={state} rows={8}>
      {(bundle) => {
        const { records, refused } = splitBundle(bundle);
        return (
          <>
            <Space wrap className="mc-no-print" style={{ marginBottom: 16 }}>
              <Button icon={<DownloadOutlined />} onClick={() => downloadJson(`medchain-${pid}.fhir.json`, bundle)}>{t('patient.downloadBundle')}</Button>
              <Button icon={<PrinterOutlined />} onClick={print}>{t('patient.printSummary')}</Button>
              <Button icon={<ReloadOutlined />} onClick={state.reload} loading={state.loading}>{t('common.refresh')}</Button>
            </Space>
            {refused.length ? <Alert type="warning" showIcon title={t('patient.someRefused', { count: refused.length })} style={{ marginBottom: 12 }} /> : null}
            <RecordsView records={records} expandAll={printing} />
          </>
        );
      }}
    </AsyncView>
  );
}
