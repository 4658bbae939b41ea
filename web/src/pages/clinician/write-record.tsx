import { App, Button, Card, Col, Form, Input, InputNumber, Radio, Row } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ErrorAlert } from '../../components/async-view.js';
import { useSignedIn } from '../../session.js';

type Kind = 'Condition' | 'Observation' | 'MedicationRequest';

interface Values {
  kind: Kind;
  code?: string;
  text: string;
  value?: number;
  unit?: string;
  low?: number;
  high?: number;
  dosage?: string;
  note?: string;
}

/** Structured FHIR R4 for the common cases; the node validates it (medplum) and answers an OperationOutcome. */
export function resourceOf(pid: string, v: Values, now = new Date()): Record<string, unknown> {
  const subject = { reference: `Patient/${pid}` };
  const when = now.toISOString();
  const note = v.note ? { note: [{ text: v.note }] } : {};
  if (v.kind === 'Condition') {
    return {
      resourceType: 'Condition',
      subject,
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
      code: { ...(v.code ? { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: v.code }] } : {}), text: v.text },
      recordedDate: when,
      ...note,
    };
  }
  if (v.kind === 'Observation') {
    const unit = v.unit ? { unit: v.unit } : {};
    return {
      resourceType: 'Observation',
      status: 'final',
      subject,
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
      code: { ...(v.code ? { coding: [{ system: 'http://loinc.org', code: v.code }] } : {}), text: v.text },
      effectiveDateTime: when,
      ...(v.value !== undefined ? { valueQuantity: { value: v.value, ...unit } } : {}),
      ...(v.low !== undefined || v.high !== undefined
        ? { referenceRange: [{ ...(v.low !== undefined ? { low: { value: v.low, ...unit } } : {}), ...(v.high !== undefined ? { high: { value: v.high, ...unit } } : {}) }] }
        : {}),
      ...note,
    };
  }
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    subject,
    medicationCodeableConcept: { text: v.text },
    authoredOn: when,
    ...(v.dosage ? { dosageInstruction: [{ text: v.dosage }] } : {}),
    ...note,
  };
}

export function WriteRecord({ pid }: { pid: string }) {
  const { t } = useTranslation();
  const { api } = useSignedIn();
  const { message } = App.useApp();
  const [form] = Form.useForm<Values>();
  const kind = (Form.useWatch('kind', form) as Kind | undefined) ?? 'Condition';
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (v: Values) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.request('POST', `/fhir/R4/${v.kind}`, resourceOf(pid, v), 'application/fhir+json');
      message.success(t('write.saved'));
      form.resetFields();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card size="small" title={t('write.title')}>
      <Form<Values> form={form} layout="vertical" onFinish={submit} initialValues={{ kind: 'Condition' }}>
        <Form.Item name="kind" label={t('write.kind')}>
          <Radio.Group optionType="button" options={(['Condition', 'Observation', 'MedicationRequest'] as const).map((k) => ({ value: k, label: t(`write.kinds.${k}`) }))} />
        </Form.Item>
        <Row gutter={12}>
          {kind !== 'MedicationRequest' ? (
            <Col xs={24} sm={8}>
              <Form.Item name="code" label={kind === 'Condition' ? t('write.icd10') : t('write.loinc')} rules={[{ pattern: /^[A-Za-z0-9.-]{1,20}$/, message: t('write.badCode') }]}>
                <Input placeholder={kind === 'Condition' ? 'I10' : '2345-7'} />
              </Form.Item>
            </Col>
          ) : null}
          <Col xs={24} sm={kind !== 'MedicationRequest' ? 16 : 24}>
            <Form.Item name="text" label={t(`write.text.${kind}`)} rules={[{ required: true, message: t('consent.required') }]}>
              <Input />
            </Form.Item>
          </Col>
        </Row>
        {kind === 'Observation' ? (
          <Row gutter={12}>
            <Col xs={12} sm={6}><Form.Item name="value" label={t('write.value')} rules={[{ required: true, message: t('consent.required') }]}><InputNumber style={{ width: '100%' }} /></Form.Item></Col>
            <Col xs={12} sm={6}><Form.Item name="unit" label={t('write.unit')}><Input placeholder="mmol/L" /></Form.Item></Col>
            <Col xs={12} sm={6}><Form.Item name="low" label={t('write.low')}><InputNumber style={{ width: '100%' }} /></Form.Item></Col>
            <Col xs={12} sm={6}><Form.Item name="high" label={t('write.high')}><InputNumber style={{ width: '100%' }} /></Form.Item></Col>
          </Row>
        ) : null}
        {kind === 'MedicationRequest' ? (
          <Form.Item name="dosage" label={t('write.dosage')} rules={[{ required: true, message: t('consent.required') }]}>
            <Input placeholder={t('write.dosagePlaceholder')} />
          </Form.Item>
        ) : null}
        <Form.Item name="note" label={t('write.note')}>
          <Input.TextArea rows={2} maxLength={2000} />
        </Form.Item>
        {error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={error} /></div> : null}
        <Button type="primary" htmlType="submit" loading={busy}>{t('write.save')}</Button>
      </Form>
    </Card>
  );
}
