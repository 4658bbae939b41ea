import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { DEMO_INSTITUTIONS, demoHandle, demoIdentity } from '../../src/demo/index.js';
import type { Receipt } from '../../src/ledger/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { patientIdFor } from '../../src/node/index.js';
import { withResidentIdChecksum } from '../../src/node/patient-id.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

let node: MedchainNode;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ node, cleanup } = await openTestNode()));
afterEach(async () => cleanup());

const secret = Buffer.alloc(32, 7);
/** A synthetic resident id: 17 digits completed with their GB 11643 check digit. */
const residentId = (first17: string) => withResidentIdChecksum(first17);
const pid = (nationalIdOr17: string) => patientIdFor(nationalIdOr17.length === 17 ? residentId(nationalIdOr17) : nationalIdOr17, secret);
const BAISHI = 'baishi-health-centre';

async function call(actor: Actor, method: string, args: unknown): Promise<Receipt> {
  return node.submit(actor.tx('identity', method, args));
}
async function ok(actor: Actor, method: string, args: unknown): Promise<unknown> {
  const r = await call(actor, method, args);
  expect(r.result, `${method} ${JSON.stringify(r.result)}`).toMatchObject({ status: 'ok' });
  return (r.result as { result?: unknown }).result;
}
async function refused(actor: Actor, method: string, args: unknown, code: string): Promise<void> {
  const before = stateSnapshot(node);
  const r = await call(actor, method, args);
  expect(r.result).toMatchObject({ status: 'error', code });
  expect(stateSnapshot(node), 'a refused tx writes nothing').toBe(before);
}
const q = (name: string, args: unknown = {}) => node.query('identity', name, args);

async function enrol(inst: string, staffId: string, roles: string[]): Promise<Actor> {
  const person = new Actor(generateIdentity());
  await ok(admin(inst), 'enrolStaff', { staffId, name: staffId, roles, key: person.did });
  return person;
}

describe('genesis', () => {
  it('writes every founding institution with its node and admin keys', () => {
    const institutions = q('institutions') as Array<{ id: string; type: string; status: string }>;
    expect(institutions.map((i) => i.id).sort()).toEqual(DEMO_INSTITUTIONS.map((i) => i.id).sort());
    expect(new Set(institutions.map((i) => i.type)).size).toBe(9);
    for (const inst of DEMO_INSTITUTIONS) {
      expect(q('resolveKey', { did: demoIdentity(demoHandle.node(inst.id)).did })).toMatchObject({ kind: 'node', institution: inst.id, status: 'active' });
      expect(q('resolveKey', { did: demoIdentity(demoHandle.admin(inst.id)).did })).toMatchObject({ kind: 'admin', institution: inst.id });
    }
    expect(q('consortium')).toMatchObject({ name: '青山县医共体', admissionThreshold: { numerator: 2, denominator: 3 } });
  });
});

describe('staff', () => {
  it('an admin enrols staff whose roles then come from the ledger', async () => {
    const doctor = await enrol(LEAD, 'dr-new', ['doctor']);
    expect(q('staff', { institution: LEAD, staffId: 'dr-new' })).toMatchObject({ roles: ['doctor'], did: doctor.did, status: 'active' });
    expect((q('staffOf', { institution: LEAD }) as unknown[]).length).toBe(1);
    // A doctor may register patients; a pharmacist may not.
    await ok(doctor, 'registerPatient', { patientId: pid('11010119900307777') });
    const pharmacist = await enrol(LEAD, 'ph-new', ['pharmacist']);
    await refused(pharmacist, 'registerPatient', { patientId: pid('11010119900307800') }, 'FORBIDDEN');
  });

  it('refuses non-admins, duplicates, reused keys and unknown roles', async () => {
    const doctor = await enrol(LEAD, 'dr-a', ['doctor']);
    await refused(doctor, 'enrolStaff', { staffId: 'dr-b', name: 'b', roles: ['doctor'], key: generateIdentity().did }, 'FORBIDDEN');
    await refused(admin(LEAD), 'enrolStaff', { staffId: 'dr-a', name: 'a', roles: ['doctor'], key: generateIdentity().did }, 'ALREADY_EXISTS');
    await refused(admin(BAISHI), 'enrolStaff', { staffId: 'dr-c', name: 'c', roles: ['doctor'], key: doctor.did }, 'KEY_IN_USE');
    await expect(call(admin(LEAD), 'enrolStaff', { staffId: 'dr-d', name: 'd', roles: ['surgeon-general'], key: generateIdentity().did })).rejects.toMatchObject({ code: 'INVALID_ARGS' });
  });

  it('role changes take effect at once; revoked staff are refused', async () => {
    const nurse = await enrol(LEAD, 'nurse-x', ['pharmacist']);
    await refused(nurse, 'registerPatient', { patientId: pid('11010119900307001') }, 'FORBIDDEN');
    await ok(admin(LEAD), 'setStaffRoles', { staffId: 'nurse-x', roles: ['nurse'] });
    await ok(nurse, 'registerPatient', { patientId: pid('11010119900307001') });
    await ok(admin(LEAD), 'revokeStaff', { staffId: 'nurse-x', reason: 'left the hospital' });
    await refused(nurse, 'registerPatient', { patientId: pid('11010119900307002') }, 'SIGNER_REVOKED');
  });

  it('an admin cannot touch another institution\'s staff', async () => {
    await enrol(LEAD, 'dr-lead', ['doctor']);
    await refused(admin(BAISHI), 'revokeStaff', { staffId: 'dr-lead' }, 'NOT_FOUND');
  });
});

describe('keys', () => {
  it('rotation: the old key is refused, the new one works', async () => {
    const doctor = await enrol(LEAD, 'dr-rot', ['doctor']);
    const next = new Actor(generateIdentity());
    await ok(doctor, 'rotateKey', { newKey: next.did });
    expect(q('staff', { institution: LEAD, staffId: 'dr-rot' })).toMatchObject({ did: next.did });
    expect(q('resolveKey', { did: doctor.did })).toMatchObject({ status: 'revoked', replacedBy: next.did });
    await refused(doctor, 'registerPatient', { patientId: pid('11010119900307003') }, 'SIGNER_REVOKED');
    await ok(next, 'registerPatient', { patientId: pid('11010119900307003') });
  });

  it('admin key rotation updates the institution', async () => {
    const next = new Actor(generateIdentity());
    await ok(admin(BAISHI), 'rotateKey', { newKey: next.did });
    expect((q('institution', { id: BAISHI }) as { admins: string[] }).admins).toEqual([next.did]);
    await ok(next, 'enrolStaff', { staffId: 'dr-after', name: 'n', roles: ['doctor'], key: generateIdentity().did });
  });

  it('revocation by the holder or its own admin only, and never the last admin key', async () => {
    const a = await enrol(LEAD, 'dr-1', ['doctor']);
    const b = await enrol(LEAD, 'dr-2', ['doctor']);
    await refused(admin(BAISHI), 'revokeKey', { did: a.did }, 'FORBIDDEN');
    await refused(b, 'revokeKey', { did: a.did }, 'FORBIDDEN');
    await ok(a, 'revokeKey', { did: a.did, reason: 'phone lost' });
    await ok(admin(LEAD), 'revokeKey', { did: b.did });
    await refused(b, 'registerPatient', { patientId: pid('11010119900307004') }, 'SIGNER_REVOKED');
    await refused(admin(LEAD), 'revokeKey', { did: admin(LEAD).did }, 'FORBIDDEN');
  });
});

describe('patients', () => {
  it('the same person registered at two institutions is one patient; nothing personal is stored', async () => {
    const nationalId = residentId('11010119900307001');
    const registrarA = await enrol(LEAD, 'reg-a', ['registrar']);
    const registrarB = await enrol(BAISHI, 'reg-b', ['registrar']);
    const patientKey = new Actor(generateIdentity());
    const first = (await ok(registrarA, 'registerPatient', { patientId: pid(nationalId), patientKey: patientKey.did })) as { created: boolean };
    const second = (await ok(registrarB, 'registerPatient', { patientId: pid(` ${nationalId.slice(0, 6)}-${nationalId.slice(6).toLowerCase()} `) })) as { created: boolean };
    const again = (await ok(registrarB, 'registerPatient', { patientId: pid(nationalId) })) as { created: boolean; institutions: string[] };
    expect([first.created, second.created, again.created]).toEqual([true, false, false]);
    expect(again.institutions).toEqual([LEAD, BAISHI]);
    const patient = q('patient', { patientId: pid(nationalId) }) as { registrations: unknown[]; keys: string[] };
    expect(patient.registrations).toHaveLength(2);
    expect(patient.keys).toEqual([patientKey.did]);
    expect(q('resolveKey', { did: patientKey.did })).toMatchObject({ kind: 'patient', subject: pid(nationalId) });
    expect((q('patientsOf', { institution: BAISHI }) as unknown[]).length).toBe(1);
    expect(stateSnapshot(node)).not.toContain(nationalId);
  });

  it('patient ids are only accepted in their pseudonymous form', async () => {
    const registrar = await enrol(LEAD, 'reg-c', ['registrar']);
    await expect(call(registrar, 'registerPatient', { patientId: residentId('11010119900307001') })).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await expect(call(registrar, 'registerPatient', { patientId: pid('11010119900307005'), name: '张三' })).rejects.toMatchObject({ code: 'INVALID_ARGS' });
  });

  it('binding a patient key needs a registration at the registrar\'s institution', async () => {
    const registrarA = await enrol(LEAD, 'reg-d', ['registrar']);
    const registrarB = await enrol(BAISHI, 'reg-e', ['registrar']);
    await ok(registrarA, 'registerPatient', { patientId: pid('11010119900307006') });
    await refused(registrarB, 'bindPatientKey', { patientId: pid('11010119900307006'), key: generateIdentity().did }, 'FORBIDDEN');
    await ok(registrarA, 'bindPatientKey', { patientId: pid('11010119900307006'), key: generateIdentity().did });
  });
});

describe('devices', () => {
  it('bound to an institution and optionally a patient; revocable by that institution only', async () => {
    const nurse = await enrol(LEAD, 'nurse-dev', ['nurse']);
    const otherNurse = await enrol(BAISHI, 'nurse-dev2', ['nurse']);
    await ok(nurse, 'registerPatient', { patientId: pid('11010119900307007') });
    const meter = new Actor(generateIdentity());
    await ok(nurse, 'registerDevice', { deviceId: 'glucometer-1', key: meter.did, kind: 'glucose-meter', patientId: pid('11010119900307007') });
    await ok(nurse, 'registerDevice', { deviceId: 'ecg-1', key: generateIdentity().did, kind: 'ecg' });
    expect((q('devicesOf', { owner: `inst:${LEAD}` }) as unknown[]).length).toBe(2);
    expect((q('devicesOf', { owner: `patient:${pid('11010119900307007')}` }) as Array<{ id: string }>).map((d) => d.id)).toEqual(['glucometer-1']);
    expect(q('resolveKey', { did: meter.did })).toMatchObject({ kind: 'device', institution: LEAD });
    await refused(nurse, 'registerDevice', { deviceId: 'x-1', key: generateIdentity().did, kind: 'ecg', patientId: pid('11010119900307008') }, 'NOT_FOUND');
    await refused(otherNurse, 'revokeDevice', { deviceId: 'glucometer-1' }, 'FORBIDDEN');
    await ok(nurse, 'revokeDevice', { deviceId: 'glucometer-1' });
    expect(q('resolveKey', { did: meter.did })).toMatchObject({ status: 'revoked' });
  });
});

describe('governance', () => {
  const members = DEMO_INSTITUTIONS.map((i) => i.id);
  const newcomer = () => {
    const nodeKey = generateIdentity();
    const adminKey = new Actor(generateIdentity());
    return {
      input: { id: 'dongpo-clinic', name: '东坡村卫生室', type: 'clinic', endpoint: 'http://127.0.0.1:8090', nodeKey: nodeKey.did, admins: [adminKey.did] },
      nodeKey,
      adminKey,
    };
  };

  it('admission passes exactly at the 2/3 threshold of active members', async () => {
    // 10 members: 7 yes votes are needed (7 * 3 >= 2 * 10), 6 are not.
    const c = newcomer();
    const proposal = (await call(admin(members[0]!), 'proposeAdmission', { institution: c.input })).id;
    for (let i = 1; i < 6; i++) expect(await ok(admin(members[i]!), 'vote', { proposal, approve: true })).toMatchObject({ status: 'open' });
    expect(() => q('institution', { id: 'dongpo-clinic' })).toThrow(/no institution/);
    await refused(admin(members[1]!), 'vote', { proposal, approve: true }, 'ALREADY_VOTED');
    expect(await ok(admin(members[6]!), 'vote', { proposal, approve: true })).toMatchObject({ status: 'passed' });
    expect(q('institution', { id: 'dongpo-clinic' })).toMatchObject({ status: 'active', type: 'clinic' });
    await refused(admin(members[7]!), 'vote', { proposal, approve: true }, 'PROPOSAL_CLOSED');
    // The new member's admin can act and its node key may now propose blocks.
    await ok(c.adminKey, 'enrolStaff', { staffId: 'dr-dongpo', name: '新医生', roles: ['doctor'], key: generateIdentity().did });
    expect(node.runtime.isProposer(c.nodeKey.did, node.ledger.store)).toBe(true);
  });

  it('is rejected once enough members say no', async () => {
    const c = newcomer();
    const proposal = (await call(admin(members[0]!), 'proposeAdmission', { institution: c.input })).id;
    // 4 no votes leave at most 6 possible yes votes: below 7.
    for (let i = 1; i <= 3; i++) expect(await ok(admin(members[i]!), 'vote', { proposal, approve: false })).toMatchObject({ status: 'open' });
    expect(await ok(admin(members[4]!), 'vote', { proposal, approve: false })).toMatchObject({ status: 'rejected' });
    expect(q('proposals', { status: 'rejected' })).toHaveLength(1);
  });

  it('only admins vote, and candidates may not reuse registered keys', async () => {
    const doctor = await enrol(LEAD, 'dr-vote', ['doctor']);
    const c = newcomer();
    const proposal = (await call(admin(LEAD), 'proposeAdmission', { institution: c.input })).id;
    await refused(doctor, 'vote', { proposal, approve: true }, 'FORBIDDEN');
    await refused(admin(BAISHI), 'proposeAdmission', { institution: { ...newcomer().input, id: 'other-clinic', admins: [doctor.did] } }, 'KEY_IN_USE');
    await refused(admin(BAISHI), 'proposeAdmission', { institution: { ...newcomer().input, id: LEAD } }, 'ALREADY_EXISTS');
  });

  it('removal by vote cuts off the institution, its staff and its node key', async () => {
    const target = 'kangning-pharmacy';
    const pharmacist = await enrol(target, 'ph-1', ['pharmacist']);
    const proposal = (await call(admin(LEAD), 'proposeRemoval', { institution: target, reason: '违规经营' })).id;
    await refused(admin(target), 'vote', { proposal, approve: false }, 'FORBIDDEN');
    // 9 eligible voters: 6 yes needed (6 * 3 >= 2 * 9).
    const voters = members.filter((m) => m !== target && m !== LEAD);
    for (let i = 0; i < 4; i++) await ok(admin(voters[i]!), 'vote', { proposal, approve: true });
    expect(await ok(admin(voters[4]!), 'vote', { proposal, approve: true })).toMatchObject({ status: 'passed' });
    expect(q('institution', { id: target })).toMatchObject({ status: 'removed' });
    await refused(pharmacist, 'rotateKey', { newKey: generateIdentity().did }, 'INSTITUTION_INACTIVE');
    expect(node.runtime.isProposer(demoIdentity(demoHandle.node(target)).did, node.ledger.store)).toBe(false);
  });
});
