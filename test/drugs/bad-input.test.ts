import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { Identity } from '../../src/crypto/index.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { DIST, epcisEvent, INSULIN, LOT, NOT_A_PRESCRIPTION, OTHER_PRESCRIPTION, pack, PATIENT, PHARMACY, PRESCRIPTION, setupDrugChain, shipTo, type DrugChain } from '../helpers/drug-chain.js';
import { openTestNode } from '../helpers/test-node.js';

/**
 * Bad input through the API (issue #5): invalid EPCIS, unknown codes, the wrong custodian, duplicate
 * commissioning, dispensing twice, receiving what was never shipped — each answered with its code, and no drug
 * state written (only the request's single-use nonce and, for a second dispense, the report to the regulator).
 */

let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
let chain: DrugChain;

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
/** Every drug row of world state, reports to the regulator aside. */
const drugState = () => JSON.stringify(node.ledger.store.db.prepare("SELECT key, value FROM state WHERE key >= 'drug/' AND key < 'drug/\x7f' AND key NOT LIKE 'drug/scan/%' ORDER BY key").all());
const codes = (body: Record<string, any>) => body['results'].map((r: { status: string; code?: string }) => r.code ?? r.status);

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  app = await buildApi(node);
  chain = await setupDrugChain(node);
  const shipped = await capture(chain.people.maker, doc(epcisEvent('shipping', [pack(1000), pack(1001)], shipTo(PHARMACY))));
  expect(shipped.body).toMatchObject({ captured: 1 });
  const shipped2 = await capture(chain.people.maker, doc(epcisEvent('shipping', [pack(1005), pack(1006), pack(1007)], shipTo(PHARMACY))));
  expect(shipped2.body).toMatchObject({ captured: 1 });
  const received = await capture(chain.people.pharmacist, doc(epcisEvent('receiving', [pack(1000), pack(1001)]), epcisEvent('receiving', [pack(1005), pack(1006), pack(1007)])));
  expect(received.body).toMatchObject({ captured: 2 });
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('drugs: bad input through the API writes nothing', () => {
  it('invalid EPCIS: the validator errors, and not even a tx', async () => {
    const height = node.ledger.head().height;
    const noTime = await capture(chain.people.maker, doc({ type: 'ObjectEvent', action: 'OBSERVE', epcList: [pack(1002)] }));
    expect(noTime.status).toBe(400);
    expect(noTime.body.code).toBe('INVALID_EPCIS');
    expect(noTime.body.message).toMatch(/eventTime/);
    expect((await capture(chain.people.maker, doc())).body.code).toBe('INVALID_EPCIS');
    expect(node.ledger.head().height).toBe(height);
  });

  it('unknown codes, the wrong custodian, receiving what was never shipped', async () => {
    const before = drugState();
    const unknown = await capture(chain.people.maker, doc(epcisEvent('shipping', [pack(4242)], shipTo(DIST))));
    expect(unknown.status).toBe(422);
    expect(codes(unknown.body)).toEqual(['UNKNOWN_CODE']);
    const unknownCn = await capture(chain.people.maker, doc(epcisEvent('shipping', ['urn:medchain:cn:81234569999999999999'], shipTo(DIST))));
    expect(codes(unknownCn.body)).toEqual(['UNKNOWN_CODE']);
    const notHolder = await capture(chain.people.dist, doc(epcisEvent('shipping', [pack(1002)], shipTo(PHARMACY))));
    expect(codes(notHolder.body)).toEqual(['NOT_HOLDER']);
    const notYours = await capture(chain.people.pharmacist, doc(epcisEvent('destroying', [pack(1003)])));
    expect(codes(notYours.body)).toEqual(['NOT_HOLDER']);
    const neverShipped = await capture(chain.people.pharmacist, doc(epcisEvent('receiving', [pack(1004)])));
    expect(codes(neverShipped.body)).toEqual(['NOT_SHIPPED_TO_YOU']);
    expect(drugState()).toBe(before);
  });

  it('duplicate commissioning, in an EPCIS document and as a range', async () => {
    const before = drugState();
    const again = await capture(
      chain.people.maker,
      doc({ ...epcisEvent('commissioning', [pack(1010), pack(99_001)]), action: 'ADD', ilmd: { 'cbvmda:lotNumber': LOT } }),
    );
    expect(codes(again.body)).toEqual(['DUPLICATE_CODE']);
    const range = await node.submit(chain.actors.maker.tx('drugs', 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 1040, count: 20 }, eventTime: '2026-06-02T08:00:00+08:00' }));
    expect(range.result).toMatchObject({ status: 'error', code: 'DUPLICATE_CODE' });
    expect(drugState()).toBe(before);
  });

  it('dispensing twice: refused, nothing written but the report to the regulator', async () => {
    const first = await capture(chain.people.pharmacist, doc({ ...epcisEvent('dispensing', [pack(1000)]), 'medchain:patientId': PATIENT, 'medchain:prescription': PRESCRIPTION }));
    expect(first.body).toMatchObject({ captured: 1 });
    const before = drugState();
    const twice = await capture(chain.people.pharmacist, doc({ ...epcisEvent('dispensing', [pack(1000)]), 'medchain:patientId': PATIENT }));
    expect(twice.status).toBe(422);
    expect(codes(twice.body)).toEqual(['ALREADY_DISPENSED']);
    expect(drugState()).toBe(before);
    const reports = node.query('drugs', 'scanReports', { finding: 'already-dispensed' }) as Array<{ code: string }>;
    expect(reports.map((r) => r.code)).toEqual([`sgtin:${INSULIN}.1000`]);
  });

  it('dispensing fills a prescription of that patient: unknown, foreign, non-prescription or missing ones write nothing', async () => {
    const dispense = (serial: number, extra: Record<string, unknown>) => doc({ ...epcisEvent('dispensing', [pack(serial)]), 'medchain:patientId': PATIENT, ...extra });
    const before = drugState();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ 'medchain:prescription': 'rx-nowhere-1' }, 'PRESCRIPTION_NOT_FOUND'],
      [{ 'medchain:prescription': OTHER_PRESCRIPTION }, 'PRESCRIPTION_MISMATCH'],
      [{ 'medchain:prescription': NOT_A_PRESCRIPTION }, 'NOT_A_PRESCRIPTION'],
      [{}, 'PRESCRIPTION_REQUIRED'],
    ];
    for (const [extra, code] of cases) {
      const refused = await capture(chain.people.pharmacist, dispense(1005, extra));
      expect(refused.status, code).toBe(422);
      expect(codes(refused.body), code).toEqual([code]);
      expect(refused.body.results[0].message).not.toContain('PABCDEFGHIJ'); // the other patient is not named
    }
    expect(drugState()).toBe(before);
    expect(node.query('drugs', 'code', { code: `sgtin:${INSULIN}.1005` })).toMatchObject({ status: 'active', holder: PHARMACY });

    // The same refusals as a signed tx get their status from the code table.
    const tx = (prescription: string) => chain.actors.pharmacist.tx('drugs', 'capture', { event: epcisEvent('dispensing', [pack(1005)]), dispense: { patientId: PATIENT, prescription } });
    const post = async (body: unknown) => {
      const res = await app.inject({ method: 'POST', url: '/v1/txs', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, code: (res.json() as { code?: string }).code };
    };
    expect(await post(tx('rx-nowhere-1'))).toEqual({ status: 404, code: 'PRESCRIPTION_NOT_FOUND' });
    expect(await post(tx(OTHER_PRESCRIPTION))).toEqual({ status: 409, code: 'PRESCRIPTION_MISMATCH' });
    expect(await post(tx(NOT_A_PRESCRIPTION))).toEqual({ status: 409, code: 'NOT_A_PRESCRIPTION' });
    expect(drugState()).toBe(before);

    // The good case: the patient's own MedicationRequest; the pack row links it.
    const good = await capture(chain.people.pharmacist, dispense(1005, { 'medchain:prescription': PRESCRIPTION }));
    expect(good.status).toBe(201);
    expect(codes(good.body)).toEqual(['ok']);
    expect(node.query('drugs', 'code', { code: `sgtin:${INSULIN}.1005` })).toMatchObject({ status: 'dispensed', dispensed: { patientId: PATIENT, prescription: PRESCRIPTION } });
  });

  it('an over-the-counter sale (retail_selling) needs no prescription, but a named one is checked', async () => {
    const sale = (serial: number, extra: Record<string, unknown>) => doc({ ...epcisEvent('retail_selling', [pack(serial)]), 'medchain:patientId': PATIENT, ...extra });
    const before = drugState();
    expect(codes((await capture(chain.people.pharmacist, sale(1006, { 'medchain:prescription': OTHER_PRESCRIPTION }))).body)).toEqual(['PRESCRIPTION_MISMATCH']);
    expect(drugState()).toBe(before);
    expect(codes((await capture(chain.people.pharmacist, sale(1006, {}))).body)).toEqual(['ok']);
    expect(node.query('drugs', 'code', { code: `sgtin:${INSULIN}.1006` })).toMatchObject({ status: 'dispensed' });
  });

  it('an erased prescription cannot be filled', async () => {
    const erased = await node.submit(chain.actors.pharmacist.tx('records', 'erase', { id: PRESCRIPTION, reason: 'ENTERED_IN_ERROR' }));
    expect(erased.result).toMatchObject({ status: 'ok' });
    const before = drugState();
    const refused = await capture(chain.people.pharmacist, doc({ ...epcisEvent('dispensing', [pack(1007)]), 'medchain:patientId': PATIENT, 'medchain:prescription': PRESCRIPTION }));
    expect(codes(refused.body)).toEqual(['PRESCRIPTION_NOT_FOUND']);
    expect(refused.body.results[0].message).toMatch(/erased/);
    expect(drugState()).toBe(before);
  });

  it('a document mixing good and bad events: the good ones stand, the bad ones write nothing', async () => {
    const mixed = await capture(
      chain.people.maker,
      doc(
        epcisEvent('shipping', [pack(1020)], shipTo(DIST)),
        epcisEvent('shipping', [pack(1021), pack(1000)], shipTo(DIST)), // 1000 is at the pharmacy (dispensed)
        epcisEvent('destroying', [pack(1022)]),
      ),
    );
    expect(mixed.status).toBe(201);
    expect(codes(mixed.body)).toEqual(['ok', 'NOT_HOLDER', 'ok']);
    const pack1021 = node.query('drugs', 'code', { code: `sgtin:${INSULIN}.1021` });
    expect(pack1021).toMatchObject({ status: 'active', holder: 'huakang-pharma' });
    // The refused event is on the ledger with its code, inside the batch tx's result.
    const { height } = node.ledger.head();
    const results = node.ledger.store.blockTxs(height).map((t) => JSON.parse(t.result) as { result?: { results?: Array<{ code?: string }> } });
    expect(results.flatMap((r) => r.result?.results ?? []).map((r) => r.code)).toContain('NOT_HOLDER');
    // 20-digit codes travel in EPCIS documents as URIs.
    const byCn = await capture(chain.people.maker, doc(epcisEvent('shipping', ['urn:medchain:cn:81234560000000001030'], shipTo(DIST))));
    expect(codes(byCn.body)).toEqual(['ok']);
    expect(node.query('drugs', 'code', { code: `sgtin:${INSULIN}.1030` })).toMatchObject({ status: 'in_transit' });
  });
});
