import type { CodeableConcept, Observation, Patient, Quantity, Reference, Resource } from '@medplum/fhirtypes';
import { MEDCHAIN_PATIENT_ID_SYSTEM } from '../fhir/metadata.js';
import { DEMO_INSTITUTIONS } from './consortium.js';
import type { DemoPerson } from './people.js';
import { prng } from './prng.js';

/**
 * Synthetic FHIR R4 records for the demo patients: a Patient resource at every institution that registered the
 * person, and a clinical story typical of a rural county — a first visit at the home clinic or township centre
 * (vitals, labs, a diagnosis, a prescription), quarterly chronic-disease follow-ups, and for those registered at
 * the county hospital a referral up (imaging, for some an inpatient stay and a discharge summary back down).
 * Deterministic per person; all names and numbers are fictional.
 */

export interface DemoClinicalRecord {
  custodian: string;
  resource: Resource;
}

const COUNTY = 'qingshan-county-hospital';
/** Short institution tags for resource ids (ids are at most 64 characters). */
const SHORT: Record<string, string> = { [COUNTY]: 'qch', 'baishi-health-centre': 'bhc', 'hexi-health-centre': 'hhc', 'taoyuan-clinic': 'tyc' };
const siteName = (id: string) => DEMO_INSTITUTIONS.find((i) => i.id === id)?.name ?? id;

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const SNOMED = 'http://snomed.info/sct';
const TERMINOLOGY = 'http://terminology.hl7.org/CodeSystem';
const coded = (system: string, code: string, display: string, text?: string): CodeableConcept => ({ coding: [{ system, code, display }], ...(text ? { text } : {}) });
const hl7 = (cs: string, code: string, display?: string): CodeableConcept => ({ coding: [{ system: `${TERMINOLOGY}/${cs}`, code, ...(display ? { display } : {}) }] });

type DrugKey = keyof typeof DRUGS;
const DRUGS = {
  amlodipine: { zh: '苯磺酸氨氯地平片 5 mg', en: 'Amlodipine besylate 5 mg tablet', dose: '每日一次，每次 1 片（5 mg），口服', long: true },
  metformin: { zh: '盐酸二甲双胍片 0.5 g', en: 'Metformin hydrochloride 0.5 g tablet', dose: '每日两次，每次 1 片（0.5 g），餐中或餐后口服', long: true },
  insulin: { zh: '门冬胰岛素注射液 3 ml:300 U', en: 'Insulin aspart injection 3 ml:300 U', dose: '三餐前皮下注射，每次 4–6 U，按血糖调整', long: true },
  tiotropium: { zh: '噻托溴铵粉吸入剂 18 μg', en: 'Tiotropium bromide 18 μg inhalation powder', dose: '每日一次，每次 1 粒胶囊经吸入装置吸入', long: true },
  omeprazole: { zh: '奥美拉唑肠溶胶囊 20 mg', en: 'Omeprazole 20 mg delayed-release capsule', dose: '每日一次，每次 1 粒，早餐前口服，疗程 4 周', long: false },
  ibuprofen: { zh: '布洛芬缓释胶囊 0.3 g', en: 'Ibuprofen 0.3 g sustained-release capsule', dose: '每日两次，每次 1 粒，疼痛时服用，不超过 7 天', long: false },
  lianhua: { zh: '连花清瘟胶囊 0.35 g', en: 'Lianhua Qingwen capsule 0.35 g', dose: '每日三次，每次 4 粒，口服，疗程 5 天', long: false },
  amoxicillin: { zh: '阿莫西林胶囊 0.25 g', en: 'Amoxicillin 0.25 g capsule', dose: '每日三次，每次 1 粒（0.25 g），口服，疗程 5 天', long: false },
} as const;

type LabKey = keyof typeof LABS;
/**
 * Labs as a Chinese lab reports them, in SI units. Glucose and cholesterol in mmol/L take the LOINC
 * Moles/volume codes (2345-7 and 2093-3 are the Mass/volume, mg/dL, ones).
 */
const LABS = {
  hba1c: { loinc: '4548-4', en: 'Hemoglobin A1c/Hemoglobin.total in Blood', zh: '糖化血红蛋白', unit: '%', normal: [4, 6], digits: 1 },
  glucose: { loinc: '14749-6', en: 'Glucose [Moles/volume] in Serum or Plasma', zh: '空腹血糖', unit: 'mmol/L', normal: [3.9, 6.1], digits: 1 },
  chol: { loinc: '14647-2', en: 'Cholesterol [Moles/volume] in Serum or Plasma', zh: '总胆固醇', unit: 'mmol/L', normal: [2.8, 5.2], digits: 2 },
  hb: { loinc: '718-7', en: 'Hemoglobin [Mass/volume] in Blood', zh: '血红蛋白', unit: 'g/L', normal: [115, 160], digits: 0 },
} as const;

const CHEST_CR = { modality: 'CR', zh: '胸部正侧位 X 线', instances: 2 } as const;
const ABDO_US = { modality: 'US', zh: '腹部超声', instances: 12 } as const;
const LUMBAR_CR = { modality: 'CR', zh: '腰椎正侧位 X 线', instances: 2 } as const;

/**
 * Conditions common in a rural county: the usual drugs, labs, the imaging and inpatient procedure if referred up,
 * and the out-of-range lab values that go with them.
 */
const CONDITIONS = [
  { icd: 'I10', en: 'Essential (primary) hypertension', zh: '原发性高血压', chronic: true, drugs: ['amlodipine'], labs: ['chol', 'glucose'], high: { chol: [4.8, 6.9] },
    imaging: CHEST_CR, finding: '双肺纹理清晰，心影稍增大，主动脉结突出，符合高血压心脏改变。', procedure: '24 小时动态血压监测' },
  { icd: 'E11.9', en: 'Type 2 diabetes mellitus without complications', zh: '2 型糖尿病', chronic: true, drugs: ['metformin', 'insulin'], labs: ['hba1c', 'glucose'], high: { hba1c: [6.6, 9.8], glucose: [7.1, 12.5] },
    imaging: ABDO_US, finding: '轻度脂肪肝；胆囊、胰腺、脾脏及双肾未见明显异常。', procedure: '眼底检查' },
  { icd: 'J44.9', en: 'Chronic obstructive pulmonary disease, unspecified', zh: '慢性阻塞性肺疾病', chronic: true, drugs: ['tiotropium'], labs: ['hb'], high: {},
    imaging: CHEST_CR, finding: '双肺透亮度增高，肺纹理增多紊乱，膈肌低平，符合慢性阻塞性肺疾病表现。', procedure: '肺功能检查' },
  { icd: 'K29.7', en: 'Gastritis, unspecified', zh: '慢性胃炎', chronic: true, drugs: ['omeprazole'], labs: ['hb'], high: {},
    imaging: ABDO_US, finding: '肝、胆、胰、脾未见明显异常，胃窦部胃壁未见明显增厚。', procedure: '电子胃镜检查' },
  { icd: 'M54.5', en: 'Low back pain', zh: '腰痛', chronic: false, drugs: ['ibuprofen'], labs: ['hb'], high: {},
    imaging: LUMBAR_CR, finding: '腰椎退行性变，L4/5 椎间隙稍变窄，椎体边缘骨质增生。', procedure: '腰椎牵引治疗' },
  { icd: 'J06.9', en: 'Acute upper respiratory infection, unspecified', zh: '急性上呼吸道感染', chronic: false, drugs: ['lianhua', 'amoxicillin'], labs: ['hb'], high: {},
    imaging: CHEST_CR, finding: '双肺纹理稍增粗，未见明确实变影，心膈未见异常。', procedure: '雾化吸入治疗' },
] as const satisfies ReadonlyArray<{ icd: string; en: string; zh: string; chronic: boolean; imaging: unknown; finding: string; procedure: string; drugs: readonly DrugKey[]; labs: readonly LabKey[]; high: Partial<Record<LabKey, readonly [number, number]>> }>;
type DemoCondition = (typeof CONDITIONS)[number];

/** The drug-supply demo dispenses amoxicillin, insulin and amlodipine against rx-1-0, rx-2-0 and rx-3-0. */
const STORY: Record<number, [icd: string, drug: DrugKey]> = { 1: ['J06.9', 'amoxicillin'], 2: ['E11.9', 'insulin'], 3: ['I10', 'amlodipine'] };

const ALLERGENS = [
  { code: '764146007', en: 'Penicillin', zh: '青霉素', reaction: '皮疹、瘙痒' },
  { code: '387406002', en: 'Sulfonamide', zh: '磺胺类药物', reaction: '荨麻疹' },
] as const;
const VACCINES = [
  { cvx: '141', en: 'Influenza, seasonal, injectable', zh: '流感疫苗' },
  { cvx: '33', en: 'pneumococcal polysaccharide vaccine, 23 valent', zh: '23 价肺炎球菌多糖疫苗' },
] as const;

const pad = (n: number) => String(n).padStart(2, '0');
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
/** Local China time, as a FHIR dateTime/instant. */
const at = (day: string, hour: number, minute = 0) => `${day}T${pad(hour)}:${pad(minute)}:00+08:00`;
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
const qty = (value: number, unit: string, code = unit): Quantity => ({ value, unit, system: UCUM, code });
/** A literal reference; typed loosely so it fits every Reference<T> field. */
const ref = (type: string, id: string): { reference: string } => ({ reference: `${type}/${id}` });

function patientResource(p: DemoPerson, institution: string): Patient {
  const [familyEn = '', givenEn = ''] = p.nameEn.split(' ');
  const place = /^(青山县)(.+?[镇乡])(.+)$/.exec(p.address);
  return {
    resourceType: 'Patient',
    id: `pat-${p.n}-${SHORT[institution] ?? institution}`,
    identifier: [
      { system: 'urn:oid:2.16.156.10011.1.1', value: p.nationalId },
      { system: MEDCHAIN_PATIENT_ID_SYSTEM, value: p.patientId },
    ],
    active: true,
    // The Chinese name is the legal one; the pinyin is what English-language systems show.
    name: [
      { use: 'official', text: p.name, family: p.name.slice(0, 1), given: [p.name.slice(1)] },
      { use: 'usual', text: p.nameEn, family: familyEn, given: [givenEn] },
    ],
    telecom: [{ system: 'phone', value: p.phone, use: 'mobile' }],
    gender: p.gender,
    birthDate: p.birthDate,
    address: [{ use: 'home', text: p.address, ...(place ? { line: [place[3]!], city: place[2]!, district: place[1]! } : {}), country: 'CN' }],
    managingOrganization: { display: siteName(institution) },
  };
}

/** All records for one person, deterministic by person.n. */
export function demoClinicalRecords(p: DemoPerson): DemoClinicalRecord[] {
  const rand = prng(0x5eed + 7919 * p.n);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const between = (lo: number, hi: number, digits = 0) => round(lo + rand() * (hi - lo), digits);
  const out: DemoClinicalRecord[] = p.institutions.map((inst) => ({ custodian: inst, resource: patientResource(p, inst) }));
  const add = (custodian: string, resource: Resource) => out.push({ custodian, resource });
  const id = (kind: string, k = 0) => `${kind}-${p.n}-${k}`;
  const subject = ref('Patient', p.patientId);

  const home = p.institutions[0]!;
  // Follow-ups and vaccination happen at the township centre when the person is registered at one.
  const centre = p.institutions.find((i) => i.endsWith('health-centre')) ?? home;
  const first = addDays('2024-01-01', Math.floor(rand() * 600));
  const age = Number(first.slice(0, 4)) - Number(p.birthDate.slice(0, 4));
  const story = STORY[p.n];
  const cond: DemoCondition = story
    ? CONDITIONS.find((c) => c.icd === story[0])!
    : age < 18 ? CONDITIONS[5] : pick(age >= 45 ? [CONDITIONS[0], CONDITIONS[0], CONDITIONS[1], CONDITIONS[2], CONDITIONS[3], CONDITIONS[4]] : CONDITIONS);
  const drug = DRUGS[story?.[1] ?? (age >= 70 && cond.icd === 'E11.9' ? 'insulin' : cond.drugs[0])];

  const encounter = (k: number, custodian: string, day: string, inpatient = false, days = 0, note: string = cond.zh) => {
    const hour = 8 + Math.floor(rand() * 4);
    add(custodian, {
      resourceType: 'Encounter',
      id: id('enc', k),
      status: 'finished',
      class: { system: `${TERMINOLOGY}/v3-ActCode`, code: inpatient ? 'IMP' : 'AMB', display: inpatient ? 'inpatient encounter' : 'ambulatory' },
      subject,
      period: { start: at(day, hour, 30), end: inpatient ? at(addDays(day, days), 10) : at(day, hour + 1) },
      reasonCode: [{ ...coded(ICD10, cond.icd, cond.en), text: note }],
      ...(inpatient ? { hospitalization: { dischargeDisposition: { ...hl7('discharge-disposition', 'home', 'Home'), text: `出院回家，${siteName(home)}随访` } } } : {}),
      serviceProvider: { display: siteName(custodian) },
    });
    return ref('Encounter', id('enc', k));
  };
  const observation = (key: string, custodian: string, enc: { reference: string }, when: string, category: 'vital-signs' | 'laboratory', code: CodeableConcept, value: Partial<Observation>) => {
    add(custodian, { resourceType: 'Observation', id: id(key), status: 'final', category: [hl7('observation-category', category)], code, subject, encounter: enc, effectiveDateTime: when, ...value });
    return ref('Observation', id(key));
  };
  const vitals = (k: number, custodian: string, enc: { reference: string }, when: string) => {
    if (!cond.chronic && age < 18) {
      return observation(`temp-${k}`, custodian, enc, when, 'vital-signs', coded(LOINC, '8310-5', 'Body temperature', '体温'), { valueQuantity: qty(between(37.3, 38.9, 1), '°C', 'Cel') });
    }
    const systolic = cond.icd === 'I10' ? between(138, 172) : between(108, 136);
    const component = (code: string, en: string, zh: string, v: number) => ({ code: coded(LOINC, code, en, zh), valueQuantity: qty(v, 'mmHg', 'mm[Hg]') });
    return observation(`bp-${k}`, custodian, enc, when, 'vital-signs', coded(LOINC, '85354-9', 'Blood pressure panel with all children optional', '血压'), {
      component: [component('8480-6', 'Systolic blood pressure', '收缩压', systolic), component('8462-4', 'Diastolic blood pressure', '舒张压', Math.round(systolic * 0.6 + between(-6, 8)))],
    });
  };
  const lab = (key: LabKey, k: number, custodian: string, enc: { reference: string }, when: string) => {
    const l = LABS[key];
    const high = (cond.high as Partial<Record<LabKey, readonly [number, number]>>)[key];
    const [lo, hi] = high ?? [l.normal[0] + (l.normal[1] - l.normal[0]) * 0.2, l.normal[1] * 0.98];
    const value = between(lo, hi, l.digits);
    const flag = value > l.normal[1] ? ['H', 'High'] : value < l.normal[0] ? ['L', 'Low'] : ['N', 'Normal'];
    return observation(`${key}-${k}`, custodian, enc, when, 'laboratory', coded(LOINC, l.loinc, l.en, l.zh), {
      valueQuantity: qty(value, l.unit),
      interpretation: [hl7('v3-ObservationInterpretation', flag[0]!, flag[1])],
      referenceRange: [{ low: qty(l.normal[0], l.unit), high: qty(l.normal[1], l.unit) }],
    });
  };

  // First visit at home: vitals, labs and their report, the diagnosis and a prescription.
  const enc0 = encounter(0, home, first);
  vitals(0, home, enc0, at(first, 9, 10));
  const labTime = at(first, 10, 20);
  const results = cond.labs.map((key) => lab(key, 0, home, enc0, labTime));
  add(home, {
    resourceType: 'DiagnosticReport',
    id: id('rpt', 0),
    status: 'final',
    category: [hl7('v2-0074', 'LAB', 'Laboratory')],
    code: coded(LOINC, '11502-2', 'Laboratory report', cond.labs.includes('hb' as never) ? '血常规' : '生化检验'),
    subject,
    encounter: enc0,
    effectiveDateTime: labTime,
    issued: at(first, 11, 5),
    result: results,
  });
  add(home, {
    resourceType: 'Condition',
    id: id('cond', 0),
    clinicalStatus: hl7('condition-clinical', cond.chronic ? 'active' : 'resolved'),
    verificationStatus: hl7('condition-ver-status', 'confirmed'),
    // A chronic disease goes on the problem list; an acute one is a diagnosis of that visit.
    category: [hl7('condition-category', cond.chronic ? 'problem-list-item' : 'encounter-diagnosis')],
    code: { ...coded(ICD10, cond.icd, cond.en), text: cond.zh },
    subject,
    encounter: enc0,
    ...(cond.chronic ? {} : { abatementDateTime: addDays(first, 7) }),
    recordedDate: at(first, 10, 40),
  });
  add(home, {
    resourceType: 'MedicationRequest',
    id: id('rx', 0),
    status: drug.long ? 'active' : 'completed',
    intent: 'order',
    medicationCodeableConcept: { text: `${drug.zh}（${drug.en}）` },
    subject,
    encounter: enc0,
    authoredOn: at(first, 10, 50),
    dosageInstruction: [{ text: drug.dose }],
  });

  // Quarterly follow-ups of chronic disease (基本公共卫生服务): blood pressure or glucose, and weight.
  let last = first;
  const followUps = cond.chronic ? (cond.icd === 'I10' || cond.icd === 'E11.9' ? 1 + Math.floor(rand() * 2) : 1) : 0;
  for (let k = 1; k <= followUps; k++) {
    last = addDays(last, 80 + Math.floor(rand() * 20));
    const enc = encounter(k, centre, last, false, 0, `${cond.zh}随访`);
    if (cond.icd === 'E11.9') lab('glucose', k, centre, enc, at(last, 9, 15));
    else vitals(k, centre, enc, at(last, 9, 15));
    if (k === 1) observation('wt-1', centre, enc, at(last, 9, 20), 'vital-signs', coded(LOINC, '29463-7', 'Body weight', '体重'), { valueQuantity: qty(between(p.gender === 'male' ? 55 : 45, p.gender === 'male' ? 85 : 72, 1), 'kg') });
  }

  if (rand() < 0.2 || p.n === 1) {
    const a = p.n === 1 ? ALLERGENS[0] : pick(ALLERGENS);
    add(home, {
      resourceType: 'AllergyIntolerance',
      id: id('alg', 0),
      clinicalStatus: hl7('allergyintolerance-clinical', 'active'),
      verificationStatus: hl7('allergyintolerance-verification', 'confirmed'),
      type: 'allergy',
      category: ['medication'],
      criticality: 'low',
      code: coded(SNOMED, a.code, a.en, a.zh),
      patient: subject,
      recordedDate: at(first, 10, 45),
      reaction: [{ manifestation: [{ text: a.reaction }] }],
    });
  }
  if (age >= 60 ? rand() < 0.6 : rand() < 0.25) {
    const v = age >= 65 ? pick(VACCINES) : VACCINES[0];
    // Autumn of 2024 or 2025: flu season.
    const day = `${2024 + Math.floor(rand() * 2)}-${pad(10 + Math.floor(rand() * 2))}-${pad(1 + Math.floor(rand() * 28))}`;
    add(centre, {
      resourceType: 'Immunization',
      id: id('imm', 0),
      status: 'completed',
      vaccineCode: coded('http://hl7.org/fhir/sid/cvx', v.cvx, v.en, v.zh),
      patient: subject,
      occurrenceDateTime: at(day, 14, 30),
      primarySource: true,
      lotNumber: `${v.cvx === '141' ? 'FLU' : 'PPV'}${day.slice(2, 4)}${pad(1 + Math.floor(rand() * 40))}`,
    });
  }

  // Referral up to the county hospital (or, for county residents, a work-up there): imaging, and for some an
  // inpatient stay with a procedure and a discharge summary sending them back to primary care.
  const referred = home !== COUNTY && p.institutions.includes(COUNTY);
  if (referred || (home === COUNTY && rand() < 0.35)) {
    const day = addDays(last, 10 + Math.floor(rand() * 50));
    const inpatient = rand() < (cond.icd === 'J44.9' ? 0.8 : 0.4);
    const stay = 4 + Math.floor(rand() * 6);
    const enc = encounter(9, COUNTY, day, inpatient, stay, referred ? `上转：${cond.zh}` : cond.zh);
    const img = cond.imaging;
    add(COUNTY, {
      resourceType: 'ImagingStudy',
      id: id('img', 0),
      status: 'available',
      modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: img.modality }],
      subject,
      encounter: enc,
      started: at(day, 10, 15),
      numberOfSeries: 1,
      numberOfInstances: img.instances,
      description: img.zh,
    });
    add(COUNTY, {
      resourceType: 'DiagnosticReport',
      id: id('rpt', 9),
      status: 'final',
      category: [hl7('v2-0074', 'RAD', 'Radiology')],
      code: coded(LOINC, '18748-4', 'Diagnostic imaging study', `${img.zh}检查报告`),
      subject,
      encounter: enc,
      effectiveDateTime: at(day, 10, 15),
      issued: at(day, 11, 40),
      imagingStudy: [ref('ImagingStudy', id('img', 0))],
      conclusion: cond.finding,
    });
    if (inpatient) {
      add(COUNTY, {
        resourceType: 'Procedure',
        id: id('proc', 0),
        status: 'completed',
        code: { text: cond.procedure },
        subject,
        encounter: enc,
        performedDateTime: at(addDays(day, 1), 9, 30),
      });
      const summary = [
        `出院小结（${siteName(COUNTY)}）`,
        `入院诊断：${cond.zh}（${cond.icd}）。入院日期：${day}，出院日期：${addDays(day, stay)}，住院 ${stay} 天。`,
        `诊疗经过：完善${img.zh}、${cond.procedure}等检查，予${drug.zh.split(' ')[0]}等治疗，病情好转。`,
        `出院医嘱：规律服药，低盐低脂饮食，2 周后至${siteName(home)}复诊随访。`,
      ].join('\n');
      add(COUNTY, {
        resourceType: 'DocumentReference',
        id: id('doc', 0),
        status: 'current',
        type: coded(LOINC, '18842-5', 'Discharge summary', '出院小结'),
        subject,
        date: at(addDays(day, stay), 9, 45),
        description: '出院小结',
        content: [{ attachment: { contentType: 'text/plain; charset=utf-8', language: 'zh-CN', data: Buffer.from(summary).toString('base64'), title: '出院小结' } }],
        context: { encounter: [enc], period: { start: at(day, 8, 30), end: at(addDays(day, stay), 10) } },
      });
    }
  }
  return out;
}
