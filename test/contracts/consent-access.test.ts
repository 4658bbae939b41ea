import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import type { Receipt } from '../../src/ledger/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/** Consent grants and revocations by the patient, and the access log, through a real node. */

const BAISHI = 'baishi-health-centre';
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
let node: MedchainNode;
let cleanup: () => Promise<void>;
let patient: Actor;
let registrar: Actor;
let drLi: Actor; // Baishi doctor: another institution than the custodian
let drWang: Actor; // county hospital doctor with the emergency role
let pharmacist: Actor;

const RECORD = 'obs-2026-001';
const recordMeta = {
  id: RECORD,
  patientId: PID,
  resourceType: 'Observation',
  category: 'laboratory',
  codes: [{ system: 'http://loinc.org', code: '4548-4' }],
  date: '2026-05-20',
  ciphertextSha256: 'a'.repeat(64),
  fieldRoot: 'b'.repeat(64),
  bytes: 1200,
};

async function ok(actor: Actor, contract: string, method: string, args: unknown): Promise<Record<string, unknown>> {
  const r: Receipt = await node.submit(actor.tx(contract, method, args));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
  return (r.result as { result: Record<string, unknown> }).result;
}
async function read(actor: Actor, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const { decisions } = await ok(actor, 'access', 'request', { patientId: PID, recordIds: [RECORD], purpose: 'TREAT', ...extra });
  return (decisions as Array<Record<string, unknown>>)[0]!;
}

beforeEach(async () => {
  ({ node, cleanup } = await openTestNode());
  patient = new Actor(generateIdentity());
  registrar = new Actor(generateIdentity());
  drLi = new Actor(generateIdentity());
  drWang = new Actor(generateIdentity());
  pharmacist = new Actor(generateIdentity());
  await ok(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-1', name: 'r', roles: ['registrar'], key: registrar.did });
  await ok(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-wang', name: 'w', roles: ['doctor', 'emergency'], key: drWang.did });
  await ok(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'ph-1', name: 'p', roles: ['pharmacist'], key: pharmacist.did });
  await ok(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'dr-li', name: 'l', roles: ['doctor'], key: drLi.did });
  await ok(registrar, 'identity', 'registerPatient', { patientId: PID, patientKey: patient.did });
  await ok(drWang, 'records', 'register', { record: recordMeta });
});
afterEach(async () => cleanup());

describe('consents and the access log', () => {
  it('a doctor elsewhere is denied, then permitted by consent with fields withheld, then denied after revocation; all logged', async () => {
    expect(await read(drLi)).toMatchObject({ decision: 'deny' });
    const { consent } = await ok(patient, 'consent', 'grant', {
      patientId: PID,
      provision: 'permit',
      actor: { kind: 'user', did: drLi.did },
      purposes: ['TREAT'],
      scope: { resourceTypes: ['Observation', 'Patient'] },
      excludeFields: ['Patient.address', 'Patient.telecom'],
      period: {},
    });
    expect(await read(drLi)).toMatchObject({ decision: 'permit', consentUsed: consent, withheldFields: ['Patient.address', 'Patient.telecom'] });
    expect(await read(drLi, { purpose: 'HRESCH' })).toMatchObject({ decision: 'deny' });
    await ok(patient, 'consent', 'revoke', { patientId: PID, consent });
    expect(await read(drLi)).toMatchObject({ decision: 'deny' });

    const log = node.query('access', 'logOf', { patientId: PID }) as Array<{ requester: string; decision: string; purpose: string }>;
    expect(log.map((e) => `${e.decision}:${e.purpose}`)).toEqual(['deny:TREAT', 'permit:TREAT', 'deny:HRESCH', 'deny:TREAT']);
    expect(log.every((e) => e.requester === drLi.did)).toBe(true);
    const fhir = node.query('consent', 'asFhir', { patientId: PID }) as Array<Record<string, unknown>>;
    expect(fhir[0]).toMatchObject({ resourceType: 'Consent', status: 'inactive', provision: { type: 'permit' } });
  });

  it("the custodian's own treating staff read by the default policy; its pharmacist does not", async () => {
    expect(await read(drWang)).toMatchObject({ decision: 'permit', consentUsed: 'policy:custodian-staff' });
    expect(await read(pharmacist)).toMatchObject({ decision: 'deny' });
  });

  it('only the patient or a registered guardian manages consents', async () => {
    const guardian = new Actor(generateIdentity());
    const grant = { patientId: PID, provision: 'permit', actor: { kind: 'institution', id: BAISHI }, purposes: ['TREAT'], scope: {}, period: {} };
    const before = stateSnapshot(node);
    const refused = await node.submit(drLi.tx('consent', 'grant', grant));
    expect(refused.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    expect(stateSnapshot(node), 'a refused grant writes nothing').toBe(before);
    await ok(registrar, 'consent', 'addGuardian', { patientId: PID, guardian: guardian.did, relationship: 'daughter' });
    await ok(guardian, 'consent', 'grant', grant);
    expect(await read(drLi)).toMatchObject({ decision: 'permit' });
    const again = await node.submit(registrar.tx('consent', 'addGuardian', { patientId: PID, guardian: guardian.did, relationship: 'daughter' }));
    expect(again.result).toMatchObject({ status: 'error', code: 'ALREADY_EXISTS' });
    // The guardian's proxy key acts for this patient only: not for another, and not as staff.
    const other = 'PABCDEFGHIJKLMNOPQRSTUVWXYZ';
    await ok(registrar, 'identity', 'registerPatient', { patientId: other });
    const elsewhere = await node.submit(guardian.tx('consent', 'grant', { ...grant, patientId: other }));
    expect(elsewhere.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    const asStaff = await node.submit(guardian.tx('identity', 'registerPatient', { patientId: other }));
    expect(asStaff.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
  });

  it('break-the-glass: emergency clinicians only, ETREAT only, with a reason; flagged for the regulator', async () => {
    const emergency = { emergency: { reason: '患者昏迷送急诊，需查过敏史' }, purpose: 'ETREAT' };
    expect(await read(drWang, emergency)).toMatchObject({ decision: 'permit', reason: 'break-the-glass emergency access' });
    expect(await read(drLi, emergency)).toMatchObject({ decision: 'deny' });
    expect(await read(drWang, { ...emergency, purpose: 'TREAT' })).toMatchObject({ decision: 'deny' });
    await expect(node.submit(drWang.tx('access', 'request', { patientId: PID, recordIds: [RECORD], purpose: 'ETREAT', emergency: { reason: 'x' } }))).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    const flagged = node.query('access', 'emergencies', {}) as Array<{ requester: string; decision: string; reason: string }>;
    expect(flagged).toHaveLength(3);
    expect(flagged.filter((e) => e.decision === 'permit').map((e) => e.requester)).toEqual([drWang.did]);
  });

  it('the patient reads their own records', async () => {
    expect(await read(patient, { purpose: 'PATRQT' })).toMatchObject({ decision: 'permit' });
  });
});
