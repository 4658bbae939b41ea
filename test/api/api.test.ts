import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { generateIdentity } from '../../src/crypto/index.js';
import { verifyInclusion } from '../../src/ledger/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
const leadAdmin = admin(LEAD);
const nurse = new Actor(generateIdentity());

async function post(url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await app.inject({ method: 'POST', url, payload: typeof body === 'string' ? body : JSON.stringify(body), headers });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ checkpointInterval: 1 }));
  // No web build here (test/web/web-routes.test.ts covers serving it): / is the page that says how to build it.
  app = await buildApi(node, { webRoot: false });
  const r = await post('/v1/txs', leadAdmin.tx('identity', 'enrolStaff', { staffId: 'nurse-api', name: '测试护士', roles: ['nurse'], key: nurse.did }));
  expect(r.status).toBe(200);
});

afterAll(async () => {
  await app.close();
  await cleanup();
});

/** Asserts an admission refusal: status, code, and that neither the chain nor the state moved. */
async function expectRefused(body: unknown, status: number, code: string, headers?: Record<string, string>) {
  const height = node.ledger.head().height;
  const state = stateSnapshot(node);
  const r = await post('/v1/txs', body, headers);
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body['code']).toBe(code);
  expect(typeof r.body['message']).toBe('string');
  expect(r.body['receipt']).toBeUndefined();
  expect(node.ledger.head().height).toBe(height);
  expect(stateSnapshot(node)).toBe(state);
}

describe('POST /v1/txs: bad input is refused with a stable code and nothing is written', () => {
  it('malformed JSON', () => expectRefused('{"tx": {', 400, 'BODY_MALFORMED'));
  it('a body that is not JSON at all', () => expectRefused('hello', 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'text/plain' }));
  it('missing signature', async () => {
    const { tx } = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] });
    await expectRefused({ tx }, 400, 'TX_MALFORMED');
  });
  it('bad signature', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] });
    const sig = Buffer.from(signed.sig, 'base64url');
    sig[3]! ^= 0x10;
    await expectRefused({ ...signed, sig: sig.toString('base64url') }, 401, 'TX_BAD_SIGNATURE');
  });
  it('a signature by another key than the signer', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] });
    const forged = nurse.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] });
    await expectRefused({ tx: signed.tx, sig: forged.sig }, 401, 'TX_BAD_SIGNATURE');
  });
  it('changed arguments after signing', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] });
    await expectRefused({ ...signed, tx: { ...signed.tx, args: { staffId: 'nurse-api', roles: ['admin'] } } }, 401, 'TX_BAD_SIGNATURE');
  });
  it('unknown contract', () => expectRefused(leadAdmin.tx('nosuch', 'doIt', {}), 404, 'UNKNOWN_CONTRACT'));
  it('unknown method', () => expectRefused(leadAdmin.tx('identity', 'doIt', {}), 404, 'UNKNOWN_METHOD'));
  it('invalid arguments', () => expectRefused(leadAdmin.tx('identity', 'enrolStaff', { staffId: 'X Y', roles: [] }), 400, 'INVALID_ARGS'));
  it('expired', () => expectRefused(leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] }, { notBefore: Date.now() - 3_600_000, notAfter: Date.now() - 60_000 }), 422, 'TX_EXPIRED'));
  it('not yet valid', () => expectRefused(leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] }, { notBefore: Date.now() + 3_600_000 }), 422, 'TX_NOT_YET_VALID'));
  it('validity window too long', () => expectRefused(leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] }, { notAfter: Date.now() + 7 * 24 * 3_600_000 }), 400, 'TX_VALIDITY_TOO_LONG'));
  it('wrong chain', () => expectRefused(leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['doctor'] }, { chain: 'another-consortium' }), 400, 'TX_WRONG_CHAIN'));
  it('oversize tx (within the body limit)', () => expectRefused(leadAdmin.tx('identity', 'enrolStaff', { staffId: 'big', name: 'x'.repeat(100_000), roles: ['nurse'], key: nurse.did }), 413, 'TX_TOO_LARGE'));
  it('oversize body', () => expectRefused(JSON.stringify({ tx: { pad: 'x'.repeat(400_000) }, sig: 'x' }), 413, 'BODY_TOO_LARGE'));
  it('replayed tx', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['nurse', 'registrar'] });
    expect((await post('/v1/txs', signed)).status).toBe(200);
    await expectRefused(signed, 409, 'TX_DUPLICATE');
  });
  it('replay submitted concurrently: exactly one commits', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['nurse'] });
    const results = await Promise.all([post('/v1/txs', signed), post('/v1/txs', signed), post('/v1/txs', signed)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
  });
});

describe('POST /v1/txs: a tx the contract refuses is recorded as invalid and changes nothing', () => {
  it('wrong role: a nurse cannot enrol staff', async () => {
    const state = stateSnapshot(node);
    const r = await post('/v1/txs', nurse.tx('identity', 'enrolStaff', { staffId: 'intruder', name: 'x', roles: ['admin'], key: generateIdentity().did }));
    expect(r.status).toBe(403);
    expect(r.body['code']).toBe('FORBIDDEN');
    const receipt = r.body['receipt'] as { id: string; height: number; result: { status: string; code: string } };
    expect(receipt.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    expect(stateSnapshot(node)).toBe(state);
    const stored = await app.inject({ method: 'GET', url: `/v1/txs/${receipt.id}` });
    expect(stored.json().result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
  });
  it('unknown signer', async () => {
    const r = await post('/v1/txs', new Actor(generateIdentity()).tx('identity', 'rotateKey', { newKey: generateIdentity().did }));
    expect(r.status).toBe(401);
    expect(r.body['code']).toBe('UNKNOWN_SIGNER');
  });
});

describe('reading the ledger', () => {
  it('a committed tx, its block and its inclusion proof', async () => {
    const signed = leadAdmin.tx('identity', 'setStaffRoles', { staffId: 'nurse-api', roles: ['nurse', 'emergency'] });
    const ok = await post('/v1/txs', signed);
    expect(ok.status).toBe(200);
    const receipt = ok.body as { id: string; height: number; index: number };

    const tx = (await app.inject({ method: 'GET', url: `/v1/txs/${receipt.id}` })).json();
    expect(tx).toMatchObject({ id: receipt.id, height: receipt.height, index: receipt.index, tx: signed, result: { status: 'ok' } });

    const block = (await app.inject({ method: 'GET', url: `/v1/blocks/${receipt.height}` })).json();
    expect(block.txs.map((t: { id: string }) => t.id)).toContain(receipt.id);

    const proof = (await app.inject({ method: 'GET', url: `/v1/txs/${receipt.id}/proof` })).json();
    expect(proof.txRoot).toBe(block.header.txRoot);
    const ok2 = verifyInclusion(Buffer.from(receipt.id, 'hex'), proof.index, proof.treeSize, proof.path.map((p: string) => Buffer.from(p, 'hex')), Buffer.from(proof.txRoot, 'hex'));
    expect(ok2).toBe(true);
    expect(proof.treeSize).toBe(block.header.txCount);
  });

  it('head, block list, checkpoints, status', async () => {
    const head = (await app.inject({ method: 'GET', url: '/v1/head' })).json();
    expect(head.height).toBe(node.ledger.head().height);
    const list = (await app.inject({ method: 'GET', url: '/v1/blocks?limit=2' })).json();
    expect(list.blocks.map((b: { height: number }) => b.height)).toEqual([head.height, head.height - 1]);
    const cps = (await app.inject({ method: 'GET', url: '/v1/checkpoints' })).json();
    expect(cps.checkpoints[0]).toMatchObject({ height: head.height, blockHash: head.hash, stateHash: head.stateHash });
    const status = (await app.inject({ method: 'GET', url: '/v1/status' })).json();
    expect(status).toMatchObject({ chain: 'qingshan-county-alliance', institution: LEAD, sequencer: 'solo' });
  });

  it('404s with a code for unknown txs, blocks and routes; 400 for malformed ids', async () => {
    const id = 'ab'.repeat(32);
    expect((await app.inject({ method: 'GET', url: `/v1/txs/${id}` })).json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await app.inject({ method: 'GET', url: `/v1/txs/${id}/proof` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/v1/blocks/999999' })).statusCode).toBe(404);
    const bad = await app.inject({ method: 'GET', url: '/v1/txs/not-an-id' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('INVALID_ARGS');
    expect((await app.inject({ method: 'GET', url: '/nowhere' })).json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('queries: results, unknown query, invalid args', async () => {
    const r = await post('/v1/query/identity/institutions', { args: {} });
    expect(r.status).toBe(200);
    expect((r.body['result'] as unknown[]).length).toBe(10);
    expect((await post('/v1/query/identity/nosuch', {})).body['code']).toBe('UNKNOWN_METHOD');
    const invalid = await post('/v1/query/identity/institution', { args: { id: 'NOT VALID' } });
    expect(invalid.status).toBe(400);
    expect(invalid.body['code']).toBe('INVALID_ARGS');
    const extra = await post('/v1/query/identity/institutions', { args: {}, sneaky: true });
    expect(extra.status).toBe(400);
  });
});

describe('batch submission', () => {
  it('returns a receipt or an error per tx, in order', async () => {
    const good = leadAdmin.tx('identity', 'enrolStaff', { staffId: 'batch-1', name: '批量', roles: ['doctor'], key: generateIdentity().did });
    const bad = { ...good, sig: good.sig.replace(/^./, good.sig[0] === 'A' ? 'B' : 'A') };
    const r = await post('/v1/txs/batch', { txs: [good, bad, good] });
    expect(r.status).toBe(200);
    const receipts = r.body['receipts'] as Array<Record<string, unknown>>;
    expect(receipts[0]).toMatchObject({ result: { status: 'ok' } });
    expect(receipts[1]).toMatchObject({ code: 'TX_BAD_SIGNATURE' });
    expect(receipts[2]).toMatchObject({ code: 'TX_DUPLICATE' });
    expect((await post('/v1/txs/batch', { txs: [] })).body['code']).toBe('INVALID_ARGS');
  });
});

describe('operations and docs', () => {
  it('/health, /metrics, /openapi.json, /docs and the landing page', async () => {
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'ok' });
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('medchain_block_height');
    expect(metrics.body).toContain('medchain_txs_committed_total');
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of ['/v1/txs', '/v1/txs/batch', '/v1/txs/{id}', '/v1/txs/{id}/proof', '/v1/blocks/{height}', '/v1/head', '/v1/checkpoints', '/v1/query/{contract}/{name}', '/health', '/metrics']) {
      expect(spec.paths[path], path).toBeDefined();
    }
    const docs = await app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
    const home = await app.inject({ method: 'GET', url: '/' });
    expect(home.body).toContain('青山县医共体');
    expect(home.body).toContain('npm run build:web');
  });

  it('serves over a real socket', async () => {
    const live = await buildApi(node);
    await live.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = live.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${address.port}/v1/head`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { height: number }).height).toBe(node.ledger.head().height);
    } finally {
      await live.close();
    }
  });
});
