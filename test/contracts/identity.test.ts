import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { identity } from '../../src/contracts/index.js';
import { generateIdentity } from '../../src/crypto/index.js';
import { makeUserRequest } from '../../src/api/user-auth.js';
import { DEMO_INSTITUTIONS, demoGenesis, demoHandle, demoHostedInstitutions, demoIdentity, seedDemo, seedDemoRecords } from '../../src/demo/index.js';
import type { Receipt } from '../../src/ledger/index.js';
import { patientIdFor, type MedchainNode } from '../../src/node/index.js';
import { withResidentIdChecksum } from '../../src/node/patient-id.js';
import { allTableText, buildProposal, committedState, derivedTables } from '../helpers/ledger-fixtures.js';
import { Actor, admin, LEAD, openTestNode } from '../helpers/test-node.js';

const { resolveSigner, isProposer } = identity;

let node: MedchainNode;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ node, cleanup } = await openTestNode()));
afterEach(async () => cleanup());

const BAISHI = 'baishi-health-centre';
const PHARMACY = 'kangning-pharmacy';
const MEMBERS = DEMO_INSTITUTIONS.map((i) => i.id);
const secret = Buffer.alloc(32, 7);
/** A pseudonymous patient id for a synthetic resident id (17 digits completed with their check digit). */
const pid = (first17: string) => patientIdFor(withResidentIdChecksum(first17), secret);
const nodeKeyOf = (inst: string) => demoIdentity(demoHandle.node(inst));

async function call(actor: Actor, method: string, args: unknown): Promise<Receipt> {
  return node.submit(actor.tx('identity', method, args));
}
async function ok<T = Record<string, unknown>>(actor: Actor, method: string, args: unknown): Promise<T> {
  const r = await call(actor, method, args);
  expect(r.result, `${method} ${JSON.stringify(r.result)}`).toMatchObject({ status: 'ok' });
  return (r.result as { result: T }).result;
}
/** The tx is sequenced, recorded with `code`, and writes nothing. */
async function refused(actor: Actor, method: string, args: unknown, code: string): Promise<void> {
  const before = derivedTables(node.ledger.store.db);
  const r = await call(actor, method, args);
  expect(r.result, `${method} ${JSON.stringify(args)}`).toMatchObject({ status: 'error', code });
  expect(derivedTables(node.ledger.store.db), 'a refused tx writes nothing').toEqual(before);
}
/** The tx is refused at admission (schema), before any block. */
async function inadmissible(actor: Actor, method: string, args: unknown, code = 'INVALID_ARGS'): Promise<void> {
  await expect(call(actor, method, args)).rejects.toMatchObject({ code });
}
const q = <T = unknown>(name: string, args: unknown = {}) => node.query('identity', name, args) as T;
const signer = (did: string) => resolveSigner(did, committedState(node));
const proposer = (did: string) => isProposer(did, committedState(node));

async function enrol(inst: string, staffId: string, roles: string[]): Promise<Actor> {
  const person = new Actor(generateIdentity());
  await ok(admin(inst), 'enrolStaff', { staffId, name: staffId, roles, key: person.did });
  return person;
}

/** Smallest number of yes votes out of `eligible` that meets the genesis threshold (yes * den >= num * eligible). */
function required(eligible: number): number {
  const { numerator, denominator } = demoGenesis().governance.admissionThreshold;
  return Math.ceil((numerator * eligible) / denominator);
}

function candidate(id = 'dongpo-clinic') {
  const nodeKey = generateIdentity();
  const adminKey = new Actor(generateIdentity());
  return {
    input: { id, name: '东坡村卫生室', type: 'clinic', endpoint: 'http://127.0.0.1:8090', nodeKey: nodeKey.did, admins: [adminKey.did], location: '青山县' },
    nodeKey,
    adminKey,
  };
}

describe('genesis', () => {
  it('writes every founding institution with its node and admin keys, and the consortium config', () => {
    const genesis = demoGenesis();
    const institutions = q<Array<{ id: string; status: string; nodeKey: string; admins: string[]; since: number }>>('institutions');
    expect(institutions.map((i) => i.id).sort()).toEqual(MEMBERS.slice().sort());
    for (const g of genesis.institutions) {
      const inst = institutions.find((i) => i.id === g.id)!;
      expect(inst).toMatchObject({ ...g, status: 'active', since: genesis.time });
      expect(q('resolveKey', { did: g.nodeKey })).toMatchObject({ kind: 'node', institution: g.id, subject: g.id, status: 'active' });
      expect(q('resolveKey', { did: g.admins[0]! })).toMatchObject({ kind: 'admin', institution: g.id, subject: g.id, status: 'active' });
      expect(proposer(g.nodeKey)).toBe(true);
      expect(proposer(g.admins[0]!)).toBe(false);
      expect(signer(g.admins[0]!)).toMatchObject({ kind: 'admin', institution: g.id, institutionType: g.type, roles: ['admin'] });
      expect(signer(g.nodeKey)).toMatchObject({ kind: 'node', institution: g.id, roles: [] });
    }
    expect(q('consortium')).toEqual({ chainId: genesis.chainId, name: genesis.consortium.name, admissionThreshold: { numerator: 2, denominator: 3 } });
    expect(() => signer(generateIdentity().did)).toThrow(expect.objectContaining({ code: 'UNKNOWN_SIGNER' }));
    expect(proposer(generateIdentity().did)).toBe(false);
  });
});

describe('staff', () => {
  it('an admin enrols staff; their roles are read from the ledger state on every tx', async () => {
    const person = new Actor(generateIdentity());
    const r = await call(admin(LEAD), 'enrolStaff', { staffId: 'ph-new', name: '新药师', roles: ['pharmacist'], key: person.did });
    expect(r.result).toMatchObject({
      status: 'ok',
      result: { institution: LEAD, staffId: 'ph-new' },
      events: [{ contract: 'identity', type: 'staff.enrolled', data: { institution: LEAD, staffId: 'ph-new', roles: ['pharmacist'] } }],
    });
    expect(q('staff', { institution: LEAD, staffId: 'ph-new' })).toMatchObject({ roles: ['pharmacist'], did: person.did, status: 'active', institution: LEAD });
    expect(q('resolveKey', { did: person.did })).toMatchObject({ kind: 'staff', subject: 'ph-new', institution: LEAD, status: 'active' });
    expect(signer(person.did)).toEqual({ did: person.did, kind: 'staff', subject: 'ph-new', institution: LEAD, institutionType: 'hospital', roles: ['pharmacist'] });
    expect(q<unknown[]>('staffOf', { institution: LEAD })).toHaveLength(1);
    await refused(person, 'registerPatient', { patientId: pid('11010119900307001') }, 'FORBIDDEN');
    await ok(admin(LEAD), 'setStaffRoles', { staffId: 'ph-new', roles: ['pharmacist', 'registrar'] });
    expect(signer(person.did).roles).toEqual(['pharmacist', 'registrar']);
    await ok(person, 'registerPatient', { patientId: pid('11010119900307001') });
    await ok(admin(LEAD), 'setStaffRoles', { staffId: 'ph-new', roles: ['pharmacist'] });
    await refused(person, 'registerPatient', { patientId: pid('11010119900307002') }, 'FORBIDDEN');
  });

  it('refuses non-admins, duplicate staff ids, reused keys and unknown roles', async () => {
    const doctor = await enrol(LEAD, 'dr-a', ['doctor']);
    const fresh = () => generateIdentity().did;
    await refused(doctor, 'enrolStaff', { staffId: 'dr-b', name: 'b', roles: ['doctor'], key: fresh() }, 'FORBIDDEN');
    await refused(new Actor(nodeKeyOf(LEAD)), 'enrolStaff', { staffId: 'dr-b', name: 'b', roles: ['doctor'], key: fresh() }, 'FORBIDDEN');
    await refused(admin(LEAD), 'enrolStaff', { staffId: 'dr-a', name: 'a', roles: ['nurse'], key: fresh() }, 'ALREADY_EXISTS');
    // Staff ids are per institution.
    await ok(admin(BAISHI), 'enrolStaff', { staffId: 'dr-a', name: 'a', roles: ['doctor'], key: fresh() });
    for (const key of [doctor.did, admin(BAISHI).did, nodeKeyOf(PHARMACY).did]) {
      await refused(admin(BAISHI), 'enrolStaff', { staffId: 'dr-c', name: 'c', roles: ['doctor'], key }, 'KEY_IN_USE');
    }
    await inadmissible(admin(LEAD), 'enrolStaff', { staffId: 'dr-d', name: 'd', roles: ['surgeon-general'], key: fresh() });
    await inadmissible(admin(LEAD), 'enrolStaff', { staffId: 'dr-d', name: 'd', roles: [], key: fresh() });
    await inadmissible(admin(LEAD), 'enrolStaff', { staffId: 'dr-d', name: 'd', roles: ['doctor', 'doctor'], key: fresh() });
    await inadmissible(admin(LEAD), 'enrolStaff', { staffId: 'Dr D', name: 'd', roles: ['doctor'], key: fresh() });
    await inadmissible(admin(LEAD), 'enrolStaff', { staffId: 'dr-d', name: 'd', roles: ['doctor'], key: 'did:web:example.org' });
  });

  it('setStaffRoles and revokeStaff act only on the admin\'s own, active staff', async () => {
    await enrol(LEAD, 'dr-lead', ['doctor']);
    await refused(admin(BAISHI), 'setStaffRoles', { staffId: 'dr-lead', roles: ['nurse'] }, 'NOT_FOUND');
    await refused(admin(BAISHI), 'revokeStaff', { staffId: 'dr-lead' }, 'NOT_FOUND');
    await refused(admin(LEAD), 'setStaffRoles', { staffId: 'dr-nobody', roles: ['nurse'] }, 'NOT_FOUND');
    await ok(admin(LEAD), 'revokeStaff', { staffId: 'dr-lead' });
    await refused(admin(LEAD), 'setStaffRoles', { staffId: 'dr-lead', roles: ['nurse'] }, 'SIGNER_REVOKED');
  });

  it("revokeStaff: the staff member's next tx fails with SIGNER_REVOKED", async () => {
    const nurse = await enrol(LEAD, 'nurse-x', ['nurse']);
    await ok(nurse, 'registerPatient', { patientId: pid('11010119900307001') });
    await ok(admin(LEAD), 'revokeStaff', { staffId: 'nurse-x', reason: 'left the hospital' });
    expect(q('staff', { institution: LEAD, staffId: 'nurse-x' })).toMatchObject({ status: 'revoked' });
    expect(q('resolveKey', { did: nurse.did })).toMatchObject({ status: 'revoked' });
    expect(() => signer(nurse.did)).toThrow(expect.objectContaining({ code: 'SIGNER_REVOKED' }));
    await refused(nurse, 'registerPatient', { patientId: pid('11010119900307002') }, 'SIGNER_REVOKED');
    await refused(nurse, 'rotateKey', { newKey: generateIdentity().did }, 'SIGNER_REVOKED');
    // A revoked key is never registered again.
    await refused(admin(LEAD), 'enrolStaff', { staffId: 'nurse-y', name: 'y', roles: ['nurse'], key: nurse.did }, 'KEY_IN_USE');
  });
});

describe('keys', () => {
  it('rotateKey (staff): the old key is refused afterwards, the new one works, staff.did follows', async () => {
    const doctor = await enrol(LEAD, 'dr-rot', ['doctor']);
    const next = new Actor(generateIdentity());
    expect(await ok(doctor, 'rotateKey', { newKey: next.did })).toEqual({ revoked: doctor.did, active: next.did });
    expect(q('staff', { institution: LEAD, staffId: 'dr-rot' })).toMatchObject({ did: next.did, status: 'active' });
    expect(q('resolveKey', { did: doctor.did })).toMatchObject({ status: 'revoked', replacedBy: next.did });
    expect(q('resolveKey', { did: next.did })).toMatchObject({ kind: 'staff', subject: 'dr-rot', institution: LEAD, status: 'active' });
    expect(signer(next.did).roles).toEqual(['doctor']);
    await refused(doctor, 'registerPatient', { patientId: pid('11010119900307003') }, 'SIGNER_REVOKED');
    await ok(next, 'registerPatient', { patientId: pid('11010119900307003') });
    await refused(next, 'rotateKey', { newKey: doctor.did }, 'KEY_IN_USE');
    await refused(next, 'rotateKey', { newKey: next.did }, 'KEY_IN_USE');
    await refused(next, 'rotateKey', { newKey: admin(BAISHI).did }, 'KEY_IN_USE');
  });

  it('rotateKey (admin and node keys) updates the institution record', async () => {
    const nextAdmin = new Actor(generateIdentity());
    await ok(admin(BAISHI), 'rotateKey', { newKey: nextAdmin.did });
    expect(q<{ admins: string[] }>('institution', { id: BAISHI }).admins).toEqual([nextAdmin.did]);
    await ok(nextAdmin, 'enrolStaff', { staffId: 'dr-after', name: 'n', roles: ['doctor'], key: generateIdentity().did });
    await refused(admin(BAISHI), 'enrolStaff', { staffId: 'dr-old', name: 'o', roles: ['doctor'], key: generateIdentity().did }, 'SIGNER_REVOKED');

    const oldNode = nodeKeyOf(BAISHI);
    const nextNode = generateIdentity();
    await ok(new Actor(oldNode), 'rotateKey', { newKey: nextNode.did });
    expect(q('institution', { id: BAISHI })).toMatchObject({ nodeKey: nextNode.did });
    expect(proposer(oldNode.did)).toBe(false);
    expect(proposer(nextNode.did)).toBe(true);
    const head = node.ledger.head();
    expect(() => node.ledger.executor.checkProposal(buildProposal(head, [], { time: head.time }, nextNode), head)).not.toThrow();
    expect(() => node.ledger.executor.checkProposal(buildProposal(head, [], { time: head.time }, oldNode), head)).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_REJECTED' }),
    );
  });

  it('revokeKey: by its holder or its own admin; refused for another institution\'s admin and other staff', async () => {
    const a = await enrol(LEAD, 'dr-1', ['doctor']);
    const b = await enrol(LEAD, 'dr-2', ['doctor']);
    await refused(admin(BAISHI), 'revokeKey', { did: a.did }, 'FORBIDDEN');
    await refused(b, 'revokeKey', { did: a.did }, 'FORBIDDEN');
    await refused(admin(LEAD), 'revokeKey', { did: generateIdentity().did }, 'NOT_FOUND');
    await ok(a, 'revokeKey', { did: a.did, reason: 'phone lost' });
    await refused(a, 'registerPatient', { patientId: pid('11010119900307004') }, 'SIGNER_REVOKED');
    await ok(admin(LEAD), 'revokeKey', { did: b.did });
    await refused(b, 'registerPatient', { patientId: pid('11010119900307004') }, 'SIGNER_REVOKED');
    await refused(admin(BAISHI), 'revokeKey', { did: admin(LEAD).did }, 'FORBIDDEN');
  });

  it('revokeKey never removes the last active admin key of an institution', async () => {
    await refused(admin(LEAD), 'revokeKey', { did: admin(LEAD).did }, 'FORBIDDEN');
    // With two admin keys (a genesis that gives the lead hospital a second admin), one may go, then not the other.
    await cleanup();
    const second = new Actor(generateIdentity());
    const genesis = demoGenesis();
    genesis.institutions.find((i) => i.id === LEAD)!.admins.push(second.did);
    ({ node, cleanup } = await openTestNode({ genesis }));
    await ok(admin(LEAD), 'revokeKey', { did: second.did });
    await refused(second, 'enrolStaff', { staffId: 'dr-x', name: 'x', roles: ['doctor'], key: generateIdentity().did }, 'SIGNER_REVOKED');
    await refused(admin(LEAD), 'revokeKey', { did: admin(LEAD).did }, 'FORBIDDEN');
    await ok(admin(LEAD), 'enrolStaff', { staffId: 'dr-y', name: 'y', roles: ['doctor'], key: generateIdentity().did });
  });
});

describe('patients', () => {
  it('the same patient id registered at two institutions resolves to one patient with two registrations', async () => {
    const registrarA = await enrol(LEAD, 'reg-a', ['registrar']);
    const registrarB = await enrol(BAISHI, 'reg-b', ['registrar']);
    const nationalId = withResidentIdChecksum('11010119900307001');
    const patient = pid('11010119900307001');
    // Each institution derives the id from the person's national id, spelled however its records spell it.
    expect(patientIdFor(` ${nationalId.slice(0, 6)}-${nationalId.slice(6)} `, secret)).toBe(patient);
    const first = await call(registrarA, 'registerPatient', { patientId: patient });
    expect(first.result).toMatchObject({ status: 'ok', result: { patientId: patient, created: true, institutions: [LEAD] }, events: [{ type: 'patient.registered' }] });
    const second = await call(registrarB, 'registerPatient', { patientId: patientIdFor(nationalId, secret) });
    expect(second.result).toMatchObject({ status: 'ok', result: { created: false, institutions: [LEAD, BAISHI] } });
    const stored = q<{ id: string; registrations: Array<{ institution: string; at: number }>; keys: string[] }>('patient', { patientId: patient });
    expect(stored.registrations.map((r) => r.institution)).toEqual([LEAD, BAISHI]);
    expect(stored.registrations[0]!.at).toBe(node.ledger.store.getBlock(first.height)!.header.time);
    expect(q<Array<{ id: string }>>('patientsOf', { institution: LEAD }).map((p) => p.id)).toEqual([patient]);
    expect(q<Array<{ id: string }>>('patientsOf', { institution: BAISHI }).map((p) => p.id)).toEqual([patient]);
    expect(node.ledger.store.rangeRaw('id/patient/')).toHaveLength(1);
  });

  it('registering again at the same institution is idempotent', async () => {
    const registrar = await enrol(LEAD, 'reg-a', ['registrar']);
    const patient = pid('11010119900307005');
    await ok(registrar, 'registerPatient', { patientId: patient });
    const before = q('patient', { patientId: patient });
    const again = await call(registrar, 'registerPatient', { patientId: patient });
    expect(again.result).toMatchObject({ status: 'ok', result: { created: false, institutions: [LEAD] } });
    expect((again.result as { events?: unknown[] }).events).toBeUndefined();
    expect(q('patient', { patientId: patient })).toEqual(before);
    expect(q<unknown[]>('patientsOf', { institution: LEAD })).toHaveLength(1);
  });

  it('only registrar roles of an institution register patients', async () => {
    const pharmacist = await enrol(LEAD, 'ph-a', ['pharmacist']);
    const researcher = await enrol('provincial-medical-research', 'res-a', ['researcher']);
    await refused(pharmacist, 'registerPatient', { patientId: pid('11010119900307006') }, 'FORBIDDEN');
    await refused(researcher, 'registerPatient', { patientId: pid('11010119900307006') }, 'FORBIDDEN');
    await refused(new Actor(nodeKeyOf(LEAD)), 'registerPatient', { patientId: pid('11010119900307006') }, 'FORBIDDEN');
    // An admin holds the admin role, which may register.
    await ok(admin(LEAD), 'registerPatient', { patientId: pid('11010119900307006') });
  });

  it('accepts patient ids only in pseudonymous form and no personal fields', async () => {
    const registrar = await enrol(LEAD, 'reg-c', ['registrar']);
    await inadmissible(registrar, 'registerPatient', { patientId: withResidentIdChecksum('11010119900307001') });
    await inadmissible(registrar, 'registerPatient', { patientId: pid('11010119900307005'), name: '张三' });
    await inadmissible(registrar, 'registerPatient', { patientId: pid('11010119900307005').toLowerCase() });
  });

  it('binds patient keys, which then act as patient signers', async () => {
    const registrarA = await enrol(LEAD, 'reg-d', ['registrar']);
    const registrarB = await enrol(BAISHI, 'reg-e', ['registrar']);
    const patient = pid('11010119900307007');
    const phone = new Actor(generateIdentity());
    await ok(registrarA, 'registerPatient', { patientId: patient, patientKey: phone.did });
    expect(q('resolveKey', { did: phone.did })).toMatchObject({ kind: 'patient', subject: patient, status: 'active' });
    expect(signer(phone.did)).toEqual({ did: phone.did, kind: 'patient', subject: patient, institution: undefined, institutionType: undefined, roles: [] });
    // Registering elsewhere with the same key is idempotent for the key.
    await ok(registrarB, 'registerPatient', { patientId: patient, patientKey: phone.did });
    expect(q<{ keys: string[] }>('patient', { patientId: patient }).keys).toEqual([phone.did]);
    // A second key, bound at an institution where the patient is registered.
    const tablet = new Actor(generateIdentity());
    await refused(registrarB, 'bindPatientKey', { patientId: pid('11010119900307008'), key: tablet.did }, 'NOT_FOUND');
    await ok(registrarA, 'bindPatientKey', { patientId: patient, key: tablet.did });
    await refused(registrarA, 'bindPatientKey', { patientId: patient, key: tablet.did }, 'KEY_IN_USE');
    await refused(registrarA, 'bindPatientKey', { patientId: patient, key: registrarB.did }, 'KEY_IN_USE');
    expect(q<{ keys: string[] }>('patient', { patientId: patient }).keys).toEqual([phone.did, tablet.did]);
    // Patients are not staff.
    await refused(phone, 'registerPatient', { patientId: pid('11010119900307009') }, 'FORBIDDEN');
    await refused(phone, 'enrolStaff', { staffId: 'me', name: 'me', roles: ['admin'], key: generateIdentity().did }, 'FORBIDDEN');
    // A patient manages their own keys.
    const newPhone = new Actor(generateIdentity());
    await ok(phone, 'rotateKey', { newKey: newPhone.did });
    expect(q<{ keys: string[] }>('patient', { patientId: patient }).keys).toEqual([newPhone.did, tablet.did]);
    await refused(phone, 'rotateKey', { newKey: generateIdentity().did }, 'SIGNER_REVOKED');
  });

  it('binding a key needs a registration at the registrar\'s institution', async () => {
    const registrarA = await enrol(LEAD, 'reg-f', ['registrar']);
    const registrarB = await enrol(BAISHI, 'reg-g', ['registrar']);
    await ok(registrarA, 'registerPatient', { patientId: pid('11010119900307010') });
    await refused(registrarB, 'bindPatientKey', { patientId: pid('11010119900307010'), key: generateIdentity().did }, 'FORBIDDEN');
  });
});

describe('devices', () => {
  it('are bound to an institution and optionally a patient, sign as devices, and can be revoked by that institution', async () => {
    const nurse = await enrol(LEAD, 'nurse-dev', ['nurse']);
    const otherNurse = await enrol(BAISHI, 'nurse-dev2', ['nurse']);
    const pharmacist = await enrol(LEAD, 'ph-dev', ['pharmacist']);
    const patient = pid('11010119900307011');
    await ok(nurse, 'registerPatient', { patientId: patient });
    const meter = new Actor(generateIdentity());
    const ecg = new Actor(generateIdentity());
    await ok(nurse, 'registerDevice', { deviceId: 'glucometer-1', key: meter.did, kind: 'glucose-meter', patientId: patient });
    await ok(nurse, 'registerDevice', { deviceId: 'ecg-1', key: ecg.did, kind: 'ecg' });
    expect(q('device', { deviceId: 'glucometer-1' })).toMatchObject({ institution: LEAD, patient, status: 'active', did: meter.did });
    expect(q('device', { deviceId: 'ecg-1' })).not.toHaveProperty('patient');
    expect(q<Array<{ id: string }>>('devicesOf', { owner: `inst:${LEAD}` }).map((d) => d.id)).toEqual(['ecg-1', 'glucometer-1']);
    expect(q<Array<{ id: string }>>('devicesOf', { owner: `patient:${patient}` }).map((d) => d.id)).toEqual(['glucometer-1']);
    expect(q('devicesOf', { owner: `inst:${BAISHI}` })).toEqual([]);
    expect(signer(meter.did)).toMatchObject({ kind: 'device', subject: 'glucometer-1', institution: LEAD, roles: [] });

    await refused(nurse, 'registerDevice', { deviceId: 'ecg-1', key: generateIdentity().did, kind: 'ecg' }, 'ALREADY_EXISTS');
    await refused(nurse, 'registerDevice', { deviceId: 'x-1', key: generateIdentity().did, kind: 'ecg', patientId: pid('11010119900307012') }, 'NOT_FOUND');
    await refused(nurse, 'registerDevice', { deviceId: 'x-2', key: ecg.did, kind: 'ecg' }, 'KEY_IN_USE');
    await refused(pharmacist, 'registerDevice', { deviceId: 'x-3', key: generateIdentity().did, kind: 'ecg' }, 'FORBIDDEN');
    // A device is not staff: it is recognised (FORBIDDEN, not UNKNOWN_SIGNER) and may not register patients.
    await refused(meter, 'registerPatient', { patientId: pid('11010119900307013') }, 'FORBIDDEN');

    await refused(otherNurse, 'revokeDevice', { deviceId: 'glucometer-1' }, 'FORBIDDEN');
    await refused(nurse, 'revokeDevice', { deviceId: 'nope-1' }, 'NOT_FOUND');
    await ok(nurse, 'revokeDevice', { deviceId: 'glucometer-1' });
    expect(q('device', { deviceId: 'glucometer-1' })).toMatchObject({ status: 'revoked' });
    expect(q('resolveKey', { did: meter.did })).toMatchObject({ status: 'revoked' });
    await refused(meter, 'registerPatient', { patientId: pid('11010119900307013') }, 'SIGNER_REVOKED');
    await refused(meter, 'rotateKey', { newKey: generateIdentity().did }, 'SIGNER_REVOKED');
  });
});

describe('governance', () => {
  it('admission passes exactly at the genesis threshold of active members', async () => {
    const need = required(MEMBERS.length);
    expect(need).toBe(7); // 2/3 of the 10 founding members, rounded up
    const c = candidate();
    const opened = await call(admin(MEMBERS[0]!), 'proposeAdmission', { institution: c.input });
    expect(opened.result).toMatchObject({ status: 'ok', result: { proposal: opened.id, status: 'open' } });
    await refused(admin(MEMBERS[0]!), 'vote', { proposal: opened.id, approve: true }, 'ALREADY_VOTED');
    for (let i = 1; i < need - 1; i++) expect(await ok(admin(MEMBERS[i]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'open' });
    await refused(admin(MEMBERS[1]!), 'vote', { proposal: opened.id, approve: false }, 'ALREADY_VOTED');
    // need - 1 yes votes: still open, nothing admitted.
    expect(q<{ votes: Record<string, string> }>('proposals', { status: 'open' })).toHaveLength(1);
    expect(() => q('institution', { id: c.input.id })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(proposer(c.nodeKey.did)).toBe(false);
    expect(await ok(admin(MEMBERS[need - 1]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'passed' });
    expect(q('institution', { id: c.input.id })).toMatchObject({ ...c.input, status: 'active' });
    expect(q('proposals', { status: 'open' })).toEqual([]);
    await refused(admin(MEMBERS[need]!), 'vote', { proposal: opened.id, approve: true }, 'PROPOSAL_CLOSED');
    // The new member's admin acts at once, and its node key may now propose blocks.
    await ok(c.adminKey, 'enrolStaff', { staffId: 'dr-dongpo', name: '新医生', roles: ['doctor'], key: generateIdentity().did });
    expect(proposer(c.nodeKey.did)).toBe(true);
    const head = node.ledger.head();
    expect(() => node.ledger.executor.checkProposal(buildProposal(head, [], { time: head.time }, c.nodeKey), head)).not.toThrow();
  });

  it('is rejected once enough members vote no that it can no longer pass', async () => {
    const need = required(MEMBERS.length);
    const noVotesToReject = MEMBERS.length - need + 1;
    const c = candidate();
    const opened = await call(admin(MEMBERS[0]!), 'proposeAdmission', { institution: c.input });
    for (let i = 1; i < noVotesToReject; i++) expect(await ok(admin(MEMBERS[i]!), 'vote', { proposal: opened.id, approve: false })).toMatchObject({ status: 'open' });
    expect(await ok(admin(MEMBERS[noVotesToReject]!), 'vote', { proposal: opened.id, approve: false })).toMatchObject({ status: 'rejected' });
    await refused(admin(MEMBERS[noVotesToReject + 1]!), 'vote', { proposal: opened.id, approve: true }, 'PROPOSAL_CLOSED');
    expect(q<Array<{ id: string }>>('proposals', { status: 'rejected' }).map((p) => p.id)).toEqual([opened.id]);
    expect(() => q('institution', { id: c.input.id })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(() => q('resolveKey', { did: c.adminKey.did })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('only admins propose and vote; candidates may not reuse keys or ids; votes need an existing proposal', async () => {
    const doctor = await enrol(LEAD, 'dr-vote', ['doctor']);
    const opened = await call(admin(LEAD), 'proposeAdmission', { institution: candidate().input });
    await refused(doctor, 'vote', { proposal: opened.id, approve: true }, 'FORBIDDEN');
    await refused(new Actor(nodeKeyOf(BAISHI)), 'vote', { proposal: opened.id, approve: true }, 'FORBIDDEN');
    await refused(doctor, 'proposeAdmission', { institution: candidate('other-clinic').input }, 'FORBIDDEN');
    await refused(admin(BAISHI), 'proposeAdmission', { institution: { ...candidate('other-clinic').input, admins: [doctor.did] } }, 'KEY_IN_USE');
    await refused(admin(BAISHI), 'proposeAdmission', { institution: { ...candidate('other-clinic').input, nodeKey: nodeKeyOf(LEAD).did } }, 'KEY_IN_USE');
    await refused(admin(BAISHI), 'proposeAdmission', { institution: candidate(LEAD).input }, 'ALREADY_EXISTS');
    await refused(admin(BAISHI), 'vote', { proposal: 'f'.repeat(64), approve: true }, 'NOT_FOUND');
  });

  it('a second admission of an institution admitted meanwhile cannot replace its record and keys', async () => {
    const first = candidate();
    const second = candidate(); // same institution id, other keys
    const p1 = await call(admin(MEMBERS[0]!), 'proposeAdmission', { institution: first.input });
    const p2 = await call(admin(MEMBERS[0]!), 'proposeAdmission', { institution: second.input });
    const need = required(MEMBERS.length);
    for (let i = 1; i < need; i++) await ok(admin(MEMBERS[i]!), 'vote', { proposal: p1.id, approve: true });
    expect(q('institution', { id: first.input.id })).toMatchObject({ nodeKey: first.nodeKey.did, admins: [first.adminKey.did] });
    // The newcomer counts as a member now, so the second proposal needs one more vote.
    const needNow = required(MEMBERS.length + 1);
    expect(needNow).toBe(need + 1);
    for (let i = 1; i < needNow - 1; i++) expect(await ok(admin(MEMBERS[i]!), 'vote', { proposal: p2.id, approve: true })).toMatchObject({ status: 'open' });
    await refused(admin(MEMBERS[needNow - 1]!), 'vote', { proposal: p2.id, approve: true }, 'ALREADY_EXISTS');
    expect(q('institution', { id: first.input.id })).toMatchObject({ nodeKey: first.nodeKey.did, admins: [first.adminKey.did] });
    expect(() => q('resolveKey', { did: second.nodeKey.did })).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('removal by vote cuts off the institution: its staff and admins get INSTITUTION_INACTIVE, its node key stops proposing', async () => {
    const target = PHARMACY;
    const pharmacist = await enrol(target, 'ph-1', ['pharmacist']);
    const eligible = MEMBERS.length - 1; // an institution does not vote on its own removal
    const need = required(eligible);
    expect(need).toBe(6);
    const opened = await call(admin(LEAD), 'proposeRemoval', { institution: target, reason: '违规经营' });
    expect(opened.result).toMatchObject({ status: 'ok', result: { status: 'open' } });
    await refused(admin(target), 'vote', { proposal: opened.id, approve: false }, 'FORBIDDEN');
    await refused(admin(target), 'vote', { proposal: opened.id, approve: true }, 'FORBIDDEN');
    const voters = MEMBERS.filter((m) => m !== target && m !== LEAD);
    for (let i = 0; i < need - 2; i++) expect(await ok(admin(voters[i]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'open' });
    expect(q('institution', { id: target })).toMatchObject({ status: 'active' });
    expect(await ok(admin(voters[need - 2]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'passed' });
    expect(q('institution', { id: target })).toMatchObject({ status: 'removed' });
    expect(() => signer(pharmacist.did)).toThrow(expect.objectContaining({ code: 'INSTITUTION_INACTIVE' }));
    await refused(pharmacist, 'rotateKey', { newKey: generateIdentity().did }, 'INSTITUTION_INACTIVE');
    await refused(admin(target), 'enrolStaff', { staffId: 'ph-2', name: 'p', roles: ['pharmacist'], key: generateIdentity().did }, 'INSTITUTION_INACTIVE');
    const removedNode = nodeKeyOf(target);
    expect(proposer(removedNode.did)).toBe(false);
    const head = node.ledger.head();
    expect(() => node.ledger.executor.checkProposal(buildProposal(head, [], { time: head.time }, removedNode), head)).toThrow(
      expect.objectContaining({ code: 'PROPOSAL_REJECTED' }),
    );
    await refused(admin(BAISHI), 'proposeRemoval', { institution: target, reason: 'again' }, 'INSTITUTION_INACTIVE');
    // The threshold follows the active membership: 9 members now need 6 yes votes for an admission.
    const c = candidate();
    const next = await call(admin(LEAD), 'proposeAdmission', { institution: c.input });
    const remaining = MEMBERS.filter((m) => m !== target && m !== LEAD);
    const needNow = required(MEMBERS.length - 1);
    for (let i = 0; i < needNow - 2; i++) await ok(admin(remaining[i]!), 'vote', { proposal: next.id, approve: true });
    expect(await ok(admin(remaining[needNow - 2]!), 'vote', { proposal: next.id, approve: true })).toMatchObject({ status: 'passed' });
  });

  it('an institution proposing its own removal does not count as a vote for it', async () => {
    const target = 'huakang-pharma';
    const opened = await call(admin(target), 'proposeRemoval', { institution: target, reason: '停业' });
    const proposal = q<Array<{ votes: Record<string, string> }>>('proposals', { status: 'open' })[0]!;
    expect(proposal.votes).toEqual({});
    const voters = MEMBERS.filter((m) => m !== target);
    const need = required(voters.length);
    for (let i = 0; i < need - 1; i++) expect(await ok(admin(voters[i]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'open' });
    expect(await ok(admin(voters[need - 1]!), 'vote', { proposal: opened.id, approve: true })).toMatchObject({ status: 'passed' });
  });
});

describe('privacy', () => {
  it('after seeding the demo with its records, no demo person\'s name, national id, phone or address appears in the ledger or any file of the data dir', async () => {
    await cleanup();
    ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
    const { people } = await seedDemo(node);
    const { records } = await seedDemoRecords(node, people);
    expect(records).toBeGreaterThan(people.length * 6);
    // Positive control: the personal data is really in the vaults (encrypted), readable by the patient.
    const p0 = people[0]!;
    const ownIds = node.records.candidates(p0.patientId, { types: ['Patient'] }).map((r) => r.id);
    const own = await node.records.read(makeUserRequest(demoIdentity(demoHandle.patient(p0.n)), 'GET', `/fhir/R4/Patient/${ownIds[0]}`), p0.patientId, ownIds, 'PATRQT');
    expect(JSON.stringify(own.released[0]!.resource)).toContain(p0.name);
    const dataDir = node.config.dataDir;
    await node.close();
    const { text, tables } = allTableText(join(dataDir, 'ledger.db'));
    expect(tables).toEqual(expect.arrayContaining(['blocks', 'txs', 'state', 'history', 'idx', 'meta', 'checkpoints']));
    // Raw bytes of every file of the data dir too (free pages, WAL), as UTF-8 and as UTF-16 text.
    const raw = readdirSync(dataDir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(join(d.parentPath, d.name)));
    expect(people.length).toBeGreaterThanOrEqual(50);
    let checked = 0;
    for (const p of people) {
      for (const secretValue of [p.name, p.nameEn, p.nationalId, p.phone, p.address]) {
        expect(text.includes(secretValue), `${secretValue} found in a table`).toBe(false);
        for (const file of raw) {
          expect(file.includes(Buffer.from(secretValue, 'utf8')), `${secretValue} found in a file`).toBe(false);
          expect(file.includes(Buffer.from(secretValue, 'utf16le')), `${secretValue} found in a file (UTF-16)`).toBe(false);
        }
        checked++;
      }
    }
    expect(checked).toBe(people.length * 5);
    // Positive controls: the scan does see what is on the ledger, Chinese text included.
    for (const p of people) expect(text.includes(p.patientId), p.patientId).toBe(true);
    expect(text.includes(DEMO_INSTITUTIONS[0]!.staff[0]!.name)).toBe(true);
    expect(text.includes(DEMO_INSTITUTIONS[0]!.name)).toBe(true);
    expect(raw.some((f) => f.includes(Buffer.from(DEMO_INSTITUTIONS[0]!.name, 'utf8')))).toBe(true);
  });
});
