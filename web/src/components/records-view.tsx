import { EyeInvisibleOutlined } from '@ant-design/icons';
import { Card, Collapse, Descriptions, Empty, List, Table, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { dateOf, detailOf, encounterOf, groupOf, labValueOf, titleOf, withheldOf, type Resource } from '../lib/fhir-view.js';

const GROUP_ORDER = ['diagnoses', 'labs', 'vitals', 'prescriptions', 'reports', 'imaging', 'procedures', 'allergies', 'immunizations', 'documents', 'demographics', 'other'];

function Withheld({ r }: { r: Resource }) {
  const { t } = useTranslation();
  const fields = withheldOf(r);
  if (fields.length === 0) return null;
  return (
    <div style={{ marginTop: 4 }}>
      {fields.map((f) => (
        <Tag key={f} icon={<EyeInvisibleOutlined />} color="orange" data-testid="withheld-field">
          {t('records.withheld', { field: t(`fields.${f}`, { defaultValue: f }) })}
        </Tag>
      ))}
    </div>
  );
}

const FLAG_COLOR: Record<string, string> = { H: 'red', HH: 'red', L: 'blue', LL: 'blue', A: 'orange', N: 'green' };

function LabTable({ items }: { items: Resource[] }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  return (
    <Table
      size="small"
      pagination={false}
      rowKey="id"
      dataSource={items}
      scroll={{ x: true }}
      columns={[
        { title: t('records.test'), render: (_: unknown, r: Resource) => <>{titleOf(r, english)}<Withheld r={r} /></> },
        { title: t('records.result'), render: (_: unknown, r: Resource) => <strong>{labValueOf(r).value ?? '—'}</strong> },
        { title: t('records.range'), render: (_: unknown, r: Resource) => labValueOf(r).range ?? '—' },
        {
          title: t('records.flag'),
          render: (_: unknown, r: Resource) => {
            const flag = labValueOf(r).flag;
            return flag ? <Tag color={FLAG_COLOR[flag] ?? 'default'}>{t(`flags.${flag}`, { defaultValue: flag })}</Tag> : null;
          },
        },
        { title: t('records.date'), render: (_: unknown, r: Resource) => dateOf(r) ?? '—' },
      ]}
    />
  );
}

function Demographics({ r }: { r: Resource }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  const withheld = withheldOf(r);
  const hidden = (field: string, value: string | undefined) =>
    withheld.includes(field) ? <Tag icon={<EyeInvisibleOutlined />} color="orange">{t('records.hiddenValue')}</Tag> : (value ?? '—');
  const address = hidden('Patient.address', (r['address'] as Array<{ text?: string }> | undefined)?.[0]?.text);
  const phone = hidden('Patient.telecom', (r['telecom'] as Array<{ value?: string }> | undefined)?.[0]?.value);
  return (
    <>
      <Descriptions size="small" column={{ xs: 1, sm: 2 }}>
        <Descriptions.Item label={t('records.name')}>{titleOf(r, english)}</Descriptions.Item>
        <Descriptions.Item label={t('records.gender')}>{t(`gender.${String(r['gender'])}`, { defaultValue: String(r['gender'] ?? '—') })}</Descriptions.Item>
        <Descriptions.Item label={t('records.birthDate')}>{String(r['birthDate'] ?? '—')}</Descriptions.Item>
        <Descriptions.Item label={t('records.address')}>{address}</Descriptions.Item>
        <Descriptions.Item label={t('records.phone')}>{phone}</Descriptions.Item>
        <Descriptions.Item label={t('records.registeredAt')}>{(r['managingOrganization'] as { display?: string } | undefined)?.display ?? '—'}</Descriptions.Item>
      </Descriptions>
      <Withheld r={r} />
    </>
  );
}

function GroupList({ group, items }: { group: string; items: Resource[] }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  if (group === 'labs' || group === 'vitals') return <LabTable items={items} />;
  if (group === 'demographics') return <>{items.map((r, i) => <div key={r.id} style={i ? { borderTop: '1px dashed #e2e8f0', paddingTop: 8, marginTop: 8 } : undefined}><Demographics r={r} /></div>)}</>;
  return (
    <List
      size="small"
      dataSource={items}
      renderItem={(r) => (
        <List.Item key={r.id}>
          <List.Item.Meta
            title={<span>{titleOf(r, english)} <Typography.Text type="secondary" style={{ fontWeight: 400, fontSize: 12 }}>{dateOf(r)}</Typography.Text></span>}
            description={<>{detailOf(r, english)}<Withheld r={r} /></>}
          />
        </List.Item>
      )}
    />
  );
}

function Grouped({ items }: { items: Resource[] }) {
  const { t } = useTranslation();
  const groups = new Map<string, Resource[]>();
  for (const r of items) groups.set(groupOf(r), [...(groups.get(groupOf(r)) ?? []), r]);
  return (
    <>
      {GROUP_ORDER.filter((g) => groups.has(g)).map((g) => (
        <div key={g} style={{ marginBottom: 12 }}>
          <Typography.Text strong>{t(`groups.${g}`)}</Typography.Text>
          <GroupList group={g} items={groups.get(g)!} />
        </div>
      ))}
    </>
  );
}

/** A person's records, readable: one panel per encounter (newest first), records grouped by type inside. */
export function RecordsView({ records, expandAll = false }: { records: Resource[]; expandAll?: boolean }) {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  if (records.length === 0) return <Empty description={t('records.none')} />;
  const encounters = records.filter((r) => r.resourceType === 'Encounter').sort((a, b) => (dateOf(b) ?? '').localeCompare(dateOf(a) ?? ''));
  const encounterIds = new Set(encounters.map((e) => e.id));
  const inEncounter = new Map<string, Resource[]>();
  const loose: Resource[] = [];
  for (const r of records) {
    if (r.resourceType === 'Encounter') continue;
    const e = encounterOf(r);
    if (e && encounterIds.has(e)) inEncounter.set(e, [...(inEncounter.get(e) ?? []), r]);
    else loose.push(r);
  }
  const panels = encounters.map((e) => ({
    key: e.id,
    label: (
      <span>
        <strong>{dateOf(e)}</strong> · {titleOf(e, english)}{' '}
        <Typography.Text type="secondary">{detailOf(e, english)}</Typography.Text>
      </span>
    ),
    extra: <Tag>{t('records.items', { count: inEncounter.get(e.id)?.length ?? 0 })}</Tag>,
    children: <Grouped items={inEncounter.get(e.id) ?? []} />,
  }));
  return (
    <>
      {panels.length ? (
        <Collapse items={panels} defaultActiveKey={expandAll ? panels.map((p) => p.key) : panels.slice(0, 1).map((p) => p.key)} style={{ marginBottom: 16, background: '#fff' }} />
      ) : null}
      {loose.length ? (
        <Card size="small" title={t('records.general')}>
          <Grouped items={loose} />
        </Card>
      ) : null}
    </>
  );
}
