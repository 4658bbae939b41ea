import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { AccessEntry } from '../../src/contracts/access/index.js';
import { didKeyFromPublicKey, Ed25519Signer, fromBase64Url, generateIdentity, toBase64Url, type Identity } from '../../src/crypto/index.js';
import { demoHandle, demoIdentity } from '../../src/demo/index.js';
import { releaseContext, releaseRequestMessage, type ReleaseRequest } from '../../src/exchange/protocol.js';
import { verifyRedacted, type RedactedCopy } from '../../src/records/index.js';
import { decryptBuffer, unwrapKey, type WrappedKey } from '../../src/vault/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { freePort } from '../helpers/cli-process.js';
import { openPeer, startTestNatsCluster, waitForAgreement } from '../helpers/nats.js';
import { Actor, admin, LEAD } from '../helpers/test-node.js';

/**
 * Record exchange between two institution nodes (each holding only its own vault) on a JetStream cluster: a
 * doctor at Baishi reads, through Baishi's node, a record held by the county hospital's node.
 */

const BAISHI = 'baishi-health-centre';
const HEXI = 'hexi-health-centre';
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
const who = { registrar: generateIdentity(), drLi: generateIdentity(), patient: generateIdentity() };
const root = mkdtempSync(join(tmpdir(), 'medchain-exchange-'));
let nats: Awaited<ReturnType<typeof startTestNatsCluster>>;
const nodes: Record<string, { node: MedchainNode; app: FastifyInstance; url: string }> = {};

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

async function call(at: string, as: Identity, method: 'GET' | 'PUT', url: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await nodes[at]!.app.inject({
    method,
    url,
    payload,
    headers: { ...(payload ? { 'content-type': 'application/fhir+json' } : {}), authorization: signUserRequest(as, method, url, payload) },
  });
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, any>) : {} };
}

async function tx(actor: Actor, contract: string, method: string, args: unknown): Promise<void> {
  const r = await nodes[LEAD]!.node.submit(actor.tx(contract, method, args));
  expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
}

function signedRelease(request: ReleaseRequest, signer: Identity) {
  return { request, sig: toBase64Url(new Ed25519Signer(signer.signing.seed).sign(releaseRequestMessage(request))) };
}

async function postRelease(body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${nodes[LEAD]!.url}/v1/exchange/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

let endpoints: Record<string, string> = {};
const ports: Record<string, number> = {};

/** Opens (or reopens, on the same data dir and port) an institution's node and its API. */
async function startNode(inst: string): Promise<void> {
  const node = await openPeer(join(root, inst), inst, nats.cluster.urls(), { exchangeEndpoints: endpoints });
  const app = await buildApi(node);
  await app.listen({ host: '127.0.0.1', port: ports[inst]! });
  nodes[inst] = { node, app, url: endpoints[inst]! };
}

beforeAll(async () => {
  nats = await startTestNatsCluster();
  for (const inst of [LEAD, BAISHI]) ports[inst] = await freePort();
  endpoints = Object.fromEntries(Object.entries(ports).map(([inst, port]) => [inst, `http://127.0.0.1:${port}`]));
  for (const inst of [LEAD, BAISHI]) await startNode(inst);
  await tx(admin(LEAD), 'identity', 'enrolStaff', { staffId: 'reg-1', name: 'r', roles: ['registrar'], key: who.registrar.did });
  await tx(admin(BAISHI), 'identity', 'enrolStaff', { staffId: 'dr-li', name: 'l', roles: ['doctor'], key: who.drLi.did });
  await tx(new Actor(who.registrar), 'identity', 'registerPatient', { patientId: PID, patientKey: who.patient.did });
  await tx(new Actor(who.drLi), 'identity', 'setEncryptionKey', { key: didKeyFromPublicKey(who.drLi.agreement.publicKey, 'X25519') });
  await tx(new Actor(who.patient), 'identity', 'setEncryptionKey', { key: didKeyFromPublicKey(who.patient.agreement.publicKey, 'X25519') });
  expect((await call(LEAD, who.registrar, 'PUT', `/fhir/R4/Patient/${patientResource.id}`, patientResource)).status).toBe(201);
  await waitForAgreement([nodes[LEAD]!.node, nodes[BAISHI]!.node], 1);
}, 60_000);

afterAll(async () => {
  for (const n of Object.values(nodes)) {
    await n.app.close();
    await n.node.close();
  }
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

const accessEntries = (): AccessEntry[] =>
  nodes[LEAD]!.node.ledger.store.rangeRaw(`access/${PID}/`, { limit: 1000 }).map((e) => JSON.parse(e.value) as AccessEntry);

describe('record exchange between institution nodes', () => {
  it("Baishi's node holds no copy of the county hospital's vault", () => {
    expect(nodes[BAISHI]!.node.records.hostedInstitutions()).toEqual([BAISHI]);
    expect(nodes[LEAD]!.node.records.hostedInstitutions()).toEqual([LEAD]);
  });

  it('without consent the read is denied and logged; with it, the record comes from the custodian, redacted and verified', async () => {
    const denied = await call(BAISHI, who.drLi, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect(denied.status).toBe(403);
    await tx(new Actor(who.patient), 'consent', 'grant', {
      patientId: PID,
      provision: 'permit',
      actor: { kind: 'institution', id: BAISHI },
      purposes: ['TREAT'],
      scope: { resourceTypes: ['Patient'] },
      excludeFields: ['Patient.address', 'Patient.telecom'],
      period: {},
    });
    await waitForAgreement([nodes[LEAD]!.node, nodes[BAISHI]!.node], 1);
    const got = await call(BAISHI, who.drLi, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body.name[0].text).toBe('王建国');
    expect(got.body.address).toBeUndefined();
    expect(got.body.telecom).toBeUndefined();
    // Both attempts are on the patient's access log, relayed by Baishi's node, the permit one before release.
    const mine = accessEntries().filter((e) => e.requester === who.drLi.did);
    expect(mine.map((e) => e.decision)).toEqual(['deny', 'permit']);
    expect(mine.every((e) => e.via === demoIdentity(demoHandle.node(BAISHI)).did)).toBe(true);
  }, 30_000);

  it('the custodian refuses forged, replayed, foreign and denied release requests', async () => {
    const entries = accessEntries().filter((e) => e.requester === who.drLi.did);
    const permit = entries.find((e) => e.decision === 'permit')!;
    const deny = entries.find((e) => e.decision === 'deny')!;
    const baishiNode = demoIdentity(demoHandle.node(BAISHI));
    const hexiNode = demoIdentity(demoHandle.node(HEXI));
    const request = (access: string, node = baishiNode.did): ReleaseRequest => ({
      access,
      patientId: PID,
      record: patientResource.id,
      node,
      nonce: toBase64Url(randomBytes(18)),
      expires: Date.now() + 60_000,
    });

    const genuine = signedRelease(request(permit.id), baishiNode);
    const ok = await postRelease(genuine);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // Encrypted under a fresh key wrapped for Baishi's vault key and for the doctor's own key: the doctor can open
    // the copy, and every field verifies against the field root on Baishi's own ledger copy.
    expect(ok.body.keys.length).toBe(2);
    const context = releaseContext(permit.id, patientResource.id, permit.record.version);
    const forDoctor = ok.body.keys.find((k: WrappedKey) => k.recipient === toBase64Url(who.drLi.agreement.publicKey));
    const copy = JSON.parse((await decryptBuffer(fromBase64Url(ok.body.ciphertext), unwrapKey(forDoctor, who.drLi.agreement.privateKey, who.drLi.agreement.publicKey, context))).toString()) as RedactedCopy;
    const meta = nodes[BAISHI]!.node.query('records', 'version', { id: patientResource.id, version: permit.record.version }) as { fieldRoot: string };
    expect(verifyRedacted(copy, meta.fieldRoot)).toMatchObject({ name: patientResource.name });
    expect(Object.keys(copy.withheld).sort()).toEqual(['Patient.address', 'Patient.telecom']);
    const replay = await postRelease(genuine);
    expect(replay).toMatchObject({ status: 401, body: { code: 'BAD_USER_REQUEST' } });
    const forged = signedRelease(request(permit.id), hexiNode); // claims to be Baishi's node, signed by Hexi's
    expect(await postRelease(forged)).toMatchObject({ status: 401, body: { code: 'BAD_USER_REQUEST' } });
    const foreign = signedRelease(request(permit.id, hexiNode.did), hexiNode); // a node that did not relay the access
    expect(await postRelease(foreign)).toMatchObject({ status: 403, body: { code: 'EXCHANGE_REFUSED' } });
    const denied = signedRelease(request(deny.id), baishiNode);
    expect(await postRelease(denied)).toMatchObject({ status: 403, body: { code: 'EXCHANGE_REFUSED' } });
    const expired = signedRelease({ ...request(permit.id), expires: Date.now() - 1 }, baishiNode);
    expect(await postRelease(expired)).toMatchObject({ status: 401, body: { code: 'BAD_USER_REQUEST' } });
  }, 30_000);

  it('a release request accepted before the custodian restarted is refused after it; a new one is served', async () => {
    const permit = accessEntries().find((e) => e.requester === who.drLi.did && e.decision === 'permit')!;
    const baishiNode = demoIdentity(demoHandle.node(BAISHI));
    const request = (): ReleaseRequest => ({ access: permit.id, patientId: PID, record: patientResource.id, node: baishiNode.did, nonce: toBase64Url(randomBytes(18)), expires: Date.now() + 60_000 });
    const accepted = signedRelease(request(), baishiNode);
    expect((await postRelease(accepted)).status).toBe(200);
    await nodes[LEAD]!.app.close();
    await nodes[LEAD]!.node.close();
    await startNode(LEAD);
    await nodes[LEAD]!.node.whenCaughtUp();
    expect(await postRelease(accepted)).toMatchObject({ status: 401, body: { code: 'BAD_USER_REQUEST', message: expect.stringMatching(/replay/) } });
    expect((await postRelease(signedRelease(request(), baishiNode))).status).toBe(200);
  }, 30_000);

  it('a revoked doctor gets nothing', async () => {
    const r = await nodes[BAISHI]!.node.submit(admin(BAISHI).tx('identity', 'revokeStaff', { staffId: 'dr-li' }));
    expect(r.result.status).toBe('ok');
    const got = await call(BAISHI, who.drLi, 'GET', `/fhir/R4/Patient/${patientResource.id}`);
    expect(got.status).toBe(401);
  }, 30_000);
});
