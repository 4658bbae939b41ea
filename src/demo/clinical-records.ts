import type { Resource } from '@medplum/fhirtypes';
import { MEDCHAIN_PATIENT_ID_SYSTEM } from '../fhir/metadata.js';
import type { DemoPerson } from './people.js';

/**
 * Synthetic FHIR R4 records for the demo patients: a Patient resource at every institution that registered the
 * person, and a clinical story typical of a rural county — chronic disease follow-up at the village clinic or
 * township centre, labs and vitals, prescriptions, and for some a referral up to the county hospital with imaging,
 * an inpatient stay and a discharge summary. Deterministic per person; all names and numbers are fictional.
 */

export interface DemoClinicalRecord {
  custodian: string;
  resource: Resource;
}

const COUNTY = 'qingshan-county-hospital';
const SHORT: Record<string, string> = {
  'qingshan-county-hospital': 'qch',
  'baishi-health-centre': 'bhc',
  'hexi-health-centre': 'hhc',
  'taoyuan-clinic': 'tyc',
};

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CONDITION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** Chronic and acute conditions common in a rural county, with the drug usually prescribed. */
const CONDITIONS = [
  { code: 'I10', zh: '原发性高血压', en: 'Essential hypertension', drug: { zh: '苯磺酸氨氯地平片 5 mg', en: 'Amlodipine 5 mg tablet', dose: '每日一次，每次 1 片，口服' }, lab: 'bp' },
  { code: 'E11.9', zh: '2 型糖尿病', en: 'Type 2 diabetes mellitus', drug: { zh: '盐酸二甲双胍片 0.5 g', en: 'Metformin 0.5 g tablet', dose: '每日两次，每次 1 片，餐后口服' }, lab: 'glucose' },
  { code: 'J44.9', zh: '慢性阻塞性肺疾病', en: 'Chronic obstructive pulmonary disease', drug: { zh: '噻托溴铵吸入粉雾剂 18 μg', en: 'Tiotropium 18 μg inhalation', dose: '每日一次，每次 1 吸' }, lab: 'xray' },
  { code: 'K29.7', zh: '慢性胃炎', en: 'Gastritis', drug: { zh: '奥美拉唑肠溶胶囊 20 mg', en: 'Omeprazole 20 mg capsule', dose: '每日一次，早餐前口服' }, lab: 'ultrasound' },
  { code: 'M54.5', zh: '腰痛', en: 'Low back pain', drug: { zh: '布洛芬缓释胶囊 0.3 g', en: 'Ibuprofen 0.3 g SR capsule', dose: '每日两次，疼痛时口服' }, lab: 'hb' },
  { code: 'J06.9', zh: '急性上呼吸道感染', en: 'Acute upper respiratory infection', drug: { zh: '连花清瘟胶囊', en: 'Lianhua Qingwen capsule', dose: '每日三次，每次 4 粒' }, lab: 'hb' },
] as const;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number) => String(n).padStart(2, '0');
/** A day between 2024-01-01 and 2026-09-30, as YYYY-MM-DD. */
function dayFrom(rand: () => number): string {
  const start = Date.UTC(2024, 0, 1);
  const d = new Date(start + Math.floor(rand() * 1000) * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}
const at = (day: string, hour: number) => `${day}T${pad(hour)}:00:00+08:00`;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

function patientResource(p: DemoPerson, institution: string): Resource {
  const [family, given] = [p.name.slice(0, 1), p.name.slice(1)];
  const [givenEn, familyEn] = [p.nameEn.split(' ')[1] ?? '', p.nameEn.split(' ')[0] ?? ''];
  return {
    resourceType: 'Patient',
    id: `pat-${p.n}-${SHORT[institution]}`,
    identifier: [
      { system: 'urn:oid:2.16.156.10011.1.1', value: p.nationalId },
      { system: MEDCHAIN_PATIENT_ID_SYSTEM, value: p.patientId },
    ],
    name: [
      { use: 'official', text: p.name, family, given: [given] },
      { use: 'usual', text: `${familyEn} ${givenEn}`, family: familyEn, given: [givenEn] },
    ],
    gender: p.gender,
    birthDate: p.birthDate,
    telecom: [{ system: 'phone', value: p.phone, use: 'mobile' }],
    address: [{ text: p.address, city: '青山县', country: 'CN' }],
  } as Resource;
}

/** All demo records of one person. */
export function demoClinicalRecords(p: DemoPerson): DemoClinicalRecord[] {
  const rand = prng(7919 * p.n + 17);
  const subject = { reference: `Patient/${p.patientId}` };
  const out: DemoClinicalRecord[] = p.institutions.map((inst) => ({ custodian: inst, resource: patientResource(p, inst) }));
  const home = p.institutions[0]!;
  const id = (kind: string, k = 0) => `${kind}-${p.n}-${k}`;
  const add = (custodian: string, resource: Record<string, unknown>) => out.push({ custodian, resource: resource as unknown as Resource });

  const condition = CONDITIONS[Math.floor(rand() * CONDITIONS.length)]!;
  const visit = dayFrom(rand);
  add(home, {
    resourceType: 'Encounter',
    id: id('enc'),
    status: 'finished',
    class: { system: ACT_CODE, code: 'AMB', display: 'ambulatory' },
    subject,
    period: { start: at(visit, 9), end: at(visit, 10) },
    reasonCode: [{ coding: [{ system: ICD10, code: condition.code }], text: condition.zh }],
  });
  add(home, {
    resourceType: 'Condition',
    id: id('cond'),
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: CONDITION_CATEGORY, code: 'problem-list-item' }] }],
    code: { coding: [{ system: ICD10, code: condition.code, display: condition.en }], text: condition.zh },
    subject,
    encounter: { reference: `Encounter/${id('enc')}` },
    recordedDate: visit,
  });
  const systolic = 118 + Math.floor(rand() * 50);
  add(home, {
    resourceType: 'Observation',
    id: id('bp'),
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }], text: '血压' },
    subject,
    effectiveDateTime: at(visit, 9),
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }], text: '收缩压' }, valueQuantity: { value: systolic, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
      { code: { coding: [{ system: LOINC, code: '8462-4' }], text: '舒张压' }, valueQuantity: { value: 70 + Math.floor(rand() * 30), unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
    ],
  });
  add(home, {
    resourceType: 'Observation',
    id: id('wt'),
    status: 'final',
    category: [{ coding: [{ system: OBS_CATEGORY, code: 'vital-signs' }] }],
    code: { coding: [{ system: LOINC, code: '29463-7' }], text: '体重' },
    subject,
    effectiveDateTime: at(visit, 9),
    valueQuantity: { value: 48 + Math.floor(rand() * 40), unit: 'kg', system: UCUM, code: 'kg' },
  });
  const labs: string[] = [];
  const lab = (k: number, code: string, zh: string, value: number, unit: string, ucum: string) => {
    labs.push(id('lab', k));
    add(home, {
      resourceType: 'Observation',
      id: id('lab', k),
      status: 'final',
      category: [{ coding: [{ system: OBS_CATEGORY, code: 'laboratory' }] }],
      code: { coding: [{ system: LOINC, code }], text: zh },
      subject,
      effectiveDateTime: at(visit, 10),
      valueQuantity: { value, unit, system: UCUM, code: ucum },
    });
  };
  if (condition.lab === 'glucose') {
    lab(1, '4548-4', '糖化血红蛋白', Math.round((6 + rand() * 3) * 10) / 10, '%', '%');
    lab(2, '2345-7', '空腹血糖', Math.round((5.5 + rand() * 5) * 10) / 10, 'mmol/L', 'mmol/L');
  } else if (condition.lab === 'bp') {
    lab(1, '2093-3', '总胆固醇', Math.round((3.8 + rand() * 3) * 10) / 10, 'mmol/L', 'mmol/L');
  } else {
    lab(1, '718-7', '血红蛋白', 110 + Math.floor(rand() * 50), 'g/L', 'g/L');
  }
  add(home, {
    resourceType: 'DiagnosticReport',
    id: id('rpt'),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
    code: { text: '检验报告' },
    subject,
    effectiveDateTime: at(visit, 10),
    result: labs.map((l) => ({ reference: `Observation/${l}` })),
  });
  add(home, {
    resourceType: 'MedicationRequest',
    id: id('rx'),
    status: rand() < 0.7 ? 'active' : 'completed',
    intent: 'order',
    medicationCodeableConcept: { text: `${condition.drug.zh}（${condition.drug.en}）` },
    subject,
    authoredOn: visit,
    dosageInstruction: [{ text: condition.drug.dose }],
  });
  if (rand() < 0.25) {
    add(home, {
      resourceType: 'AllergyIntolerance',
      id: id('alg'),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '764146007', display: 'Penicillin' }], text: '青霉素' },
      patient: subject,
      recordedDate: visit,
      reaction: [{ manifestation: [{ text: '皮疹' }] }],
    });
  }
  if (rand() < 0.5) {
    add(home, {
      resourceType: 'Immunization',
      id: id('imm'),
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '141', display: 'Influenza, seasonal, injectable' }], text: '流感疫苗' },
      patient: subject,
      occurrenceDateTime: at(addDays(visit, -30), 14),
    });
  }

  // Referral up to the county hospital: imaging, and for some an inpatient stay with a discharge summary.
  if (p.institutions.includes(COUNTY) && home !== COUNTY) {
    const day = addDays(visit, 7 + Math.floor(rand() * 20));
    const inpatient = rand() < 0.5;
    const imaging = condition.lab === 'ultrasound' ? { modality: 'US', zh: '腹部超声', conclusion: '胃壁未见明显增厚，肝胆胰脾未见异常。' } : { modality: 'CR', zh: '胸部 X 线', conclusion: '双肺纹理增多，未见实变影，心影不大。' };
    add(COUNTY, {
      resourceType: 'Encounter',
      id: id('enc', 1),
      status: 'finished',
      class: { system: ACT_CODE, code: inpatient ? 'IMP' : 'AMB', display: inpatient ? 'inpatient encounter' : 'ambulatory' },
      subject,
      period: { start: at(day, 8), end: at(inpatient ? addDays(day, 5) : day, 16) },
      reasonCode: [{ coding: [{ system: ICD10, code: condition.code }], text: `上转：${condition.zh}` }],
    });
    add(COUNTY, {
      resourceType: 'ImagingStudy',
      id: id('img'),
      status: 'available',
      subject,
      started: at(day, 10),
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: imaging.modality }],
      numberOfSeries: 1,
      numberOfInstances: imaging.modality === 'US' ? 12 : 2,
      description: imaging.zh,
    });
    add(COUNTY, {
      resourceType: 'DiagnosticReport',
      id: id('rpt', 1),
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
      code: { text: `${imaging.zh}检查报告` },
      subject,
      effectiveDateTime: at(day, 11),
      imagingStudy: [{ reference: `ImagingStudy/${id('img')}` }],
      conclusion: imaging.conclusion,
    });
    if (inpatient) {
      add(COUNTY, {
        resourceType: 'Procedure',
        id: id('proc'),
        status: 'completed',
        code: { text: condition.lab === 'ultrasound' ? '电子胃镜检查' : '肺功能检查' },
        subject,
        performedDateTime: at(addDays(day, 1), 9),
      });
      const summary = `出院小结：患者因${condition.zh}上转入院，经治疗病情稳定，建议回基层卫生机构随访，按时服药。`;
      add(COUNTY, {
        resourceType: 'DocumentReference',
        id: id('doc'),
        status: 'current',
        type: { coding: [{ system: LOINC, code: '18842-5', display: 'Discharge summary' }], text: '出院小结' },
        subject,
        date: at(addDays(day, 5), 15),
        content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(summary).toString('base64'), title: '出院小结' } }],
      });
    }
  }
  return out;
}
