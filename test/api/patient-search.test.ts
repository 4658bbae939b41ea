import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { AccessEntry } from '../../src/contracts/access/index.js';
import { generateIdentity, toBase64Url, type Identity } from '../../src/crypto/index.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/** Clinician patient search through the HTTP API: names from the vault only, every returned patient a logged read. */

const BAISHI = 'baishi-health-centre';
const HEXI = 'hexi-health-centre';
let node: MedchainNode;
let dir: string;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const who = {
  drA: generateIdentity(), // county hospital doctor
  pharmacist: generateIdentity(), // county hospital pharmacist: the default policy lets only doctors and nurses read
  registrar: generateIdentity(),
  drB: generateIdentity(), // Baishi doctor
  regB: generateIdentity(),
  regH: generateIdentity(),
  p1: generateIdentity(),
  p2: generateIdentity(),
};
const P1 = 'PAAAAAAAAAAAAAAAAAAAAAAAAAA';
const P2 = 'PBBBBBBBBBBBBBBBBBBBBBBBBBB';
const P3 = 'PCCCCCCCCCCCCCCCCCCCCCCCCCC';
const P4 = 'PDDDDDDDDDDDDDDDDDDDDDDDDDD'; // registered at Hexi only

const patient = (id: string, pid: string, zh: string, en: [string, string], gender: string, birthDate: string) => ({
  resourceType: 'Patient',
  id,
  identifier: [
    { system: 'urn:oid:2.16.156.10011.1.1', value: `33990119${birthDate.slice(2, 4)}0101123X` },
    { system: 'urn:medchain:patient-id', value: pid },
  ],
  name: [
    { use: 'official', text: zh, family: zh.slice(0, 1), given: [zh.slice(1)] },
    { use: 'usual', text: `${en[0]} ${en[1]}`, family: en[0], given: [en[1]] },
  ],
  telecom: [{ system: 'phone', value: `1390731${pid.charCodeAt(1)}00` }],
  gender,
  birthDate,
  address: [{ text: '青山县白石镇桃源村 3 组 17 号' }],
});

async function call(as: Identity | undefined, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await app.inject({
    method,
    url,
    payload,
    headers: { ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...(as ? { authorization: signUserRequest(as, method, url, payload) } : {}) },
  });
  return { status: res.statusCode, body: res.body ? res.json() : {}, text: res.body };
}

const salt = () => toBase64Url(randomBytes(16));
const search = (as: Identity | undefined, inst: string, body: Record<string, unknown>) => call(as, 'POST', `/v1/institutions/${inst}/patients/search`, { salt: salt(), ...body });

async function tx(actor: Actor, contract: string, method: string, args: unknown): Promise<Record<string, any>> {
  const r = await node.submit(actor.tx(contract, method, args));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
  return (r.result as { result: Record<string, any> }).result;
}

const logOf = (pid: string) => node.query('access', 'logOf', { patientId: pid, limit: 1000 }) as AccessEntry[];

beforeAll(async () => {
  ({ node, dir, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  app = await buildApi(node);
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-a', name: 'a', roles: ['doctor'], key: who.drA.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'ph-a', name: 'p', roles: ['pharmacist'], key: who.pharmacist.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-a', name: 'r', roles: ['registrar'], key: who.registrar.did });
  await tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'dr-b', name: 'b', roles: ['doctor'], key: who.drB.did });
  await tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'reg-b', name: 'r', roles: ['registrar'], key: who.regB.did });
  await tx(admin(HEXI), 'identity', 'enrolStaff', { staffId: 'reg-h', name: 'r', roles: ['registrar'], key: who.regH.did });
  const reg = new Actor(who.registrar);
  await tx(reg, 'identity', 'registerPatient', { patientId: P1, patientKey: who.p1.did });
  await tx(reg, 'identity', 'registerPatient', { patientId: P2, patientKey: who.p2.did });
  await tx(reg, 'identity', 'registerPatient', { patientId: P3 });
  await tx(new Actor(who.regB), 'identity', 'registerPatient', { patientId: P3 });
  await tx(new Actor(who.regH), 'identity', 'registerPatient', { patientId: P4 });
  for (const [as, res] of [
    [who.registrar, patient('pat-1-cw', P1, '王建国', ['Wang', 'Jianguo'], 'male', '1961-04-12')],
    [who.registrar, patient('pat-2-cw', P2, '王秀英', ['Wang', 'Xiuying'], 'female', '1948-09-30')],
    [who.registrar, patient('pat-3-cw', P3, '李强', ['Li', 'Qiang'], 'male', '1975-01-05')],
    [who.regB, patient('pat-3-bs', P3, '李强', ['Li', 'Qiang'], 'male', '1975-01-05')],
  ] as const) {
    const r = await call(as, 'PUT', `/fhir/R4/Patient/${res.id}`, res);
    expect(r.status, r.text).toBe(201);
  }
});

afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('patient search', () => {
  it('finds patients by part of the Chinese name; returns name, gender, birth year and institutions only; logs each read', async () => {
    const res = await search(who.drA, LEAD, { name: '王' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.map((r: { patientId: string }) => r.patientId)).toEqual([P1, P2]);
    expect(res.body.results[0]).toEqual({
      patientId: P1,
      name: '王建国',
      nameEn: 'Wang Jianguo',
      gender: 'male',
      birthYear: 1961,
      registeredHere: true,
      institutions: [{ id: LEAD, name: '青山县人民医院' }],
      access: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    for (const secret of ['1961-04-12', '33990119', '13907310', '桃源村']) expect(res.text).not.toContain(secret);
    const entry = logOf(P1).find((e) => e.id === res.body.results[0].access)!;
    expect(entry).toMatchObject({ requester: who.drA.did, context: 'search', decision: 'permit', purpose: 'TREAT', record: { id: 'pat-1-cw', resourceType: 'Patient' } });
    // The patient sees it in their FHIR audit trail as a search by that clinician.
    const audit = await call(who.p1, 'GET', `/fhir/R4/AuditEvent?patient=${P1}`);
    expect(audit.status, audit.text).toBe(200);
    const events = audit.body.entry.map((e: { resource: any }) => e.resource).filter((r: any) => r.agent[0].who.identifier.value === who.drA.did);
    expect(events.map((r: any) => r.subtype[0].code)).toEqual(['search-type']);
  });

  it('matches pinyin regardless of case and spaces, and exact patient ids', async () => {
    expect((await search(who.drA, LEAD, { name: 'wangJIAN guo' })).body.results.map((r: any) => r.name)).toEqual(['王建国']);
    expect((await search(who.drA, LEAD, { name: 'qiang li' })).body.results.map((r: any) => r.patientId)).toEqual([P3]);
    const byId = await search(who.drA, LEAD, { patientId: P2 });
    expect(byId.body.results).toHaveLength(1);
    expect(byId.body.results[0]).toMatchObject({ name: '王秀英', birthYear: 1948 });
    expect((await search(who.drA, LEAD, { name: '张' })).body.results).toEqual([]);
  });

  it('a patient whose consent denies the clinician is not returned, and sees the denied lookup in their log', async () => {
    await tx(new Actor(who.p2), 'consent', 'grant', { patientId: P2, provision: 'deny', actor: { kind: 'user', did: who.drA.did }, purposes: ['TREAT'], scope: {}, period: {} });
    const res = await search(who.drA, LEAD, { name: '王' });
    expect(res.body.results.map((r: { patientId: string }) => r.patientId)).toEqual([P1]);
    const denied = logOf(P2).filter((e) => e.requester === who.drA.did && e.decision === 'deny');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ context: 'search', record: { id: 'pat-2-cw' } });
  });

  it('the default policy decides: a pharmacist without a consent finds no one, and the attempts are logged', async () => {
    const before = logOf(P1).length;
    const res = await search(who.pharmacist, LEAD, { name: '王' });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
    expect(logOf(P1).length).toBe(before + 1);
    expect(logOf(P1).at(-1)).toMatchObject({ requester: who.pharmacist.did, decision: 'deny', context: 'search' });
  });

  it("each institution searches its own vault; another institution's staff are refused", async () => {
    const baishi = await search(who.drB, BAISHI, { name: '李' });
    expect(baishi.body.results).toHaveLength(1);
    expect(baishi.body.results[0]).toMatchObject({ patientId: P3, name: '李强', institutions: [{ id: LEAD }, { id: BAISHI }] });
    expect(logOf(P3).find((e) => e.id === baishi.body.results[0].access)!.record.custodian).toBe(BAISHI);
    expect((await search(who.drB, BAISHI, { name: '王' })).body.results).toEqual([]);
    const before = stateSnapshot(node);
    const refused = await search(who.drB, LEAD, { name: '王' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('FORBIDDEN');
    expect(stateSnapshot(node)).toBe(before);
  });

  it('by id, a patient registered elsewhere is found from the ledger without demographics or a read', async () => {
    const before = stateSnapshot(node);
    const res = await search(who.drA, LEAD, { patientId: P4 });
    expect(res.body.results).toEqual([{ patientId: P4, registeredHere: false, institutions: [{ id: HEXI, name: '河西乡卫生院' }] }]);
    expect(stateSnapshot(node)).toBe(before);
    expect((await search(who.drA, LEAD, { patientId: 'PZZZZZZZZZZZZZZZZZZZZZZZZZZ' })).body.results).toEqual([]);
  });

  it('keeps the index in step with new and corrected Patient resources', async () => {
    const r = await call(who.registrar, 'PUT', '/fhir/R4/Patient/pat-1-cw', patient('pat-1-cw', P1, '王建军', ['Wang', 'Jianjun'], 'male', '1961-04-12'));
    expect(r.status, r.text).toBe(200);
    expect((await search(who.drA, LEAD, { name: '建军' })).body.results.map((x: any) => x.name)).toEqual(['王建军']);
    expect((await search(who.drA, LEAD, { name: '建国' })).body.results).toEqual([]);
  });

  it('refuses unsigned requests and bad bodies with stable codes, writing nothing', async () => {
    const before = stateSnapshot(node);
    const url = `/v1/institutions/${LEAD}/patients/search`;
    const unsigned = await app.inject({ method: 'POST', url, payload: { name: '王', salt: salt() } });
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([401, 'UNAUTHENTICATED']);
    for (const body of [{ name: '王' }, { salt: salt() }, { name: '   ', salt: salt() }, { name: '王', salt: salt(), phone: '139' }, { patientId: 'nope', salt: salt() }, { name: '王', salt: 'short' }]) {
      const res = await call(who.drA, 'POST', url, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('INVALID_ARGS');
    }
    expect(stateSnapshot(node)).toBe(before);
  });

  it('no name reaches the ledger: the search text is not in the URL, only a salted body hash', () => {
    const files = ['ledger.db', 'ledger.db-wal'].map((f) => join(dir, f)).filter((f) => existsSync(f));
    const ledger = Buffer.concat(files.map((f) => readFileSync(f)));
    expect(ledger.includes(Buffer.from(P1))).toBe(true); // the check can see what is on the ledger
    for (const secret of ['王建国', '王秀英', '李强', 'Jianguo', 'wangJIAN']) expect(ledger.includes(Buffer.from(secret)), secret).toBe(false);
  });
});
