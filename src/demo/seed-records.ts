import { makeUserRequest } from '../api/user-auth.js';
import { didKeyFromPublicKey, type Identity } from '../crypto/index.js';
import type { MedchainNode } from '../node/node.js';
import { demoHandle } from './consortium.js';
import { demoClinicalRecords, type DemoClinicalRecord } from './clinical-records.js';
import { demoIdentity } from './keys.js';
import type { DemoPerson } from './people.js';
import { DemoActor, type SeedProgress } from './seed.js';
import { seedOversightStories, type DemoOversightStories } from './seed-oversight.js';

/**
 * Demo records, consents and accesses: every patient's synthetic FHIR records go through the real record service
 * (validated, encrypted into the custodian's vault, registered on the ledger), then a handful of patients show
 * each consent case — permit with fields withheld, deny, revoked, expired, guardian — and the access log shows
 * permitted and denied reads, a break-the-glass read, and a correction and an erasure request.
 */

const RECORD_WRITER: Record<string, string> = {
  'qingshan-county-hospital': 'dr-zhang-wei',
  'baishi-health-centre': 'dr-li-qiang',
  'hexi-health-centre': 'dr-huang-lei',
  'taoyuan-clinic': 'dr-ma-jun',
};
const PATIENT_WRITER: Record<string, string> = {
  'qingshan-county-hospital': 'reg-zhao-min',
  'baishi-health-centre': 'nurse-zhou-yan',
  'hexi-health-centre': 'nurse-wu-xia',
  'taoyuan-clinic': 'dr-ma-jun',
};

const staff = (inst: string, id: string): Identity => demoIdentity(demoHandle.staff(inst, id));
const patientKey = (p: DemoPerson): Identity => demoIdentity(demoHandle.patient(p.n));

async function inWaves<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

/** Which demo patients carry which story (for the docs, the web UI's guided tour, and tests). */
export interface DemoStories {
  /** Consents of every kind, reads permitted with fields withheld and denied, a correction and a refused erasure. */
  consents: string;
  /** Read by break-the-glass. */
  emergency: string;
  /** Consents managed by a guardian. */
  guardian: string;
  /** The regulator dashboard's anomalies and the clinicians' access requests. */
  oversight: DemoOversightStories;
}

export async function seedDemoRecords(node: MedchainNode, people: DemoPerson[], onProgress: SeedProgress = () => {}): Promise<{ records: number; stories: DemoStories }> {
  // Patients publish their encryption keys first, so every record is also wrapped for its patient.
  await inWaves(people, 20, async (p) => {
    const key = patientKey(p);
    await new DemoActor(key, node).call('identity', 'setEncryptionKey', { key: didKeyFromPublicKey(key.agreement.publicKey, 'X25519') });
  });
  const all = people.flatMap((p) => demoClinicalRecords(p).map((r) => ({ p, ...r })));
  let done = 0;
  await inWaves(all, 16, async (record) => {
    await writeDemoRecord(node, record);
    onProgress('records', ++done, all.length);
  });
  const consentStories = await seedConsentStories(node, people);
  onProgress('consents', 1, 1);
  const stories: DemoStories = { ...consentStories, oversight: await seedOversightStories(node, people, consentStories) };
  onProgress('oversight', 1, 1);
  return { records: all.length, stories };
}

/** Writes one demo record through the record service, as its custodian's clinician (or registrar, for a Patient). */
export async function writeDemoRecord(node: MedchainNode, { custodian, resource }: DemoClinicalRecord): Promise<void> {
  const writerId = resource.resourceType === 'Patient' ? PATIENT_WRITER[custodian] : RECORD_WRITER[custodian];
  if (!writerId) throw new Error(`demo: no writer at ${custodian}`);
  const body = JSON.stringify(resource);
  const url = resource.id ? `/fhir/R4/${resource.resourceType}/${resource.id}` : `/fhir/R4/${resource.resourceType}`;
  await node.records.write(makeUserRequest(staff(custodian, writerId), resource.id ? 'PUT' : 'POST', url, body), resource);
}

/** A person registered at a village site and at the county hospital: the referral case the demo is built around. */
function referred(people: DemoPerson[], skip = 0): DemoPerson {
  const found = people.filter((p) => p.institutions.length >= 2 && p.institutions.includes('qingshan-county-hospital'))[skip];
  return found ?? people[skip]!;
}

async function seedConsentStories(node: MedchainNode, people: DemoPerson[]): Promise<Omit<DemoStories, 'oversight'>> {
  const genesisTime = node.config.genesis.time;
  const day = 86_400_000;
  const recordsOf = (p: DemoPerson) => node.records.candidates(p.patientId);
  const read = async (who: Identity, p: DemoPerson, purpose: 'TREAT' | 'ETREAT' | 'HPAYMT' | 'PATRQT', emergencyReason?: string) => {
    const ids = recordsOf(p).map((r) => r.id).slice(0, 5);
    const url = `/fhir/R4/Patient/${p.patientId}/$everything?_purpose=${purpose}`;
    await node.records.read(makeUserRequest(who, 'GET', url), p.patientId, ids, purpose, emergencyReason ? { emergencyReason } : {});
  };

  // 1. Permit with fields withheld: the home clinic's patient lets Baishi's doctors read, but not address or phone.
  const a = referred(people, 0);
  const actorA = new DemoActor(patientKey(a), node);
  const scope = { resourceTypes: ['Patient', 'Observation', 'Condition', 'MedicationRequest'] };
  await actorA.call('consent', 'grant', {
    patientId: a.patientId,
    provision: 'permit',
    actor: { kind: 'role', role: 'doctor', institution: 'baishi-health-centre' },
    purposes: ['TREAT'],
    scope,
    excludeFields: ['Patient.address', 'Patient.telecom', 'Patient.identifier'],
    period: {},
  });
  // 2. An explicit deny: no pharmacy may read anything, whatever else is permitted.
  await actorA.call('consent', 'grant', { patientId: a.patientId, provision: 'deny', actor: { kind: 'institution-type', type: 'pharmacy' }, purposes: ['TREAT'], scope: {}, period: {} });
  // 3. Expired: a consent for the insurer that ran for the first month of the year.
  await actorA.call('consent', 'grant', {
    patientId: a.patientId,
    provision: 'permit',
    actor: { kind: 'institution-type', type: 'insurer' },
    purposes: ['HPAYMT'],
    scope: {},
    period: { start: genesisTime, end: genesisTime + 30 * day },
  });
  // 4. Granted, then revoked.
  const revoked = await actorA.call('consent', 'grant', { patientId: a.patientId, provision: 'permit', actor: { kind: 'institution', id: 'hexi-health-centre' }, purposes: ['TREAT'], scope: {}, period: {} });
  await actorA.call('consent', 'revoke', { patientId: a.patientId, consent: (revoked.result as { result: { consent: string } }).result.consent });

  // Reads: permitted with fields withheld, denied by the deny provision, denied after revocation, the patient's own.
  await read(staff('baishi-health-centre', 'dr-li-qiang'), a, 'TREAT');
  await read(staff('kangning-pharmacy', 'pharm-gao-ping'), a, 'TREAT');
  await read(staff('qingshan-medical-insurance', 'adj-xu-na'), a, 'HPAYMT');
  await read(staff('hexi-health-centre', 'dr-huang-lei'), a, 'TREAT');
  await read(staff('qingshan-county-hospital', 'dr-zhang-wei'), a, 'TREAT');
  await read(patientKey(a), a, 'PATRQT');

  // 5. Break-the-glass: the emergency doctor reads an unconscious patient's records without consent.
  const b = referred(people, 1);
  await read(staff('qingshan-county-hospital', 'dr-wang-li'), b, 'ETREAT', '患者昏迷送急诊，需查过敏史与用药史');

  // 6. A guardian: an elderly patient's daughter manages consents for her.
  const c = people.find((p) => Number(p.birthDate.slice(0, 4)) < 1950) ?? people[2]!;
  const daughter = demoIdentity(`guardian-of:${c.n}`);
  const registrar = PATIENT_WRITER[c.institutions[0]!]!;
  await new DemoActor(staff(c.institutions[0]!, registrar), node).call('consent', 'addGuardian', { patientId: c.patientId, guardian: daughter.did, relationship: 'daughter' });
  await new DemoActor(daughter, node).call('consent', 'grant', {
    patientId: c.patientId,
    provision: 'permit',
    actor: { kind: 'institution', id: 'qingshan-county-hospital' },
    purposes: ['TREAT'],
    scope: {},
    period: {},
  });

  // 7. Correction (open) and erasure (refused for legal retention) requests by patient A.
  const aRecords = recordsOf(a).filter((r) => r.resourceType !== 'Patient');
  if (aRecords.length >= 2) {
    const asA = patientKey(a);
    await node.records.requestChange(makeUserRequest(asA, 'POST', `/v1/records/${aRecords[0]!.id}/requests`), aRecords[0]!.id, 'correction', '我没有对青霉素过敏，请核实更正。');
    const erasure = await node.records.requestChange(makeUserRequest(asA, 'POST', `/v1/records/${aRecords[1]!.id}/requests`), aRecords[1]!.id, 'erasure');
    const custodian = aRecords[1]!.custodian;
    const writer = RECORD_WRITER[custodian];
    if (writer) await node.records.refuseRequest(makeUserRequest(staff(custodian, writer), 'POST', `/v1/requests/${erasure.id}/refuse`), erasure.id, 'LEGAL_RETENTION');
  }
  return { consents: a.patientId, emergency: b.patientId, guardian: c.patientId };
}
