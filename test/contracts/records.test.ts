import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeUserRequest } from '../../src/api/user-auth.js';
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import { demoHandle, demoIdentity } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/** The records contract and relayed user requests, through a real node. */

const BAISHI = 'baishi-health-centre';
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
let node: MedchainNode;
let cleanup: () => Promise<void>;
let doctor: Identity;
let baishiDoctor: Identity;
let patient: Identity;
const leadNode = () => Actor.demo(demoHandle.node(LEAD));
const meta = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  patientId: PID,
  resourceType: 'Observation',
  codes: [],
  ciphertextSha256: 'c'.repeat(64),
  fieldRoot: 'd'.repeat(64),
  bytes: 10,
  ...extra,
});

async function run(actor: Actor, contract: string, method: string, args: unknown) {
  return (await node.submit(actor.tx(contract, method, args))).result as { status: string; code?: string; result?: Record<string, any> };
}

beforeEach(async () => {
  ({ node, cleanup } = await openTestNode());
  doctor = generateIdentity();
  baishiDoctor = generateIdentity();
  patient = generateIdentity();
  const reg = generateIdentity();
  for (const [inst, id, key, roles] of [
    [LEAD, 'dr', doctor, ['doctor']],
    [LEAD, 'reg', reg, ['registrar']],
    [BAISHI, 'dr-b', baishiDoctor, ['doctor']],
  ] as const) {
    expect((await run(admin(inst), 'identity', 'enrolStaff', { staffId: id, name: id, roles, key: key.did })).status).toBe('ok');
  }
  expect((await run(new Actor(reg), 'identity', 'registerPatient', { patientId: PID, patientKey: patient.did })).status).toBe('ok');
});
afterEach(async () => cleanup());

describe('records contract', () => {
  it('versions link up; a stale base version, another custodian and an erased record are refused with their codes', async () => {
    const dr = new Actor(doctor);
    expect((await run(dr, 'records', 'register', { record: meta('r1') })).result).toEqual({ id: 'r1', version: 1 });
    expect((await run(dr, 'records', 'register', { record: meta('r1') })).code).toBe('ALREADY_EXISTS');
    expect((await run(dr, 'records', 'amend', { record: meta('r1', { bytes: 11 }), baseVersion: 1 })).result).toEqual({ id: 'r1', version: 2 });
    expect((await run(dr, 'records', 'amend', { record: meta('r1'), baseVersion: 1 })).code).toBe('VERSION_CONFLICT');
    expect((await run(new Actor(baishiDoctor), 'records', 'amend', { record: meta('r1'), baseVersion: 2 })).code).toBe('NOT_CUSTODIAN');
    expect((await run(new Actor(baishiDoctor), 'records', 'register', { record: meta('r2') })).code).toBe('FORBIDDEN'); // not registered there
    expect((await run(new Actor(patient), 'records', 'register', { record: meta('r3') })).code).toBe('FORBIDDEN');
    expect((await run(dr, 'records', 'erase', { id: 'r1', reason: 'ENTERED_IN_ERROR' })).status).toBe('ok');
    expect((await run(dr, 'records', 'amend', { record: meta('r1'), baseVersion: 2 })).code).toBe('GONE');
    expect(node.query('records', 'versions', { id: 'r1' })).toHaveLength(2);
    const access = await run(new Actor(patient), 'access', 'request', { patientId: PID, recordIds: ['r1'], purpose: 'PATRQT' });
    expect(access.result!['decisions'][0]).toMatchObject({ decision: 'gone' });
  });

  it('only the patient files change requests; only the custodian resolves them, once', async () => {
    const dr = new Actor(doctor);
    await run(dr, 'records', 'register', { record: meta('r1') });
    expect((await run(dr, 'records', 'requestChange', { recordId: 'r1', kind: 'erasure' })).code).toBe('FORBIDDEN');
    const filed = await run(new Actor(patient), 'records', 'requestChange', { recordId: 'r1', kind: 'correction', detailsSha256: 'e'.repeat(64) });
    const request = filed.result!['request'] as string;
    expect((await run(new Actor(baishiDoctor), 'records', 'refuseRequest', { request, reason: 'OTHER' })).code).toBe('NOT_CUSTODIAN');
    expect((await run(dr, 'records', 'erase', { id: 'r1', reason: 'PATIENT_REQUEST', request })).code).toBe('NOT_FOUND'); // a correction is not an erasure
    expect((await run(dr, 'records', 'amend', { record: meta('r1'), baseVersion: 1, resolves: request })).status).toBe('ok');
    expect((await run(dr, 'records', 'refuseRequest', { request, reason: 'OTHER' })).code).toBe('PROPOSAL_CLOSED');
  });

  it('relayed user requests: the user is who acts; bad signature, stale, wrong node and replays are refused and write nothing', async () => {
    await run(new Actor(doctor), 'records', 'register', { record: meta('r1') });
    const read = (onBehalfOf: unknown, by = leadNode()) => run(by, 'access', 'request', { patientId: PID, recordIds: ['r1'], purpose: 'TREAT', onBehalfOf });
    const ok = await read(makeUserRequest(doctor, 'GET', '/fhir/R4/Observation/r1'));
    expect(ok.status).toBe('ok');
    const entry = (node.query('access', 'logOf', { patientId: PID }) as Array<{ requester: string; via: string }>)[0]!;
    expect(entry).toMatchObject({ requester: doctor.did, via: demoIdentity(demoHandle.node(LEAD)).did });

    const before = stateSnapshot(node);
    const forged = { ...makeUserRequest(doctor, 'GET', '/fhir/R4/Observation/r1'), url: '/fhir/R4/Observation/other' };
    expect((await read(forged)).code).toBe('BAD_USER_REQUEST');
    expect((await read(makeUserRequest(doctor, 'GET', '/x', undefined, Date.now() - 10 * 60_000))).code).toBe('BAD_USER_REQUEST');
    expect((await read(makeUserRequest(baishiDoctor, 'GET', '/x'))).code).toBe('BAD_USER_REQUEST'); // Baishi staff through the county node
    expect((await read(makeUserRequest(doctor, 'GET', '/x'), new Actor(doctor))).code).toBe('BAD_USER_REQUEST'); // only nodes relay
    const once = makeUserRequest(doctor, 'GET', '/fhir/R4/Observation/r1');
    expect((await read(once)).status).toBe('ok');
    const afterOnce = stateSnapshot(node);
    expect((await read(once)).code).toBe('BAD_USER_REQUEST');
    expect((await read({ ...once, part: 0 })).code).toBe('BAD_USER_REQUEST'); // used whole: no part of it either
    expect(stateSnapshot(node)).toBe(afterOnce);
    expect(before).not.toBe(afterOnce);

    const parted = makeUserRequest(doctor, 'POST', '/fhir/R4');
    expect((await read({ ...parted, part: 0 })).status).toBe('ok');
    expect((await read({ ...parted, part: 1 })).status).toBe('ok');
    expect((await read({ ...parted, part: 1 })).code).toBe('BAD_USER_REQUEST');
    expect((await read(parted)).code).toBe('BAD_USER_REQUEST'); // parts used: not whole either
  });
});
