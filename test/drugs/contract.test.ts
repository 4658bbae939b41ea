import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ssccEpc } from '../../src/gs1/codes.js';
import { CASE, DIST, epcisEvent, INSULIN, LOT, MAKER, pack, PHARMACY, PRESCRIPTION, setupDrugChain, shipTo, temperatures } from '../helpers/drug-chain.js';
import type { MedchainNode } from '../../src/node/index.js';
import { type Actor, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/** The drugs contract through a real node: maker → distributor → pharmacy → patient, with everything that goes wrong. */

const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';

let node: MedchainNode;
let cleanup: () => Promise<void>;
let maker: Actor, dist: Actor, pharmacist: Actor, regulator: Actor;

async function run(actor: Actor, method: string, args: unknown) {
  return (await node.submit(actor.tx('drugs', method, args))).result as { status: string; code?: string; message?: string; result?: Record<string, any> };
}
async function ok(actor: Actor, method: string, args: unknown) {
  const r = await run(actor, method, args);
  expect(r, JSON.stringify(r)).toMatchObject({ status: 'ok' });
  return r.result!;
}
const code = (serial: number) => node.query('drugs', 'code', { code: `sgtin:${INSULIN}.${serial}` }) as Record<string, any>;
const event = epcisEvent;
const to = shipTo;
const temps = temperatures;

beforeEach(async () => {
  ({ node, cleanup } = await openTestNode());
  ({ maker, dist, pharmacist, regulator } = (await setupDrugChain(node)).actors);
});
afterEach(async () => cleanup());

describe('drugs: the supply chain', () => {
  it('commissions packs with both codes; duplicates and foreign makers are refused', async () => {
    expect(code(1000)).toMatchObject({ holder: MAKER, status: 'active', lot: LOT, cn: '81234560000000001000' });
    expect(node.query('drugs', 'code', { code: '81234560000000001049' })).toMatchObject({ serial: '1049' });
    const before = stateSnapshot(node);
    const dup = await run(maker, 'commission', { gtin: INSULIN, lot: LOT, serials: ['1049'], eventTime: '2026-05-03T08:00:00+08:00' });
    expect(dup.code).toBe('DUPLICATE_CODE');
    expect((await run(dist, 'commission', { gtin: INSULIN, lot: LOT, serials: ['9'], eventTime: '2026-05-03T08:00:00+08:00' })).code).toBe('FORBIDDEN');
    expect((await run(maker, 'commission', { gtin: INSULIN, lot: 'NOPE', serials: ['9'], eventTime: '2026-05-03T08:00:00+08:00' })).code).toBe('NOT_FOUND');
    expect(stateSnapshot(node)).toBe(before);
  });

  it('pack → ship → receive with cold chain → release → dispense; diversion and recall are caught', async () => {
    await ok(maker, 'capture', { event: { ...event('packing', []), type: 'AggregationEvent', action: 'ADD', epcList: undefined, parentID: ssccEpc(CASE), childEPCs: [1000, 1001, 1002].map(pack) } });
    expect(code(1001).parent).toBe(`sscc:${CASE}`);
    expect((await run(maker, 'capture', { event: event('shipping', [pack(1001)], to(DIST)) })).code).toBe('OUT_OF_ORDER'); // packed: ship the case
    const shipped = await ok(maker, 'capture', { event: event('shipping', [ssccEpc(CASE), pack(1010), pack(1011)], { ...to(DIST), ...temps(4, 5) }) });
    expect(code(1000)).toMatchObject({ status: 'in_transit', holder: MAKER });
    expect((await run(pharmacist, 'capture', { event: event('receiving', [pack(1010)]) })).code).toBe('NOT_SHIPPED_TO_YOU');
    await ok(dist, 'capture', { event: event('receiving', [ssccEpc(CASE), pack(1010), pack(1011)], temps(5)) });
    expect(code(1000)).toMatchObject({ status: 'active', holder: DIST });
    expect(node.query('drugs', 'shipment', { id: shipped['shipment'] })).toMatchObject({ status: 'received', packs: 5 });

    // Onward to the pharmacy; the van ran warm (12 °C) and one pack never arrives.
    const onward = await ok(dist, 'capture', { event: event('shipping', [ssccEpc(CASE), pack(1010), pack(1011)], { ...to(PHARMACY), ...temps(6, 12) }) });
    await ok(pharmacist, 'capture', { event: event('receiving', [ssccEpc(CASE), pack(1010)]) });
    expect(node.query('drugs', 'shipment', { id: onward['shipment'] })).toMatchObject({ missing: [`sgtin:${INSULIN}.1011`] });
    expect(code(1010).excursion).toMatchObject({ maxC: 12, allowed: { minC: 2, maxC: 8 } });

    const dispense = (serial: number, patientId = PID) => run(pharmacist, 'capture', { event: event('dispensing', [pack(serial)]), dispense: { patientId, prescription: PRESCRIPTION } });
    expect((await dispense(1010)).code).toBe('PACK_NONCONFORMANT');
    await ok(pharmacist, 'release', { codes: [`sgtin:${INSULIN}.1010`], note: '数据记录仪核查：超温 20 分钟，经评估可用' });
    expect((await dispense(1010)).status).toBe('ok');
    expect(code(1010)).toMatchObject({ status: 'dispensed', dispensed: { patientId: PID, prescription: PRESCRIPTION } });
    expect((await dispense(1010)).code).toBe('ALREADY_DISPENSED'); // diversion: the same pack a second time
    expect((await run(dist, 'capture', { event: event('dispensing', [pack(1011)]), dispense: { patientId: PID } })).code).toBe('FORBIDDEN');

    const recalled = await ok(regulator, 'recall', { gtin: INSULIN, lot: LOT, reason: '抽检不合格：含量偏低' });
    expect(recalled['holders'].map((h: { holder: string }) => h.holder).sort()).toEqual([DIST, MAKER, PHARMACY].sort());
    expect(node.query('drugs', 'notices', { institution: PHARMACY })).toEqual([expect.objectContaining({ kind: 'recall', lot: LOT })]);
    expect((await dispense(1000)).code).toBe('PACK_RECALLED');
    const stock = node.query('drugs', 'inventory', { holder: PHARMACY }) as Array<Record<string, unknown>>;
    expect(stock).toEqual([expect.objectContaining({ gtin: INSULIN, lot: LOT, active: 3, recalled: true })]);
  });

  it('refuses out-of-order and foreign steps, and the same event twice, writing nothing', async () => {
    const before = stateSnapshot(node);
    expect((await run(dist, 'capture', { event: event('shipping', [pack(1000)], to(PHARMACY)) })).code).toBe('NOT_HOLDER');
    expect((await run(maker, 'capture', { event: event('shipping', [pack(1000)], to(MAKER)) })).code).toBe('INVALID_ARGS');
    expect((await run(maker, 'capture', { event: event('shipping', [pack(9999)], to(DIST)) })).code).toBe('UNKNOWN_CODE');
    expect((await run(maker, 'capture', { event: event('shipping', [pack(1000)], { destinationList: [{ type: 'owning_party', destination: 'https://id.gs1.org/417/0000000000000' }] }) })).code).toBe('INVALID_ARGS');
    expect((await run(maker, 'capture', { event: event('returning', [pack(1000)]) })).code).toBe('OUT_OF_ORDER');
    expect((await run(maker, 'capture', { event: event('repairing', [pack(1000)]) })).code).toBe('UNSUPPORTED_EVENT');
    expect(stateSnapshot(node)).toBe(before);
    const e = event('destroying', [pack(1002)]);
    expect((await run(maker, 'capture', { event: e })).status).toBe('ok');
    expect((await run(maker, 'capture', { event: e })).code).toBe('ALREADY_EXISTS');
    expect((await run(maker, 'capture', { event: event('shipping', [pack(1002)], to(DIST)) })).code).toBe('OUT_OF_ORDER');
  });
});

