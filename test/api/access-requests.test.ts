import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { StoredConsent } from '../../src/contracts/consent/index.js';
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/** A clinician asks a patient for access; the patient approves (a consent is granted) or declines. Through the API. */

const BAISHI = 'baishi-health-centre';
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
const OTHER = 'PAAAAAAAAAAAAAAAAAAAAAAAAAA';
let offset = 0; // the node's clock runs ahead of real time by this much (for expiry)
const clockNow = () => Date.now() + offset;
let node: MedchainNode;
let dir: string;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const who = {
  drLead: generateIdentity(),
  registrar: generateIdentity(),
  drB: generateIdentity(), // Baishi doctor who asks
  nurseB: generateIdentity(), // another Baishi clinician
  regB: generateIdentity(), // Baishi registrar: not clinical
  patient: generateIdentity(),
  other: generateIdentity(), // another patient
  guardian: generateIdentity(), // the other patient's daughter
};
const MESSAGE = '您好，我是白石镇卫生院李医生，您下周来复诊，想先看看县医院的化验结果。';
let obsId: string;

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

async function tx(actor: Actor, contract: string, method: string, args: unknown) {
  const r = await node.submit(actor.tx(contract, method, args, { notBefore: clockNow() - 30_000 }));
  return r.result as { status: string; code?: string; result?: any };
}

const ask = (body: Record<string, unknown> = {}) => call(who.drB, 'POST', `/v1/patients/${PID}/access-requests`, { purposes: ['TREAT'], resourceTypes: ['Observation'], ...body });
const decide = (as: Identity, id: string, action: 'approve' | 'decline' | 'cancel', body: unknown = {}, pid = PID) => call(as, 'POST', `/v1/patients/${pid}/access-requests/${id}/${action}`, body);

beforeAll(async () => {
  ({ node, dir, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions(), now: clockNow }));
  app = await buildApi(node);
  const ok = async (p: Promise<{ status: string }>) => expect((await p).status).toBe('ok');
  await ok(tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-lead', name: 'd', roles: ['doctor'], key: who.drLead.did }));
  await ok(tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-1', name: 'r', roles: ['registrar'], key: who.registrar.did }));
  await ok(tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'dr-b', name: '李医生', roles: ['doctor'], key: who.drB.did }));
  await ok(tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'nurse-b', name: 'n', roles: ['nurse'], key: who.nurseB.did }));
  await ok(tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'reg-b', name: 'r', roles: ['registrar'], key: who.regB.did }));
  await ok(tx(new Actor(who.registrar), 'identity', 'registerPatient', { patientId: PID, patientKey: who.patient.did }));
  await ok(tx(new Actor(who.registrar), 'identity', 'registerPatient', { patientId: OTHER, patientKey: who.other.did }));
  const obs = {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
    subject: { reference: `Patient/${PID}` },
    effectiveDateTime: '2026-05-20T09:30:00+08:00',
    valueQuantity: { value: 7.9, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    note: [{ text: '建议三个月后复查' }],
  };
  const created = await call(who.drLead, 'POST', '/fhir/R4/Observation', obs);
  expect(created.status, created.text).toBe(201);
  obsId = (node.query('records', 'ofPatient', { patientId: PID }) as Array<{ id: string }>)[0]!.id;
});

afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('access requests', () => {
  let first: string;

  it('a clinician asks; the message stays off the ledger; the clinician cannot read yet', async () => {
    const res = await ask({ message: MESSAGE, period: { end: clockNow() + 30 * 86_400_000 } });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ patientId: PID, requester: who.drB.did, institution: BAISHI, purposes: ['TREAT'], scope: { resourceTypes: ['Observation'] }, status: 'pending', messageText: MESSAGE });
    expect(res.body.expiresAt - res.body.requestedAt).toBe(14 * 86_400_000);
    first = res.body.id;
    const ledger = Buffer.concat(['ledger.db', 'ledger.db-wal'].map((f) => join(dir, f)).filter(existsSync).map((f) => readFileSync(f)));
    expect(ledger.includes(Buffer.from(first, 'utf8'))).toBe(true);
    expect(ledger.includes(Buffer.from('白石镇卫生院李医生'))).toBe(false);
    const denied = await call(who.drB, 'GET', `/v1/records/${obsId}`);
    expect([denied.status, denied.body.code]).toEqual([403, 'ACCESS_DENIED']);
  });

  it('the patient lists pending requests with the message', async () => {
    const res = await call(who.patient, 'GET', `/v1/patients/${PID}/access-requests?status=pending`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.map((r: { id: string }) => r.id)).toEqual([first]);
    expect(res.body[0].messageText).toBe(MESSAGE);
    expect((await call(who.other, 'GET', `/v1/patients/${PID}/access-requests`)).body.code).toBe('FORBIDDEN');
    expect((await call(who.drB, 'GET', `/v1/patients/${PID}/access-requests`)).body.code).toBe('FORBIDDEN');
  });

  it('only the patient decides; unknown requests are refused; nothing is written', async () => {
    const before = stateSnapshot(node);
    expect((await decide(who.other, first, 'approve')).body.code).toBe('NOT_YOUR_REQUEST');
    expect((await decide(who.drB, first, 'approve')).body.code).toBe('NOT_YOUR_REQUEST');
    const unknown = await decide(who.patient, 'f'.repeat(64), 'approve');
    expect([unknown.status, unknown.body.code]).toEqual([404, 'ACCESS_REQUEST_NOT_FOUND']);
    expect((await decide(who.other, first, 'approve', {}, OTHER)).body.code).toBe('ACCESS_REQUEST_NOT_FOUND');
    expect((await decide(who.nurseB, first, 'cancel')).status).toBe(403);
    expect(stateSnapshot(node)).toBe(before);
  });

  it('approval grants a consent with the requested terms; the clinician can read, with the withheld field cut', async () => {
    const res = await decide(who.patient, first, 'approve', { excludeFields: ['Observation.note'] });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: 'approved', decidedBy: who.patient.did, excludeFields: ['Observation.note'] });
    const consent = (node.query('consent', 'consentsOf', { patientId: PID }) as StoredConsent[]).find((c) => c.id === res.body.consent)!;
    expect(consent).toMatchObject({ provision: 'permit', actor: { kind: 'user', did: who.drB.did }, purposes: ['TREAT'], scope: { resourceTypes: ['Observation'] }, excludeFields: ['Observation.note'], grantedBy: who.patient.did, status: 'active' });
    expect(consent.period.end).toBeGreaterThan(clockNow());
    const read = await call(who.drB, 'GET', `/v1/records/${obsId}`);
    expect(read.status, read.text).toBe(200);
    expect(read.body.withheld).toEqual(['Observation.note']);
    expect(read.body.resource.valueQuantity.value).toBe(7.9);
    // A second decision on the same request is refused.
    for (const action of ['approve', 'decline'] as const) {
      const again = await decide(who.patient, first, action);
      expect([again.status, again.body.code]).toEqual([409, 'ACCESS_REQUEST_DECIDED']);
    }
    expect((await decide(who.drB, first, 'cancel')).body.code).toBe('ACCESS_REQUEST_DECIDED');
  });

  it('decline with a reason, cancel by the requester; the clinician sees every status', async () => {
    // A decision needs no body at all.
    const bodiless = (await ask({ resourceTypes: ['Immunization'] })).body.id;
    const url = `/v1/patients/${PID}/access-requests/${bodiless}/decline`;
    const plain = await app.inject({ method: 'POST', url, headers: { authorization: signUserRequest(who.patient, 'POST', url) } });
    expect([plain.statusCode, plain.json().status]).toEqual([200, 'declined']);
    const second = (await ask({ resourceTypes: ['Condition'] })).body.id;
    const declined = await decide(who.patient, second, 'decline', { reason: 'TOO_BROAD' });
    expect(declined.body).toMatchObject({ status: 'declined', declineReason: 'TOO_BROAD' });
    const third = (await ask({ categories: ['laboratory'] })).body.id;
    expect((await decide(who.drB, third, 'cancel')).body.status).toBe('cancelled');
    const mine = await call(who.drB, 'GET', '/v1/access-requests');
    expect(mine.status).toBe(200);
    expect(Object.fromEntries(mine.body.map((r: { id: string; status: string }) => [r.id, r.status]))).toEqual({ [first]: 'approved', [bodiless]: 'declined', [second]: 'declined', [third]: 'cancelled' });
    expect((await call(who.drB, 'GET', '/v1/access-requests?status=approved')).body).toHaveLength(1);
    expect((await call(who.nurseB, 'GET', '/v1/access-requests')).body).toEqual([]);
  });

  it("a guardian decides for the patient they were registered for, and only for them", async () => {
    expect((await tx(new Actor(who.other), 'consent', 'addGuardian', { patientId: OTHER, guardian: who.guardian.did, relationship: 'daughter' })).status).toBe('ok');
    const res = await call(who.nurseB, 'POST', `/v1/patients/${OTHER}/access-requests`, { purposes: ['TREAT'] });
    expect(res.status, res.text).toBe(201);
    expect((await call(who.guardian, 'GET', `/v1/patients/${OTHER}/access-requests?status=pending`)).body.map((r: { id: string }) => r.id)).toEqual([res.body.id]);
    const approved = await decide(who.guardian, res.body.id, 'approve', {}, OTHER);
    expect(approved.body).toMatchObject({ status: 'approved', decidedBy: who.guardian.did });
    const consent = (node.query('consent', 'consentsOf', { patientId: OTHER }) as StoredConsent[]).find((c) => c.id === approved.body.consent)!;
    expect(consent).toMatchObject({ grantedBy: who.guardian.did, actor: { kind: 'user', did: who.nurseB.did }, scope: {} });
    // Not the guardian of this patient.
    expect((await decide(who.guardian, (await ask()).body.id, 'decline')).body.code).toBe('NOT_YOUR_REQUEST');
  });

  it('refuses non-clinical staff, unsigned requests, unknown patients and bad bodies with stable codes', async () => {
    const before = stateSnapshot(node);
    const url = `/v1/patients/${PID}/access-requests`;
    expect((await call(who.regB, 'POST', url, { purposes: ['TREAT'] })).body.code).toBe('FORBIDDEN');
    expect((await call(who.patient, 'POST', url, { purposes: ['TREAT'] })).body.code).toBe('FORBIDDEN');
    const unsigned = await app.inject({ method: 'POST', url, payload: { purposes: ['TREAT'] } });
    expect([unsigned.statusCode, unsigned.json().code]).toEqual([401, 'UNAUTHENTICATED']);
    const unknown = await call(who.drB, 'POST', '/v1/patients/PZZZZZZZZZZZZZZZZZZZZZZZZZZ/access-requests', { purposes: ['TREAT'] });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'NOT_FOUND']);
    for (const body of [{ purposes: [] }, { purposes: ['TREAT'], note: 'x' }, { purposes: ['NOPE'] }, { purposes: ['TREAT'], expiresInDays: 400 }, { purposes: ['TREAT'], period: { start: 2000, end: 1000 } }]) {
      const res = await call(who.drB, 'POST', url, body);
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, 'INVALID_ARGS']);
    }
    expect(stateSnapshot(node)).toBe(before);
  });

  it('a request not decided in time expires', async () => {
    const res = await ask({ expiresInDays: 1 });
    expect(res.status).toBe(201);
    offset = 2 * 86_400_000;
    // Past the request's time the patient's own signed tx is refused (the API's user requests are tied to real time).
    const late = await tx(new Actor(who.patient), 'consent', 'approveRequest', { patientId: PID, request: res.body.id });
    expect(late).toMatchObject({ status: 'error', code: 'ACCESS_REQUEST_EXPIRED' });
    const list = node.query('consent', 'requestsOf', { patientId: PID }) as Array<{ id: string; status: string }>;
    expect(list.find((r) => r.id === res.body.id)!.status).toBe('expired');
  });
});
