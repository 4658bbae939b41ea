import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode } from '../helpers/test-node.js';

/**
 * Per-patient views through the signed HTTP API: the patient's records overview, access log, requests, access
 * requests, and the FHIR AuditEvent and Consent searches are for the patient, their guardians and an auditor of an
 * institution that registered the patient (every custodian of their records has). The regulator (role or institution) and auditors
 * elsewhere are refused (403) and the refusal is logged; oversight goes through /v1/oversight/* without patient ids.
 */

const BAISHI = 'baishi-health-centre';
const REGULATOR = 'qingshan-health-commission';
const PID = 'PABCDEFGHIJKLMNOPQRSTUVWXYZ';
let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const logLines: string[] = [];
const who = {
  registrar: generateIdentity(), // county hospital: registers the patient
  baishiRegistrar: generateIdentity(),
  patient: generateIdentity(),
  leadAuditor: generateIdentity(), // auditor where the patient is registered
  baishiAuditor: generateIdentity(), // auditor at Baishi, where the patient is registered second
  hexiAuditor: generateIdentity(), // auditor of an unrelated institution
  regulator: generateIdentity(), // regulator role at the health commission
  commissionAuditor: generateIdentity(), // auditor role at the regulator institution
};

const routes = [
  `/v1/patients/${PID}/access-log`,
  `/v1/patients/${PID}/records`,
  `/v1/patients/${PID}/requests`,
  `/v1/patients/${PID}/access-requests`,
  `/fhir/R4/AuditEvent?patient=${PID}`,
  `/fhir/R4/Consent?patient=Patient/${PID}`,
];

async function get(as: Identity, url: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(as, 'GET', url, undefined) } });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}

async function tx(actor: Actor, contract: string, method: string, args: unknown): Promise<void> {
  const r = await node.submit(actor.tx(contract, method, args));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions(), logger: pino({ level: 'warn' }, sink) }));
  app = await buildApi(node);
  const enrol = (inst: string, staffId: string, roles: string[], id: Identity) => tx(admin(inst), 'identity', 'enrolStaff', { staffId, name: staffId, roles, key: id.did });
  await enrol(LEAD, 'reg-1', ['registrar'], who.registrar);
  await enrol(LEAD, 'aud-lead', ['auditor'], who.leadAuditor);
  await enrol(BAISHI, 'aud-baishi', ['auditor'], who.baishiAuditor);
  await enrol('hexi-health-centre', 'aud-hexi', ['auditor'], who.hexiAuditor);
  await enrol(REGULATOR, 'reg-x', ['regulator'], who.regulator);
  await enrol(REGULATOR, 'aud-x', ['auditor'], who.commissionAuditor);
  await enrol(BAISHI, 'reg-b', ['registrar'], who.baishiRegistrar);
  await tx(new Actor(who.registrar), 'identity', 'registerPatient', { patientId: PID, patientKey: who.patient.did });
  await tx(new Actor(who.baishiRegistrar), 'identity', 'registerPatient', { patientId: PID });
});

afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('per-patient views', () => {
  it('the patient sees every per-patient view', async () => {
    for (const url of routes) expect((await get(who.patient, url)).status, url).toBe(200);
  });

  it('an auditor of any institution where the patient is registered is allowed', async () => {
    for (const url of routes) {
      expect((await get(who.leadAuditor, url)).status, url).toBe(200);
      expect((await get(who.baishiAuditor, url)).status, url).toBe(200);
    }
    const overview = await get(who.leadAuditor, `/v1/patients/${PID}/records`);
    expect(overview.body).toEqual([]);
  });

  it('the regulator, the regulator institution\'s auditor and an unrelated auditor are refused and logged', async () => {
    for (const as of [who.regulator, who.commissionAuditor, who.hexiAuditor]) {
      for (const url of routes) {
        const res = await get(as, url);
        expect(res.status, url).toBe(403);
        expect(JSON.stringify(res.body)).toMatch(/FORBIDDEN|forbidden/);
      }
    }
    const refused = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'records.patient-view.refused');
    expect(refused.filter((l) => l.did === who.regulator.did && l.patientId === PID && l.code === 'FORBIDDEN')).toHaveLength(routes.length);
    expect(refused.filter((l) => l.did === who.hexiAuditor.did)).toHaveLength(routes.length);
  });

  it('the regulator keeps its aggregates, without patient ids', async () => {
    const stats = await get(who.regulator, '/v1/oversight/access-stats');
    expect(stats.status).toBe(200);
    expect(JSON.stringify(stats.body)).not.toContain(PID);
  });
});
