import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import { canonicalJson, didKeyFromPublicKey, generateIdentity, sha256Hex, type Identity } from '../../src/crypto/index.js';
import { demoHandle, demoHostedInstitutions, demoIdentity } from '../../src/demo/index.js';
import { VaultStore } from '../../src/vault/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode } from '../helpers/test-node.js';

/** The records capability through the HTTP API: FHIR in, consent-checked and logged reads, redaction, erasure. */

const BAISHI = 'baishi-health-centre';
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
let node: MedchainNode;
let dir: string;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const who = {
  drWang: generateIdentity(), // county hospital, doctor + emergency
  drLi: generateIdentity(), // Baishi doctor
  drHe: generateIdentity(), // Hexi doctor, for revoked and expired consents
  registrar: generateIdentity(),
  auditor: generateIdentity(), // regulator's auditor
  patient: generateIdentity(),
  stranger: generateIdentity(),
};

interface Res {
  status: number;
  body: Record<string, any>;
}

async function call(as: Identity | undefined, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const res = await app.inject({
    method,
    url,
    payload,
    headers: {
      ...(payload !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
      ...(as ? { authorization: signUserRequest(as, method, url, payload) } : {}),
      ...headers,
    },
  });
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, any>) : {} };
}

async function tx(actor: Actor, contract: string, method: string, args: unknown): Promise<Record<string, any>> {
  const r = await node.submit(actor.tx(contract, method, args));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
  return (r.result as { result: Record<string, any> }).result;
}

const patientResource = {
  resourceType: 'Patient',
  id: 'pat-wang-jianguo',
  identifier: [{ system: 'urn:medchain:patient-id', value: PID }],
  name: [{ text: '王建国', family: '王', given: ['建国'] }],
  gender: 'male',
  birthDate: '1961-04-12',
  telecom: [{ system: 'phone', value: '13907310042' }],
  address: [{ text: '青山县白石镇桃源村 3 组 17 号' }],
};
const hba1c = {
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }], text: '糖化血红蛋白' },
  subject: { reference: `Patient/${PID}` },
  effectiveDateTime: '2026-05-20T09:30:00+08:00',
  valueQuantity: { value: 7.9, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
};
let obsId: string;

beforeAll(async () => {
  ({ node, dir, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  app = await buildApi(node);
  const a = (d: Identity) => new Actor(d);
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'dr-wang', name: 'w', roles: ['doctor', 'emergency'], key: who.drWang.did });
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-1', name: 'r', roles: ['registrar'], key: who.registrar.did });
  await tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'dr-li', name: 'l', roles: ['doctor'], key: who.drLi.did });
  await tx(admin('hexi-health-centre'), 'identity', 'enrolStaff', { staffId: 'dr-he', name: 'h', roles: ['doctor'], key: who.drHe.did });
  await tx(admin('qingshan-health-commission'), 'identity', 'enrolStaff', { staffId: 'aud-1', name: 'a', roles: ['auditor'], key: who.auditor.did });
  await tx(a(who.registrar), 'identity', 'registerPatient', { patientId: PID, patientKey: who.patient.did });
  await tx(a(who.patient), 'identity', 'setEncryptionKey', { key: didKeyFromPublicKey(who.patient.agreement.publicKey, 'X25519') });
  expect((await call(who.registrar, 'PUT', `/fhir/R4/Patient/${patientResource.id}`, patientResource)).status).toBe(201);
  const created = await call(who.drWang, 'POST', '/fhir/R4/Observation', hba1c);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  obsId = (node.query('records', 'ofPatient', { patientId: PID }) as Array<{ id: string; resourceType: string }>).find((r) => r.resourceType === 'Observation')!.id;
});

afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('FHIR records through the API', () => {
  it('stores content encrypted off the ledger; the ledger holds hashes and coded metadata only', async () => {
    const head = node.query('records', 'get', { id: obsId }) as Record<string, any>;
    expect(head).toMatchObject({ patientId: PID, custodian: LEAD, resourceType: 'Observation', category: 'laboratory', codes: [{ system: 'http://loinc.org', code: '4548-4' }], date: '2026-05-20', version: 1 });
    expect(head.ciphertextSha256).toMatch(/^[0-9a-f]{64}$/);
    const ledger = readFileSync(join(dir, 'ledger.db'));
    for (const secret of ['王建国', '13907310042', '桃源村 3 组', '糖化血红蛋白']) expect(ledger.includes(Buffer.from(secret))).toBe(false);
    const objects = readdirSync(join(dir, 'vault', LEAD, 'objects')).map((f) => readFileSync(join(dir, 'vault', LEAD, 'objects', f)));
    expect(objects.length).toBe(2);
    for (const o of objects) expect(o.includes(Buffer.from('王建国')) || o.includes(Buffer.from('糖化血红蛋白'))).toBe(false);
  });

  it('only the custodian institution and the patient can decrypt a record', async () => {
    const vault = new VaultStore(join(dir, 'vault', LEAD));
    try {
      const head = node.query('records', 'get', { id: obsId }) as { ciphertextSha256: string };
      const asPatient = JSON.parse((await vault.read(`${obsId}.v1`, who.patient.agreement, head.ciphertextSha256)).toString()) as { resource: { valueQuantity: { value: number } } };
      expect(asPatient.resource.valueQuantity.value).toBe(7.9);
      const custodian = demoIdentity(demoHandle.node(LEAD)).agreement;
      expect((await vault.read(`${obsId}.v1`, custodian)).length).toBeGreaterThan(0);
      await expect(vault.read(`${obsId}.v1`, who.stranger.agreement)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(vault.read(`${obsId}.v1`, demoIdentity(demoHandle.node(BAISHI)).agreement)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      vault.close();
    }
  });

  it("the custodian's doctor reads by the default policy; the read is on the patient's log", async () => {
    const r = await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ resourceType: 'Observation', id: obsId, valueQuantity: { value: 7.9 }, meta: { versionId: '1' } });
  });

  it('a doctor elsewhere is denied (403, logged); with consent reads with fields withheld and a proof that verifies', async () => {
    const denied = await call(who.drLi, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden', details: { coding: [{ code: 'ACCESS_DENIED' }] } }] });
    await tx(new Actor(who.patient), 'consent', 'grant', {
      patientId: PID,
      provision: 'permit',
      actor: { kind: 'institution', id: BAISHI },
      purposes: ['TREAT'],
      scope: { resourceTypes: ['Patient', 'Observation'] },
      excludeFields: ['Patient.address', 'Patient.telecom'],
      period: {},
    });
    const got = await call(who.drLi, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect(got.status).toBe(200);
    expect(got.body.name[0].text).toBe('王建国');
    expect(got.body.address).toBeUndefined();
    expect(got.body.telecom).toBeUndefined();
    expect(got.body.meta.security[0].code).toBe('REDACTED');
    const withProof = await call(who.drLi, 'GET', `/v1/records/${patientResource.id}`);
    expect(withProof.body.withheld).toEqual(['Patient.address', 'Patient.telecom']);
    const verify = (proof: unknown) => call(undefined, 'POST', `/v1/records/${patientResource.id}/verify`, { version: 1, proof }, { 'content-type': 'application/json' });
    expect((await verify(withProof.body.proof)).body).toMatchObject({ valid: true });
    const forged = structuredClone(withProof.body.proof);
    forged.released['Patient.birthDate'].value = '1971-04-12';
    expect((await verify(forged)).body).toMatchObject({ valid: false });
    const wrongPurpose = await call(who.drLi, 'GET', `/fhir/R4/Observation/${obsId}?_purpose=HRESCH`);
    expect(wrongPurpose.status).toBe(403);

    const log = await call(who.patient, 'GET', `/fhir/R4/AuditEvent?patient=${PID}`);
    expect(log.status).toBe(200);
    const events = log.body.entry.map((e: any) => e.resource);
    expect(events.some((e: any) => e.outcome === '4' && e.agent[0].who.identifier.value === who.drLi.did)).toBe(true);
    expect(events.some((e: any) => e.outcome === '0' && e.agent[0].who.identifier.value === who.drLi.did && /withheld Patient.address/.test(e.outcomeDesc))).toBe(true);
    expect((await call(who.drLi, 'GET', `/fhir/R4/AuditEvent?patient=${PID}`)).status).toBe(403);
    // Oversight needs no patient data: the regulator's auditor gets the aggregates, not this patient's log.
    expect((await call(who.auditor, 'GET', `/v1/patients/${PID}/access-log`)).status).toBe(403);
  });

  it('search by patient, code and date; $everything exports every record to the patient', async () => {
    const byCode = await call(who.drWang, 'GET', `/fhir/R4/Observation?patient=${PID}&code=4548-4&date=ge2026-01-01`);
    expect(byCode.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    const none = await call(who.drWang, 'GET', `/fhir/R4/Observation?patient=${PID}&date=le2025-12-31`);
    expect(none.body.total).toBe(0);
    const all = await call(who.patient, 'GET', `/fhir/R4/Patient/${PID}/$everything`);
    expect(all.status).toBe(200);
    expect(all.body.entry.map((e: any) => e.resource.resourceType).sort()).toEqual(['Observation', 'Patient']);
    expect(all.body.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.address).toBeDefined();
  });

  it('a Bundle imports entry by entry: good entries are stored, a bad one answers with its OperationOutcome', async () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { ...hba1c, code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] }, valueQuantity: { value: 6.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } } },
        { resource: { resourceType: 'Condition', subject: { reference: `Patient/${PID}` }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11.9' }] }, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }] } },
        { resource: { ...hba1c, status: 'finished-ish' } },
      ],
    };
    const r = await call(who.drWang, 'POST', '/fhir/R4', bundle);
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('batch-response');
    expect(r.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '400']);
    expect(r.body.entry[2].response.outcome.issue[0].expression[0]).toContain('status');
    const problems = await call(who.drWang, 'GET', `/fhir/R4/Condition?patient=${PID}&category=problem-list-item`);
    expect(problems.body.total).toBe(1);
    expect((await call(who.drWang, 'POST', '/fhir/R4', { resourceType: 'Observation' })).status).toBe(400);
  });

  it('revoked and expired consents no longer open records (through the API)', async () => {
    const grant = async (period: Record<string, number>) =>
      (await tx(new Actor(who.patient), 'consent', 'grant', {
        patientId: PID,
        provision: 'permit',
        actor: { kind: 'user', did: who.drHe.did },
        purposes: ['TREAT'],
        scope: {},
        period,
      })).consent as string;
    const url = `/fhir/R4/Observation/${obsId}`;
    expect((await call(who.drHe, 'GET', url)).status).toBe(403);
    const consent = await grant({});
    expect((await call(who.drHe, 'GET', url)).status).toBe(200);
    await tx(new Actor(who.patient), 'consent', 'revoke', { patientId: PID, consent });
    expect((await call(who.drHe, 'GET', url)).status).toBe(403);
    const now = Date.now();
    await grant({ start: now - 2 * 86_400_000, end: now - 86_400_000 });
    expect((await call(who.drHe, 'GET', url)).status).toBe(403);
    const log = (node.query('access', 'logOf', { patientId: PID, limit: 1000 }) as Array<{ requester: string; decision: string }>).filter((e) => e.requester === who.drHe.did);
    expect(log.map((e) => e.decision)).toEqual(['deny', 'permit', 'deny', 'deny']);
  });

  it('the OpenAPI document lists the records and FHIR routes', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    for (const path of ['/fhir/R4/{type}', '/fhir/R4/{type}/{id}', '/fhir/R4/Patient/{pid}/$everything', '/fhir/R4/AuditEvent', '/v1/records/{id}', '/v1/records/{id}/requests', '/v1/patients/{pid}/access-log']) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
  });

  it('bad input: invalid FHIR, unsupported types, unknown patients, oversize and unsigned requests get clear errors and write nothing', async () => {
    const height = node.ledger.head().height;
    const objects = () => readdirSync(join(dir, 'vault', LEAD, 'objects')).length;
    const before = objects();
    const invalid = await call(who.drWang, 'POST', '/fhir/R4/Observation', { ...hba1c, valueQuantity: { value: 'high' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.issue[0]).toMatchObject({ expression: ['Observation.value[x].value'], details: { coding: [{ code: 'INVALID_FHIR' }] } });
    expect((await call(who.drWang, 'POST', '/fhir/R4/Observation', { ...hba1c, colour: 'red' })).status).toBe(400);
    expect((await call(who.drWang, 'POST', '/fhir/R4/Claim', { resourceType: 'Claim' })).status).toBe(400);
    const unknown = await call(who.drWang, 'POST', '/fhir/R4/Observation', { ...hba1c, subject: { reference: 'Patient/PAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(unknown.status).toBe(404);
    const noSubject = await call(who.drWang, 'POST', '/fhir/R4/Observation', { ...hba1c, subject: undefined });
    expect(noSubject.body.issue[0].details.coding[0].code).toBe('PATIENT_REFERENCE_REQUIRED');
    expect((await call(who.drWang, 'POST', '/fhir/R4/Observation', '{"resourceType":')).status).toBe(400);
    const huge = { ...hba1c, note: [{ text: 'x'.repeat(9 * 1024 * 1024) }] };
    expect((await call(who.drWang, 'POST', '/fhir/R4/Observation', huge)).status).toBe(413);
    expect((await call(undefined, 'GET', `/fhir/R4/Observation/${obsId}`)).status).toBe(401);
    expect((await call(who.stranger, 'GET', `/fhir/R4/Observation/${obsId}`)).status).toBe(401);
    expect((await call(who.drWang, 'GET', '/fhir/R4/Observation/no-such-record')).status).toBe(404);
    // A signature over another URL does not authorize this one.
    const header = signUserRequest(who.drWang, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect((await app.inject({ method: 'GET', url: `/fhir/R4/Observation/${obsId}`, headers: { authorization: header } })).statusCode).toBe(401);
    expect(objects()).toBe(before);
    expect(node.ledger.head().height).toBe(height);
  });

  it('a replayed request is refused by the API, also by another API of the same node (its nonces are the node\'s); either way it logs nothing', async () => {
    const url = `/fhir/R4/Observation/${obsId}`;
    const header = signUserRequest(who.drWang, 'GET', url);
    expect((await app.inject({ method: 'GET', url, headers: { authorization: header } })).statusCode).toBe(200);
    const logged = (node.query('access', 'logOf', { patientId: PID }) as unknown[]).length;
    const replay = await app.inject({ method: 'GET', url, headers: { authorization: header } });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().issue[0].details.coding[0].code).toBe('UNAUTHENTICATED');
    expect(JSON.stringify(replay.json())).toMatch(/already used \(replay\)/);
    // A new API on the same node (as after a restart of the API) shares the node's nonce store (test/api/replay-after-restart.test.ts
    // restarts the whole node).
    const second = await buildApi(node, { webRoot: false });
    try {
      const again = await second.inject({ method: 'GET', url, headers: { authorization: header } });
      expect(again.statusCode).toBe(401);
      expect(JSON.stringify(again.json())).toMatch(/already used \(replay\)/);
      // A read signed anew is served.
      expect((await second.inject({ method: 'GET', url, headers: { authorization: signUserRequest(who.drWang, 'GET', url) } })).statusCode).toBe(200);
    } finally {
      await second.close();
    }
    expect((node.query('access', 'logOf', { patientId: PID }) as unknown[]).length).toBe(logged + 1);
  });

  it('a replayed read that never reaches the ledger (the access log) is refused too; a fresh signature is served', async () => {
    const url = `/v1/patients/${PID}/access-log`;
    const header = signUserRequest(who.patient, 'GET', url);
    expect((await app.inject({ method: 'GET', url, headers: { authorization: header } })).statusCode).toBe(200);
    const replay = await app.inject({ method: 'GET', url, headers: { authorization: header } });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('UNAUTHENTICATED');
    expect(replay.json().message).toMatch(/already used/);
    expect((await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(who.patient, 'GET', url) } })).statusCode).toBe(200);
  });

  it('versions: update with If-Match, vread, history, stale update refused; only the custodian writes', async () => {
    const v2 = { ...hba1c, id: obsId, valueQuantity: { ...hba1c.valueQuantity, value: 7.2 } };
    expect((await call(who.drWang, 'PUT', `/fhir/R4/Observation/${obsId}`, v2, { 'if-match': 'W/"1"' })).status).toBe(200);
    expect((await call(who.drWang, 'PUT', `/fhir/R4/Observation/${obsId}`, v2, { 'if-match': 'W/"1"' })).status).toBe(409);
    expect((await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}`)).body.valueQuantity.value).toBe(7.2);
    expect((await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}/_history/1`)).body.valueQuantity.value).toBe(7.9);
    const history = await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}/_history`);
    expect(history.body.entry.map((e: any) => e.resource.meta.versionId)).toEqual(['2', '1']);
    const elsewhere = await call(who.drLi, 'PUT', `/fhir/R4/Observation/${obsId}`, v2);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.issue[0].details.coding[0].code).toBe('NOT_CUSTODIAN');
  });

  it('break-the-glass: an emergency doctor reads without consent with a reason; the patient sees it flagged', async () => {
    const other = await call(who.drWang, 'GET', `/fhir/R4/Patient/${patientResource.id}?_purpose=ETREAT&_emergency=${encodeURIComponent('昏迷送急诊，需查既往史')}`);
    expect(other.status).toBe(200);
    const log = (await call(who.patient, 'GET', `/v1/patients/${PID}/access-log`)).body as unknown as Array<Record<string, any>>;
    expect(log.some((e) => e.emergency && e.requester === who.drWang.did && e.decision === 'permit')).toBe(true);
    const flagged = await call(who.auditor, 'GET', '/v1/emergencies');
    expect(flagged.status).toBe(200);
    // The regulator's auditor oversees without patient data (test/api/oversight.test.ts covers who keeps the id).
    expect(flagged.body).toEqual([expect.objectContaining({ requester: who.drWang.did, institution: LEAD, custodian: LEAD, reason: '昏迷送急诊，需查既往史' })]);
    expect(flagged.body[0]).not.toHaveProperty('patientId');
    expect((await call(who.drLi, 'GET', '/v1/emergencies')).status).toBe(403);
    // The open query API does not answer about patients.
    const open = await app.inject({ method: 'POST', url: '/v1/query/access/logOf', payload: { args: { patientId: PID } } });
    expect(open.statusCode).toBe(403);
  });

  it('a changed byte of stored ciphertext is an integrity error, never wrong data', async () => {
    const files = readdirSync(join(dir, 'vault', LEAD, 'objects')).filter((f) => f.startsWith(`${obsId}.v1`));
    const path = join(dir, 'vault', LEAD, 'objects', files[0]!);
    const bytes = readFileSync(path);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 0x01;
    writeFileSync(path, flipped);
    const r = await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}/_history/1`);
    expect(r.status).toBe(500);
    expect(r.body.issue[0].details.coding[0].code).toBe('INTEGRITY_ERROR');
    writeFileSync(path, bytes);
  });

  it('correction: the patient asks, the custodian sees the wording and answers with a new version', async () => {
    const req = await call(who.patient, 'POST', `/v1/records/${obsId}/requests`, { kind: 'correction', details: '检验日期应为 5 月 21 日' }, { 'content-type': 'application/json' });
    expect(req.status).toBe(201);
    const open = await call(who.drWang, 'GET', '/v1/requests?status=open');
    expect(open.body).toEqual([expect.objectContaining({ id: req.body.id, details: '检验日期应为 5 月 21 日' })]);
    // The ledger holds a salted commitment, not a hash anyone could reproduce by guessing the wording.
    const onLedger = (node.query('records', 'requestsOfPatient', { patientId: PID }) as Array<{ id: string; detailsSha256: string }>).find((r) => r.id === req.body.id)!;
    expect(onLedger.detailsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(onLedger.detailsSha256).not.toBe(sha256Hex('检验日期应为 5 月 21 日'));
    // Whoever holds the envelope (the custodian, from its vault) can check the wording against the ledger.
    const envelope = JSON.parse(await node.records.unseal(LEAD, `req-${onLedger.detailsSha256}`)) as { salt: string; text: string };
    expect(envelope.text).toBe('检验日期应为 5 月 21 日');
    expect(envelope.salt).toMatch(/^[0-9a-f]{32,}$/);
    expect(sha256Hex(canonicalJson(envelope))).toBe(onLedger.detailsSha256);
    const fixed = { ...hba1c, id: obsId, effectiveDateTime: '2026-05-21T09:30:00+08:00' };
    expect((await call(who.drWang, 'PUT', `/fhir/R4/Observation/${obsId}?_resolves=${req.body.id}`, fixed)).status).toBe(200);
    const mine = (await call(who.patient, 'GET', `/v1/patients/${PID}/requests`)).body as unknown as Array<Record<string, any>>;
    expect(mine.find((r) => r.id === req.body.id)).toMatchObject({ status: 'accepted', version: 3 });
  });

  it('erasure: refused with a reason, then accepted: crypto-shredded, reads answer gone', async () => {
    const ask = () => call(who.patient, 'POST', `/v1/records/${obsId}/requests`, { kind: 'erasure' }, { 'content-type': 'application/json' });
    const first = await ask();
    expect((await call(who.drWang, 'POST', `/v1/requests/${first.body.id}/refuse`, { reason: 'LEGAL_RETENTION' }, { 'content-type': 'application/json' })).status).toBe(200);
    const second = await ask();
    const erased = await call(who.drWang, 'DELETE', `/fhir/R4/Observation/${obsId}?reason=PATIENT_REQUEST&request=${second.body.id}`);
    expect(erased.status).toBe(200);
    expect((await call(who.drWang, 'GET', `/fhir/R4/Observation/${obsId}`)).status).toBe(410);
    expect(readdirSync(join(dir, 'vault', LEAD, 'objects')).filter((f) => f.startsWith(obsId))).toEqual([]);
    expect(node.query('records', 'get', { id: obsId })).toMatchObject({ status: 'erased', erasureReason: 'PATIENT_REQUEST' });
    const mine = (await call(who.patient, 'GET', `/v1/patients/${PID}/requests`)).body as unknown as Array<Record<string, any>>;
    expect(mine.find((r) => r.id === first.body.id)).toMatchObject({ status: 'refused', refusal: 'LEGAL_RETENTION' });
    expect(mine.find((r) => r.id === second.body.id)).toMatchObject({ status: 'accepted' });
  });
});
