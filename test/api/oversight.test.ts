import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import { OVERSIGHT_THRESHOLDS, oversightDay, type AccessEntry } from '../../src/contracts/access/index.js';
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/**
 * Regulator oversight through the HTTP API: statistics and anomalies computed by the access contract at commit
 * time, checked against the access log itself; who may ask; no patient data in any answer.
 */

const REGULATOR = 'qingshan-health-commission';
const PHARMACY = 'kangning-pharmacy';
// 23:50 on 2026-03-10 in UTC+8: the scenario crosses midnight into 2026-03-11.
let clock = Date.UTC(2026, 2, 10, 15, 50);
const DAY1 = '2026-03-10';
const DAY2 = '2026-03-11';

let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const logLines: string[] = [];
const who = {
  drA: generateIdentity(), // doctor who reads many patients
  drW: generateIdentity(), // emergency doctor
  pharm: generateIdentity(), // pharmacist at a pharmacy: denied by the default policy
  registrar: generateIdentity(),
  regulator: generateIdentity(), // regulator role at the health commission
  commissionClerk: generateIdentity(), // regulator institution staff without the regulator role
  hospitalAuditor: generateIdentity(), // auditor role at the county hospital
  patient: generateIdentity(),
  stranger: generateIdentity(),
};
const pids = Array.from({ length: 25 }, (_, i) => `P${String.fromCharCode(65 + i)}${'A'.repeat(25)}`);

async function tx(actor: Actor, contract: string, method: string, args: unknown): Promise<Record<string, any>> {
  const r = await node.submit(actor.tx(contract, method, args, { notBefore: clock - 30_000 }));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
  return (r.result as { result: Record<string, any> }).result;
}

async function get(as: Identity | undefined, url: string): Promise<{ status: number; body: any; text: string }> {
  const res = await app.inject({ method: 'GET', url, headers: as ? { authorization: signUserRequest(as, 'GET', url) } : {} });
  return { status: res.statusCode, body: res.json(), text: res.body };
}

const read = (as: Identity, pid: string, extra: Record<string, unknown> = {}) =>
  tx(new Actor(as), 'access', 'request', { patientId: pid, recordIds: [`rec-${pid}`], purpose: 'TREAT', ...extra });

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  ({ node, cleanup } = await openTestNode({ now: () => clock, logger: pino({ level: 'warn' }, sink) }));
  app = await buildApi(node);
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-a', name: '甲医生', roles: ['doctor'], key: who.drA.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-w', name: '王急诊', roles: ['doctor', 'emergency'], key: who.drW.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-1', name: 'r', roles: ['registrar', 'doctor'], key: who.registrar.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'aud-1', name: '审计员', roles: ['auditor'], key: who.hospitalAuditor.did });
  await tx(admin(PHARMACY), 'identity', 'enrolStaff', { staffId: 'ph-1', name: '药师', roles: ['pharmacist'], key: who.pharm.did });
  await tx(admin(REGULATOR), 'identity', 'enrolStaff', { staffId: 'reg-luo', name: '罗斌', roles: ['regulator'], key: who.regulator.did });
  await tx(admin(REGULATOR), 'identity', 'enrolStaff', { staffId: 'clerk', name: '文员', roles: ['registrar'], key: who.commissionClerk.did });
  const registrar = new Actor(who.registrar);
  await Promise.all(
    pids.map(async (pid, i) => {
      await tx(registrar, 'identity', 'registerPatient', { patientId: pid, ...(i === 24 ? { patientKey: who.patient.did } : {}) });
      await tx(registrar, 'records', 'register', {
        record: { id: `rec-${pid}`, patientId: pid, resourceType: 'Observation', category: 'laboratory', codes: [], date: '2026-03-01', ciphertextSha256: 'a'.repeat(64), fieldRoot: 'b'.repeat(64), bytes: 10 },
      });
    }),
  );

  // Day 1: one doctor reads 22 distinct patients (threshold 20); the registrar reads 2 more (under the threshold).
  await Promise.all(pids.slice(0, 22).map((pid) => read(who.drA, pid)));
  await read(who.registrar, pids[0]!);
  await read(who.registrar, pids[1]!);
  // A pharmacist is denied six times, a minute apart (burst: 5 within 10 minutes), then once more 30 minutes later.
  for (let i = 0; i < 6; i++) {
    await read(who.pharm, pids[i]!);
    clock += 60_000;
  }
  // Break-the-glass by the emergency doctor; an attempt by a doctor without the emergency role is denied.
  await read(who.drW, pids[22]!, { purpose: 'ETREAT', emergency: { reason: '患者昏迷送急诊，需查过敏史' } });
  await read(who.drA, pids[23]!, { purpose: 'ETREAT', emergency: { reason: 'trying without the emergency role' } });
  // Past midnight UTC+8: the lone late denial, the patient reading their own record, a second read by the doctor.
  clock = Date.UTC(2026, 2, 10, 16, 30);
  await read(who.pharm, pids[7]!);
  await tx(new Actor(who.patient), 'access', 'request', { patientId: pids[24], recordIds: [`rec-${pids[24]}`], purpose: 'PATRQT' });
  await read(who.drA, pids[0]!);
}, 60_000);

afterAll(async () => {
  await app.close();
  await cleanup();
});

/** The access log itself, grouped independently of the contract's counters. */
function expectedFromLog() {
  const entries = (node.ledger.store.db.prepare("SELECT value FROM state WHERE key LIKE 'access/%'").all() as Array<{ value: string }>).map((r) => JSON.parse(r.value) as AccessEntry);
  const byDay = new Map<string, { entries: number; permit: number; deny: number; emergency: number; gone: number; byInstitution: Record<string, number>; byPurpose: Record<string, number>; requests: Set<string> }>();
  for (const e of entries) {
    const day = oversightDay(e.time);
    const d = byDay.get(day) ?? { entries: 0, permit: 0, deny: 0, emergency: 0, gone: 0, byInstitution: {}, byPurpose: {}, requests: new Set<string>() };
    byDay.set(day, d);
    d.entries++;
    d[e.decision === 'permit' && e.emergency ? 'emergency' : e.decision]++;
    if (e.institution) d.byInstitution[e.institution] = (d.byInstitution[e.institution] ?? 0) + 1;
    d.byPurpose[e.purpose] = (d.byPurpose[e.purpose] ?? 0) + 1;
    d.requests.add(e.id);
  }
  return byDay;
}

describe('oversight: access statistics', () => {
  it('days are UTC+8 calendar days', () => {
    expect(oversightDay(Date.UTC(2026, 2, 10, 15, 59, 59, 999))).toBe('2026-03-10');
    expect(oversightDay(Date.UTC(2026, 2, 10, 16, 0))).toBe('2026-03-11');
  });

  it('counts per day, institution, purpose and outcome agree with the access log', async () => {
    const res = await get(who.regulator, `/v1/oversight/access-stats?from=${DAY1}&to=${DAY2}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.days.map((d: { day: string }) => d.day)).toEqual([DAY1, DAY2]);
    const expected = expectedFromLog();
    for (const d of res.body.days) {
      const e = expected.get(d.day)!;
      expect(d.counts).toEqual({ entries: e.entries, permit: e.permit, deny: e.deny, emergency: e.emergency, gone: e.gone });
      expect(d.requests).toBe(e.requests.size);
      expect(Object.fromEntries(Object.entries(d.byInstitution).map(([k, c]) => [k, (c as { entries: number }).entries]))).toEqual(e.byInstitution);
      expect(d.byPurpose).toEqual(e.byPurpose);
    }
    // The scenario, spelled out: 22 + 2 permitted reads, 6 pharmacy denials, one break-the-glass permit and one denied attempt.
    const day1 = res.body.days[0];
    expect(day1.counts).toEqual({ entries: 32, permit: 24, deny: 7, emergency: 1, gone: 0 });
    expect(day1.byInstitution[PHARMACY]).toEqual({ entries: 6, permit: 0, deny: 6, emergency: 0, gone: 0 });
    expect(day1.byPurpose).toEqual({ TREAT: 30, ETREAT: 2 });
    expect(res.body.days[1].byRequesterKind).toEqual({ staff: 2, patient: 1 });
    expect(res.body.totals.counts.entries).toBe(35);
    expect(res.body.institutions[LEAD]).toBe('青山县人民医院');
  });

  it('fills days without accesses with zeros and defaults to the last 30 days', async () => {
    const res = await get(who.regulator, `/v1/oversight/access-stats?from=2026-03-01&to=${DAY2}`);
    expect(res.body.days).toHaveLength(11);
    expect(res.body.days[0]).toMatchObject({ day: '2026-03-01', requests: 0, counts: { entries: 0 } });
    const def = await get(who.regulator, '/v1/oversight/access-stats');
    expect(def.status).toBe(200);
    expect(def.body).toMatchObject({ from: '2026-02-10', to: DAY2 });
    expect(def.body.days).toHaveLength(30);
    expect(def.body.totals.counts.entries).toBe(35);
  });
});

describe('oversight: anomalies', () => {
  it('flags break-the-glass (granted and refused), the high-volume reader and the denial burst, without patient data', async () => {
    const res = await get(who.regulator, `/v1/oversight/anomalies?from=${DAY1}&to=${DAY2}`);
    expect(res.status, res.text).toBe(200);
    const b = res.body;
    expect(b.thresholds).toEqual(OVERSIGHT_THRESHOLDS);
    expect(b.emergencies.map((e: any) => [e.requester.staffId, e.decision])).toEqual([
      ['dr-a', 'deny'],
      ['dr-w', 'permit'],
    ]);
    expect(b.emergencies[1]).toMatchObject({ reason: '患者昏迷送急诊，需查过敏史', institution: LEAD, records: 1, day: DAY1, requester: { name: '王急诊', institutionName: '青山县人民医院' } });
    expect(b.highVolumeReaders).toHaveLength(1);
    // 22 routine reads plus the denied break-the-glass attempt on a 23rd patient.
    expect(b.highVolumeReaders[0]).toMatchObject({ day: DAY1, requester: { staffId: 'dr-a', did: who.drA.did }, patients: 23, threshold: 20 });
    expect(b.denialBursts).toHaveLength(1);
    expect(b.denialBursts[0]).toMatchObject({ requester: { staffId: 'ph-1', institution: PHARMACY }, denials: 6, threshold: 5, day: DAY1 });
    expect(b.denialBursts[0].end - b.denialBursts[0].start).toBe(5 * 60_000);
    expect(b.truncated).toBe(false);
    for (const pid of pids) expect(res.text).not.toContain(pid);
    expect(res.text).not.toContain(who.patient.did);
    expect(res.text).not.toContain('rec-');
  });

  it('a window without anomalies is empty', async () => {
    const res = await get(who.hospitalAuditor, '/v1/oversight/anomalies?from=2026-01-01&to=2026-03-09');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ emergencies: [], highVolumeReaders: [], denialBursts: [] });
  });

  it('a one-day window stops at its end', async () => {
    const res = await get(who.regulator, `/v1/oversight/anomalies?from=${DAY2}&to=${DAY2}`);
    expect(res.body).toMatchObject({ emergencies: [], highVolumeReaders: [], denialBursts: [] });
  });
});

describe('oversight: who may ask', () => {
  it('the regulator institution\'s staff and auditors anywhere may; clinicians, patients and strangers may not (logged)', async () => {
    for (const ok of [who.regulator, who.commissionClerk, who.hospitalAuditor]) expect((await get(ok, '/v1/oversight/access-stats')).status).toBe(200);
    const before = stateSnapshot(node);
    for (const [as, status, code] of [
      [who.drA, 403, 'FORBIDDEN'],
      [who.patient, 403, 'FORBIDDEN'],
      [who.stranger, 401, 'UNKNOWN_SIGNER'],
      [undefined, 401, 'UNAUTHENTICATED'],
    ] as const) {
      for (const path of ['/v1/oversight/access-stats', '/v1/oversight/anomalies']) {
        const res = await get(as, path);
        expect(res.status, `${path} ${res.text}`).toBe(status);
        expect(res.body.code).toBe(code);
      }
    }
    expect(stateSnapshot(node)).toBe(before);
    const refused = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === 'oversight.refused');
    expect(refused.some((l) => l.did === who.drA.did && l.what === 'access-stats' && l.code === 'FORBIDDEN')).toBe(true);
    expect(refused.some((l) => l.did === who.stranger.did && l.code === 'UNKNOWN_SIGNER')).toBe(true);
  });

  it('bad windows get INVALID_ARGS', async () => {
    for (const q of ['from=yesterday', 'from=2026-03-11&to=2026-03-10', 'from=2025-01-01&to=2026-03-10', 'from=2026-02-30&to=2026-13-01', 'days=3']) {
      const res = await get(who.regulator, `/v1/oversight/access-stats?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.code, q).toBe('INVALID_ARGS');
    }
    expect((await get(who.regulator, '/v1/oversight/anomalies?limit=0')).body.code).toBe('INVALID_ARGS');
  });

  it('the open query route refuses the oversight queries', async () => {
    for (const name of ['stats', 'anomalies']) {
      const res = await app.inject({ method: 'POST', url: `/v1/query/access/${name}`, payload: { args: { from: DAY1, to: DAY2 } } });
      expect(res.statusCode).toBe(403);
    }
  });
});

describe('oversight: the break-the-glass list (/v1/emergencies)', () => {
  it('the regulator gets who, where, when, why and the decision without patient ids; only the custodian\'s auditor gets the pseudonymous id', async () => {
    const asRegulator = await get(who.regulator, '/v1/emergencies');
    expect(asRegulator.status).toBe(200);
    expect(asRegulator.body.map((e: any) => [e.requester, e.institution, e.custodian, e.decision]).sort()).toEqual(
      [
        [who.drA.did, LEAD, LEAD, 'deny'],
        [who.drW.did, LEAD, LEAD, 'permit'],
      ].sort(),
    );
    expect(asRegulator.body.find((e: any) => e.decision === 'permit')).toMatchObject({ reason: '患者昏迷送急诊，需查过敏史', time: expect.any(Number) });
    for (const e of asRegulator.body) expect(e).not.toHaveProperty('patientId');
    for (const pid of pids) expect(asRegulator.text).not.toContain(pid);

    // The custodian's auditor follows up with the patient: the entries on its records keep the pseudonymous id.
    const asCustodianAuditor = await get(who.hospitalAuditor, '/v1/emergencies');
    expect(asCustodianAuditor.status).toBe(200);
    expect(asCustodianAuditor.body.map((e: any) => e.patientId).sort()).toEqual([pids[22], pids[23]]);

    // An auditor elsewhere sees the entries, not whose records they were.
    const elsewhere = generateIdentity();
    await tx(admin('baishi-health-centre'), 'identity', 'enrolStaff', { staffId: 'aud-bs', name: '白石审计', roles: ['auditor'], key: elsewhere.did });
    const asOtherAuditor = await get(elsewhere, '/v1/emergencies');
    expect(asOtherAuditor.status).toBe(200);
    expect(asOtherAuditor.body).toHaveLength(2);
    for (const pid of pids) expect(asOtherAuditor.text).not.toContain(pid);

    expect((await get(who.drW, '/v1/emergencies')).status).toBe(403);
    expect((await get(who.patient, '/v1/emergencies')).status).toBe(403);
  });
});
