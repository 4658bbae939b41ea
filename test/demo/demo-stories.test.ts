import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessEntry } from '../../src/contracts/access/index.js';
import type { ChangeRequest } from '../../src/contracts/records/model.js';
import { demoHandle, demoHostedInstitutions, demoIdentity, seedDemo, seedDemoRecords, type DemoPerson, type DemoStories } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { openTestNode } from '../helpers/test-node.js';

/** The seeded demo shows every consent and access case the records capability has. */

let node: MedchainNode;
let cleanup: () => Promise<void>;
let stories: DemoStories;
let records: number;
let people: DemoPerson[];

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  ({ people } = await seedDemo(node));
  ({ stories, records } = await seedDemoRecords(node, people));
}, 120_000);
afterAll(async () => cleanup());

const logOf = (pid: string) => node.query('access', 'logOf', { patientId: pid, limit: 1000 }) as AccessEntry[];

describe('demo stories', () => {
  it('every demo record is on the ledger and in a vault', () => {
    const heads = (node.ledger.store.db.prepare("SELECT count(*) AS n FROM state WHERE key LIKE 'rec/%'").get() as { n: number }).n;
    expect(heads).toBe(records);
  });

  it('consents: permit with fields withheld, deny provision, expired, revoked; the patient reads their own', () => {
    const log = logOf(stories.consents);
    const by = (inst: string) => log.filter((e) => e.institution === inst);
    const baishi = by('baishi-health-centre');
    expect(baishi.some((e) => e.decision === 'permit' && e.withheldFields.includes('Patient.address'))).toBe(true);
    expect(baishi.some((e) => e.decision === 'deny')).toBe(true); // an Encounter is outside the consent's scope
    expect(by('kangning-pharmacy').every((e) => e.decision === 'deny')).toBe(true);
    expect(by('qingshan-medical-insurance').every((e) => e.decision === 'deny' && e.purpose === 'HPAYMT')).toBe(true);
    expect(by('hexi-health-centre').every((e) => e.decision === 'deny')).toBe(true);
    expect(log.some((e) => e.requesterKind === 'patient' && e.decision === 'permit')).toBe(true);
    const consents = node.query('consent', 'consentsOf', { patientId: stories.consents }) as Array<{ provision: string; status: string }>;
    expect(consents.map((c) => `${c.provision}:${c.status}`).sort()).toEqual(['deny:active', 'permit:active', 'permit:active', 'permit:revoked']);
  });

  it('break-the-glass is flagged for the regulator; a guardian manages an elderly patient\'s consents', () => {
    expect(logOf(stories.emergency).some((e) => e.emergency && e.decision === 'permit')).toBe(true);
    const flagged = node.query('access', 'emergencies', {}) as Array<{ patientId: string }>;
    expect(flagged.map((f) => f.patientId)).toContain(stories.emergency);
    const guardians = node.query('consent', 'guardiansOf', { patientId: stories.guardian }) as Array<{ did: string }>;
    expect(guardians).toHaveLength(1);
    const consents = node.query('consent', 'consentsOf', { patientId: stories.guardian }) as Array<{ grantedBy: string }>;
    expect(consents[0]!.grantedBy).toBe(guardians[0]!.did);
  });

  it('a correction request is open and an erasure request was refused for legal retention', () => {
    const requests = node.query('records', 'requestsOfPatient', { patientId: stories.consents }) as ChangeRequest[];
    expect(requests.map((r) => `${r.kind}:${r.status}`).sort()).toEqual(['correction:open', 'erasure:refused']);
    expect(requests.find((r) => r.kind === 'erasure')!.refusal).toBe('LEGAL_RETENTION');
  });

  it('the regulator dashboard shows a high-volume reader, a denial burst and break-the-glass, without patient data', () => {
    const regulator = demoIdentity(demoHandle.staff('qingshan-health-commission', 'reg-luo-bin')).did;
    const a = node.oversight.anomalies(regulator);
    const handleOf = (r: { staffId?: string; institution?: string }) => `${r.staffId}@${r.institution}`;
    expect(a.highVolumeReaders.map((m) => handleOf(m.requester))).toContain(stories.oversight.highVolumeReader);
    expect(a.highVolumeReaders.find((m) => handleOf(m.requester) === stories.oversight.highVolumeReader)!.patients).toBeGreaterThan(a.thresholds.distinctPatientsPerDay);
    expect(a.denialBursts.map((m) => handleOf(m.requester))).toContain(stories.oversight.denialBurst);
    expect(a.emergencies.some((m) => m.requester.staffId === 'dr-wang-li' && m.decision === 'permit')).toBe(true);
    const stats = node.oversight.accessStats(regulator);
    expect(stats.totals.counts.deny).toBeGreaterThan(0);
    expect(stats.totals.counts.emergency).toBeGreaterThan(0);
    const text = JSON.stringify([a, stats]);
    for (const p of people) for (const secret of [p.patientId, p.name, p.nameEn, p.nationalId, p.phone]) expect(text.includes(secret), secret).toBe(false);
  });

  it('access requests: one pending with a message, one approved with a consent, one declined', async () => {
    const statusOf = (pid: string) => (node.query('consent', 'requestsOf', { patientId: pid }) as Array<{ status: string; consent?: string }>)[0]!;
    expect(statusOf(stories.oversight.accessRequests.pending).status).toBe('pending');
    expect(statusOf(stories.oversight.accessRequests.approved)).toMatchObject({ status: 'approved', consent: expect.any(String) });
    expect(statusOf(stories.oversight.accessRequests.declined).status).toBe('declined');
    const patient = people.find((p) => p.patientId === stories.oversight.accessRequests.pending)!;
    const pending = await node.accessRequests.ofPatient(demoIdentity(demoHandle.patient(patient.n)).did, patient.patientId, 'pending');
    expect(pending[0]!.messageText).toContain('河西乡卫生院');
  });
});
