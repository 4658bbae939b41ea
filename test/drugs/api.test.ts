import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { Identity } from '../../src/crypto/index.js';
import { verifyInclusion } from '../../src/ledger/merkle.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { DIST, epcisEvent, INSULIN, LOT, MAKER, pack, PHARMACY, PRESCRIPTION, setupDrugChain, shipTo, temperatures, type DrugChain } from '../helpers/drug-chain.js';
import { openTestNode } from '../helpers/test-node.js';

/** Drug traceability through HTTP: EPCIS capture, the public verification page and JSON, QR codes. */

let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
let chain: DrugChain;
const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';

const doc = (...eventList: Array<Record<string, unknown>>) => ({
  '@context': ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'],
  type: 'EPCISDocument',
  schemaVersion: '2.0',
  creationDate: '2026-06-01T08:00:00+08:00',
  epcisBody: { eventList },
});

async function capture(as: Identity, body: unknown) {
  const payload = JSON.stringify(body);
  const res = await app.inject({ method: 'POST', url: '/epcis/capture', payload, headers: { 'content-type': 'application/ld+json', authorization: signUserRequest(as, 'POST', '/epcis/capture', payload) } });
  return { status: res.statusCode, body: res.json() as Record<string, any> };
}
const verify = async (code: string) => (await app.inject({ method: 'GET', url: `/v1/drugs/verify?code=${encodeURIComponent(code)}` })).json() as Record<string, any>;

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  app = await buildApi(node);
  chain = await setupDrugChain(node);
  const r1 = await capture(chain.people.maker, doc(epcisEvent('shipping', [pack(1000), pack(1001), pack(1002)], { ...shipTo(PHARMACY), ...temperatures(4, 6) })));
  expect(r1.body, JSON.stringify(r1.body)).toMatchObject({ captured: 1, failed: 0 });
  const r2 = await capture(chain.people.pharmacist, doc(epcisEvent('receiving', [pack(1000), pack(1001), pack(1002)], { bizLocation: { id: 'https://id.gs1.org/414/6901234000023' } })));
  expect(r2.body).toMatchObject({ captured: 1 });
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('drugs over HTTP', () => {
  it('invalid EPCIS returns the validator errors and writes nothing; custody errors come per event', async () => {
    const height = node.ledger.head().height;
    const bad = await capture(chain.people.maker, doc({ ...epcisEvent('shipping', [pack(1003)], shipTo(DIST)), action: 'JUMP' }));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_EPCIS' });
    expect(bad.body.message).toContain('action');
    expect((await capture(chain.people.maker, { hello: 'world' })).body.code).toBe('INVALID_EPCIS');
    expect(node.ledger.head().height).toBe(height);
    const mixed = await capture(chain.people.maker, doc(epcisEvent('shipping', [pack(1003)], shipTo(DIST)), epcisEvent('shipping', [pack(1000)], shipTo(DIST))));
    expect(mixed.status).toBe(201);
    expect(mixed.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['ok', 'NOT_HOLDER']);
    const unsigned = await app.inject({ method: 'POST', url: '/epcis/capture', payload: doc(), headers: { 'content-type': 'application/json' } });
    expect(unsigned.statusCode).toBe(401);
  });

  it('a genuine pack verifies, with its custody, cold chain and a Merkle proof that checks', async () => {
    const v = await verify(`(01)${INSULIN}(10)${LOT}(21)1001`);
    expect(v).toMatchObject({ found: true, verdict: 'ok', warnings: [], status: 'active', holder: '康宁大药房', batch: { lot: LOT, expires: '2028-04-30' }, product: { name: '门冬胰岛素注射液' } });
    expect(v['custody'].map((c: { bizStep: string }) => c.bizStep)).toEqual(['commissioning', 'shipping', 'receiving']);
    expect(v['coldChain']).toEqual([expect.objectContaining({ minC: 4, maxC: 6, excursion: false })]);
    const p = v['proof'];
    expect(verifyInclusion(Buffer.from(p.txId, 'hex'), p.index, p.treeSize, p.path.map((h: string) => Buffer.from(h, 'hex')), Buffer.from(p.txRoot, 'hex'))).toBe(true);
    const block = (await app.inject({ method: 'GET', url: `/v1/blocks/${p.height}` })).json() as { header: { txRoot: string } };
    expect(block.header.txRoot).toBe(p.txRoot);
    expect((await verify('81234560000000001001'))['code']).toBe(`sgtin:${INSULIN}.1001`);
  });

  it('the QR code opens the public page, in Chinese or English', async () => {
    const svg = await app.inject({ method: 'GET', url: `/v1/drugs/qr?code=${encodeURIComponent(`sgtin:${INSULIN}.1001`)}&base=https://medchain.example` });
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect(svg.body).toContain('<svg');
    const byCn = await app.inject({ method: 'GET', url: '/v1/drugs/qr?code=81234560000000001001&base=https://medchain.example' });
    expect(byCn.body).toBe(svg.body); // the same pack, the same Digital Link
    const png = await app.inject({ method: 'GET', url: `/v1/drugs/qr?code=sgtin:${INSULIN}.1001&format=png` });
    expect(png.rawPayload.subarray(1, 4).toString()).toBe('PNG');
    const zh = await app.inject({ method: 'GET', url: `/01/${INSULIN}/10/${LOT}/21/1001`, headers: { 'accept-language': 'zh-CN' } });
    expect(zh.headers['content-type']).toContain('text/html');
    expect(zh.body).toContain('正品');
    expect(zh.body).toContain('门冬胰岛素注射液');
    const en = await app.inject({ method: 'GET', url: `/01/${INSULIN}/10/${LOT}/21/1001?lang=en` });
    expect(en.body).toContain('Genuine');
    const json = await app.inject({ method: 'GET', url: `/01/${INSULIN}/21/1001`, headers: { accept: 'application/json' } });
    expect(json.json()).toMatchObject({ found: true });
  });

  it('counterfeits, diversions and recalls are flagged and reported to the regulator', async () => {
    const fake = await verify(`https://id.gs1.org/01/${INSULIN}/21/77777`);
    expect(fake).toMatchObject({ found: false, verdict: 'danger', warnings: ['unknown-code'] });
    const dispensed = await capture(chain.people.pharmacist, doc({ ...epcisEvent('dispensing', [pack(1002)]), 'medchain:patientId': PID, 'medchain:prescription': PRESCRIPTION }));
    expect(dispensed.body).toMatchObject({ captured: 1 });
    const again = await verify(`sgtin:${INSULIN}.1002`);
    expect(again).toMatchObject({ verdict: 'danger', warnings: ['already-dispensed'] });
    expect(JSON.stringify(again)).not.toContain(PID); // the patient is never shown
    await node.submit(chain.actors.regulator.tx('drugs', 'recall', { gtin: INSULIN, lot: LOT, reason: '抽检不合格' }));
    expect((await verify(`sgtin:${INSULIN}.1001`))['warnings']).toContain('recalled');
    const page = await app.inject({ method: 'GET', url: `/01/${INSULIN}/10/${LOT}/21/1001?lang=zh` });
    expect(page.body).toContain('召回');
    await new Promise((r) => setTimeout(r, 50));
    const reports = node.query('drugs', 'scanReports', {}) as Array<{ finding: string; code: string }>;
    expect(reports.map((r) => r.finding).sort()).toEqual(['already-dispensed', 'recalled', 'unknown-code']);
    expect((await verify(`sgtin:${INSULIN}.77777`))['found']).toBe(false);
    expect((node.query('drugs', 'scanReports', {}) as unknown[]).length).toBe(3); // the same finding is not reported twice
    const bad = await app.inject({ method: 'GET', url: '/v1/drugs/verify?code=hello' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'INVALID_CODE' });
  });

  it('a second dispense is refused and reported; stock and the regulator report show what matters', async () => {
    const twice = await capture(chain.people.pharmacist, doc({ ...epcisEvent('dispensing', [pack(1002)]), 'medchain:patientId': PID }));
    expect(twice.body.results[0]).toMatchObject({ code: 'ALREADY_DISPENSED' });
    const get = async (as: Identity, url: string) => {
      const res = await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(as, 'GET', url) } });
      return { status: res.statusCode, body: res.json() };
    };
    const stock = await get(chain.people.pharmacist, `/v1/drugs/inventory?holder=${PHARMACY}&expiringWithinDays=3650`);
    expect(stock.body).toEqual([expect.objectContaining({ gtin: INSULIN, lot: LOT, active: 2, recalled: true, expired: false, expiringSoon: true })]);
    expect((await get(chain.people.dist, `/v1/drugs/inventory?holder=${PHARMACY}`)).status).toBe(403);
    const report = await get(chain.people.regulator, '/v1/drugs/reports/regulator');
    expect(report.status).toBe(200);
    expect(report.body.recalledInStock).toEqual([expect.objectContaining({ lot: LOT, holders: { [PHARMACY]: 2, [MAKER]: 47 } })]);
    expect(report.body.suspicious.map((r: { finding: string }) => r.finding)).toContain('already-dispensed');
    expect((await get(chain.people.pharmacist, '/v1/drugs/reports/regulator')).status).toBe(403);
  });

  it('a large document is split into as many batch txs as the size limit needs, each event still answered', async () => {
    await node.submit(chain.actors.maker.tx('drugs', 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 50_000, count: 300 }, eventTime: '2026-05-02T09:00:00+08:00' }));
    const height = node.ledger.head().height;
    const events = Array.from({ length: 300 }, (_, i) => epcisEvent('shipping', [pack(50_000 + i)], shipTo(DIST)));
    events[150] = epcisEvent('shipping', [pack(777_777)], shipTo(DIST));
    const r = await capture(chain.people.maker, doc(...events));
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(201);
    expect(r.body).toMatchObject({ captured: 299, failed: 1 });
    expect(r.body.results[150]).toMatchObject({ index: 150, code: 'UNKNOWN_CODE' });
    const txs = [];
    for (let h = height + 1; h <= node.ledger.head().height; h++) txs.push(...node.ledger.store.blockTxs(h).filter((t) => JSON.parse(t.body).tx.method === 'captureBatch'));
    expect(txs.length).toBeGreaterThan(1);
    for (const t of txs) expect(Buffer.byteLength(t.body)).toBeLessThanOrEqual(node.limits.maxTxBytes);
  });

  it('events can be queried by step, location and time', async () => {
    const url = `/epcis/events?bizStep=receiving&GE_eventTime=${encodeURIComponent('2026-01-01T00:00:00+08:00')}`;
    const res = await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(chain.people.dist, 'GET', url) } });
    expect(res.statusCode).toBe(200);
    expect(res.json().events).toEqual([expect.objectContaining({ bizStep: 'receiving', institution: PHARMACY, location: 'https://id.gs1.org/414/6901234000023' })]);
    // One event as it was captured, sensor readings and all, by its hash id.
    const byCode = `/epcis/events?code=${encodeURIComponent(`(01)${INSULIN}(21)1001`)}&bizStep=shipping`;
    const shipping = (await app.inject({ method: 'GET', url: byCode, headers: { authorization: signUserRequest(chain.people.dist, 'GET', byCode) } })).json().events[0];
    const one = `/epcis/events/${encodeURIComponent(shipping.id)}`;
    const captured = (await app.inject({ method: 'GET', url: one, headers: { authorization: signUserRequest(chain.people.dist, 'GET', one) } })).json();
    expect(captured).toMatchObject({ eventID: shipping.id, bizStep: 'shipping', sensorElementList: [{ sensorReport: [{ value: 4 }, { value: 6 }] }] });
    void MAKER;
  });
});
