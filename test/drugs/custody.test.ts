import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ssccEpc } from '../../src/gs1/codes.js';
import type { MedchainNode } from '../../src/node/index.js';
import { CASE, DIST, epcisEvent, INSULIN, LOT, MAKER, pack, PATIENT, PHARMACY, PRESCRIPTION, setupDrugChain, shipTo, temperatures, withCheck } from '../helpers/drug-chain.js';
import { type Actor, admin, openTestNode, stateSnapshot } from '../helpers/test-node.js';

/**
 * The drugs contract beyond the happy path: both code forms everywhere, pallets of cases, batched capture with
 * per-event results, recall and stock at a scale past one index page, events by code and time, and stock
 * counters that always agree with the packs themselves.
 */

let node: MedchainNode;
let cleanup: () => Promise<void>;
let maker: Actor, dist: Actor, pharmacist: Actor, regulator: Actor;

type Result = { status: string; code?: string; message?: string; result?: Record<string, any> };
async function run(actor: Actor, method: string, args: unknown): Promise<Result> {
  return (await node.submit(actor.tx('drugs', method, args))).result as Result;
}
async function ok(actor: Actor, method: string, args: unknown) {
  const r = await run(actor, method, args);
  expect(r, JSON.stringify(r)).toMatchObject({ status: 'ok' });
  return r.result!;
}
const code = (serial: number | string) => node.query('drugs', 'code', { code: typeof serial === 'number' ? `sgtin:${INSULIN}.${serial}` : serial }) as Record<string, any>;
const cn = (serial: number) => `8123456${String(serial).padStart(13, '0')}`;
const PALLET = withCheck('06901234000000900');
const CASE2 = withCheck('06901234000000002');

/** Stock as the packs themselves say it (every pack row), to check the counter rows against. */
function stockFromPacks(): Record<string, { active: number; inTransit: number; nonconformant: number }> {
  const rows = node.ledger.store.db.prepare("SELECT value FROM state WHERE key >= 'drug/code/' AND key < 'drug/code/\x7f'").all() as Array<{ value: string }>;
  const out: Record<string, { active: number; inTransit: number; nonconformant: number }> = {};
  for (const { value } of rows) {
    const p = JSON.parse(value) as { kind: string; status: string; holder: string; lot: string; excursion?: unknown; released?: unknown };
    if (p.kind !== 'pack' || (p.status !== 'active' && p.status !== 'in_transit')) continue;
    const s = (out[`${p.holder}/${p.lot}`] ??= { active: 0, inTransit: 0, nonconformant: 0 });
    if (p.status === 'active') s.active++;
    else s.inTransit++;
    if (p.excursion && !p.released) s.nonconformant++;
  }
  return out;
}
function stockFromCounters(): Record<string, { active: number; inTransit: number; nonconformant: number }> {
  const out: Record<string, { active: number; inTransit: number; nonconformant: number }> = {};
  for (const holder of [MAKER, DIST, PHARMACY]) {
    for (const s of node.query('drugs', 'inventory', { holder }) as Array<{ lot: string; active: number; inTransit: number; nonconformant: number }>) {
      out[`${holder}/${s.lot}`] = { active: s.active, inTransit: s.inTransit, nonconformant: s.nonconformant };
    }
  }
  return out;
}

beforeEach(async () => {
  ({ node, cleanup } = await openTestNode());
  ({ maker, dist, pharmacist, regulator } = (await setupDrugChain(node)).actors);
});
afterEach(async () => cleanup());

describe('drugs: custody in depth', () => {
  it('accepts the 20-digit code wherever a code goes: capture, release, queries', async () => {
    await ok(maker, 'capture', { event: epcisEvent('shipping', [cn(1000), cn(1001)], { ...shipTo(PHARMACY), ...temperatures(3, 11) }) });
    await ok(pharmacist, 'capture', { event: epcisEvent('receiving', [cn(1000), pack(1001)]) });
    expect(code(cn(1000))).toMatchObject({ holder: PHARMACY, status: 'active', excursion: { maxC: 11 } });
    await ok(pharmacist, 'release', { codes: [cn(1000)], note: '数据记录仪核查后放行，见质量记录 QA-7' });
    expect(code(1000).released).toBeDefined();
    expect((await run(pharmacist, 'release', { codes: [cn(1000)], note: '数据记录仪核查后放行，见质量记录 QA-7' })).code).toBe('OUT_OF_ORDER');
    expect((await run(pharmacist, 'release', { codes: ['81234569999999999999'], note: '数据记录仪核查后放行，见质量记录 QA-7' })).code).toBe('UNKNOWN_CODE');
    await ok(pharmacist, 'capture', { event: epcisEvent('dispensing', [cn(1000)]), dispense: { patientId: PATIENT, prescription: PRESCRIPTION } });
    const events = node.query('drugs', 'events', { code: cn(1000) }) as Array<{ bizStep: string }>;
    expect(events.map((e) => e.bizStep)).toEqual(['commissioning', 'shipping', 'receiving', 'dispensing']);
    // A 20-digit code outside every issued range is unknown, not someone else's pack.
    expect((await run(maker, 'capture', { event: epcisEvent('shipping', ['81234560000000009999'], shipTo(DIST)) })).code).toBe('UNKNOWN_CODE');
  });

  it('refuses codes that were issued already, bad GTINs and GLNs, and unknown patients', async () => {
    const before = stateSnapshot(node);
    // New serials, but 20-digit codes overlapping the first commissioning's range.
    expect((await run(maker, 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 5000, count: 10 }, cnFirst: cn(1045), eventTime: '2026-05-03T08:00:00+08:00' })).code).toBe('DUPLICATE_CODE');
    expect((await run(maker, 'commission', { gtin: INSULIN, lot: LOT, serials: ['1010', '77'], eventTime: '2026-05-03T08:00:00+08:00' })).code).toBe('DUPLICATE_CODE');
    expect((await node.submit(admin(MAKER).tx('drugs', 'registerLocation', { gln: '6901234000008', name: 'warehouse 2' }))).result).toMatchObject({ code: 'INVALID_ARGS' });
    expect((await run(maker, 'registerProduct', { gtin: '06901234560018', approvalNumber: '国药准字H20269999', name: 'x', dosageForm: '片剂', strength: '1 mg', storage: { minC: 2, maxC: 30 } })).code).toBe('INVALID_ARGS');
    await ok(maker, 'capture', { event: epcisEvent('shipping', [pack(1002)], shipTo(PHARMACY)) });
    await ok(pharmacist, 'capture', { event: epcisEvent('receiving', [pack(1002)]) });
    const middle = stateSnapshot(node);
    expect((await run(pharmacist, 'capture', { event: epcisEvent('dispensing', [pack(1002)]), dispense: { patientId: 'PAAAAAAAAAAAAAAAAAAAAAAAAAA' } })).code).toBe('NOT_FOUND');
    expect(stateSnapshot(node)).toBe(middle);
    expect(before).not.toBe(middle);
    // Adjacent ranges are fine.
    await ok(maker, 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 5000, count: 10 }, cnFirst: cn(1050), eventTime: '2026-05-03T08:00:00+08:00' });
    expect(code(cn(1059))).toMatchObject({ serial: '5009' });
    expect(code(cn(1049))).toMatchObject({ serial: '1049' });
  });

  it('a pallet of cases moves everything inside it; it cannot be unpacked on the road', async () => {
    const packCase = (sscc: string, serials: number[]) =>
      ok(maker, 'capture', { event: { ...epcisEvent('packing', []), type: 'AggregationEvent', action: 'ADD', parentID: ssccEpc(sscc), childEPCs: serials.map(pack), epcList: undefined } });
    await packCase(CASE, [1000, 1001]);
    await packCase(CASE2, [1002, 1003]);
    await ok(maker, 'capture', { event: { ...epcisEvent('packing', []), type: 'AggregationEvent', action: 'ADD', parentID: ssccEpc(PALLET), childEPCs: [ssccEpc(CASE), ssccEpc(CASE2)], epcList: undefined } });
    expect(code(`sscc:${CASE}`).parent).toBe(`sscc:${PALLET}`);
    expect((await run(maker, 'capture', { event: epcisEvent('shipping', [ssccEpc(CASE)], shipTo(DIST)) })).code).toBe('OUT_OF_ORDER');
    await ok(maker, 'capture', { event: epcisEvent('shipping', [ssccEpc(PALLET)], shipTo(DIST)) });
    expect(code(`sscc:${CASE2}`)).toMatchObject({ status: 'in_transit' });
    expect(code(1003)).toMatchObject({ status: 'in_transit', holder: MAKER });
    expect((await run(maker, 'capture', { event: { ...epcisEvent('unpacking', []), type: 'AggregationEvent', action: 'DELETE', parentID: ssccEpc(PALLET), epcList: undefined } })).code).toBe('OUT_OF_ORDER');
    await ok(dist, 'capture', { event: epcisEvent('receiving', [ssccEpc(PALLET)]) });
    for (const serial of [1000, 1001, 1002, 1003]) expect(code(serial)).toMatchObject({ status: 'active', holder: DIST });
    expect(code(`sscc:${CASE}`)).toMatchObject({ status: 'active', holder: DIST });
    // The pack's custody shows its case's packing and the pallet's trip (packing the case on the pallet did not change the pack).
    expect((node.query('drugs', 'events', { code: `sgtin:${INSULIN}.1003` }) as Array<{ bizStep: string }>).map((e) => e.bizStep)).toEqual(['commissioning', 'packing', 'shipping', 'receiving']);
    expect((node.query('drugs', 'events', { code: `sscc:${CASE2}` }) as Array<{ bizStep: string }>).map((e) => e.bizStep)).toEqual(['packing', 'packing', 'shipping', 'receiving']);
    // Scanning the pallet's SSCC shows the pallet, not a counterfeit.
    const v = await node.drugs.verify(`(00)${PALLET}`);
    expect(v).toMatchObject({ found: true, kind: 'container', contents: 2, verdict: 'ok', status: 'active' });
    expect(v.custody!.map((c) => c.bizStep)).toEqual(['packing', 'shipping', 'receiving']);
    expect(node.query('drugs', 'scanReports', {})).toEqual([]);
    expect(stockFromCounters()).toEqual(stockFromPacks());
  });

  it('keeps each code\'s custody in its own steps: one receipt of two shipments, a partial receipt, a case\'s packs', async () => {
    const a = (await ok(maker, 'capture', { event: epcisEvent('shipping', [pack(1000)], { ...shipTo(DIST), ...temperatures(4, 5) }) })).shipment as string;
    const b = (await ok(maker, 'capture', { event: epcisEvent('shipping', [pack(1001), pack(1002)], { ...shipTo(DIST), ...temperatures(3, 7) }) })).shipment as string;
    await ok(dist, 'capture', { event: epcisEvent('receiving', [pack(1000), pack(1001)], temperatures(6)) });
    const steps = (serial: number) => node.query('drugs', 'custody', { code: cn(serial) }) as Array<{ event: string; bizStep: string; shipment?: string; sensors?: { readings: number } }>;
    // The receipt took in two shipments: each pack's step names its own.
    expect(steps(1000).map((s) => [s.bizStep, s.shipment])).toEqual([['commissioning', undefined], ['shipping', a], ['receiving', a]]);
    expect(steps(1001).map((s) => [s.bizStep, s.shipment])).toEqual([['commissioning', undefined], ['shipping', b], ['receiving', b]]);
    // The steps name exactly the events the EPCIS query by code returns.
    for (const serial of [1000, 1001, 1002]) {
      expect(steps(serial).map((s) => s.event)).toEqual((node.query('drugs', 'events', { code: `sgtin:${INSULIN}.${serial}` }) as Array<{ id: string }>).map((e) => e.id));
    }
    const v1000 = await node.drugs.verify(cn(1000));
    expect(v1000.coldChain).toEqual([{ shipment: a, from: expect.any(String), to: expect.any(String), minC: 4, maxC: 6, excursion: false }]);
    expect(v1000.custody!.map((c) => c.bizStep)).toEqual(['commissioning', 'shipping', 'receiving']);
    // 1002 was shipped with 1001 and not received: still in transit, its chain ends at the shipping.
    expect(steps(1002).map((s) => s.bizStep)).toEqual(['commissioning', 'shipping']);
    // Its late receipt with a reading out of range marks the whole shipment, 1001 included (already received), and
    // gives 1001 a step with that reading: its cold chain shows the shipment's full record.
    await ok(dist, 'capture', { event: epcisEvent('receiving', [pack(1002)], temperatures(12)) });
    const v1001 = await node.drugs.verify(cn(1001));
    expect(v1001.warnings).toContain('temperature-excursion');
    expect(v1001.coldChain).toEqual([{ shipment: b, from: expect.any(String), to: expect.any(String), minC: 3, maxC: 12, excursion: true }]);
    // A pack inside a case gets a step for each move of the case.
    await ok(dist, 'capture', { event: { ...epcisEvent('packing', []), type: 'AggregationEvent', action: 'ADD', parentID: ssccEpc(CASE), childEPCs: [pack(1000), pack(1001)], epcList: undefined } });
    await ok(dist, 'capture', { event: epcisEvent('shipping', [ssccEpc(CASE)], shipTo(PHARMACY)) });
    expect(steps(1000).map((s) => s.bizStep)).toEqual(['commissioning', 'shipping', 'receiving', 'packing', 'shipping']);
    expect((node.query('drugs', 'custody', { code: `sscc:${CASE}` }) as unknown[]).length).toBe(2);
    expect((await run(dist, 'capture', { event: epcisEvent('shipping', [pack(1003)], shipTo(PHARMACY)) })).code).toBe('NOT_HOLDER');
    expect(steps(1003).map((s) => s.bizStep)).toEqual(['commissioning']);
    expect(() => node.query('drugs', 'custody', { code: '81234569999999999999' })).toThrow(/unknown code/);
  });

  it('a batch captures event by event: a refused event writes nothing, the others stand', async () => {
    const r = await ok(maker, 'captureBatch', {
      events: [
        { event: epcisEvent('shipping', [pack(1000), pack(1001)], shipTo(DIST)) },
        // 1002 is fine, 1000 was just shipped: the whole event is refused, 1002 stays put.
        { event: epcisEvent('shipping', [pack(1002), pack(1000)], shipTo(PHARMACY)) },
        { event: epcisEvent('destroying', [pack(1003)]) },
        { event: epcisEvent('shipping', [pack(9999)], shipTo(DIST)) },
      ],
    });
    expect(r['results'].map((x: { code?: string; bizStep?: string }) => x.code ?? x.bizStep)).toEqual(['shipping', 'OUT_OF_ORDER', 'destroying', 'UNKNOWN_CODE']);
    expect(r).toMatchObject({ captured: 2, failed: 2 });
    expect(code(1002)).toMatchObject({ status: 'active', holder: MAKER });
    expect(code(1002).shipment).toBeUndefined();
    expect(code(1000)).toMatchObject({ status: 'in_transit' });
    expect(code(1003)).toMatchObject({ status: 'destroyed' });
    // The same event twice in one batch: the second is a duplicate.
    const again = epcisEvent('shipping', [pack(1004)], shipTo(DIST));
    const dup = await ok(maker, 'captureBatch', { events: [{ event: again }, { event: again }] });
    expect(dup['results'].map((x: { code?: string }) => x.code ?? 'ok')).toEqual(['ok', 'ALREADY_EXISTS']);
    expect(stockFromCounters()).toEqual(stockFromPacks());
  });

  it('recall and stock stay exact past one index page (20,000 packs in a lot)', async () => {
    await ok(maker, 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 100_000, count: 20_000 }, eventTime: '2026-05-03T08:00:00+08:00' });
    await ok(maker, 'captureBatch', { events: [{ event: epcisEvent('shipping', [pack(119_999), pack(119_998), pack(1000)], shipTo(DIST)) }] });
    await ok(dist, 'capture', { event: epcisEvent('receiving', [pack(119_999), pack(119_998)]) });
    const recall = await ok(regulator, 'recall', { gtin: INSULIN, lot: LOT, reason: '抽检不合格：含量偏低' });
    expect(recall['holders']).toEqual([
      { holder: MAKER, packs: 20_048 }, // 47 active + 1 in transit to the distributor (1000) + 20,000 new
      { holder: DIST, packs: 2 },
    ].sort((a, b) => (a.holder < b.holder ? -1 : 1)));
    expect(node.query('drugs', 'inventory', { holder: MAKER })).toEqual([expect.objectContaining({ lot: LOT, active: 20_047, inTransit: 1, recalled: true })]);
    expect(node.query('drugs', 'recalledStock', {})).toEqual([expect.objectContaining({ lot: LOT, holders: { [MAKER]: 20_048, [DIST]: 2 } })]);
    expect(stockFromCounters()).toEqual(stockFromPacks());
  });

  it('events by step, disposition and location within a time range, oldest first', async () => {
    const at = (time: string, step: string, epcs: string[], extra: Record<string, unknown> = {}) => ({ ...epcisEvent(step, epcs, extra), eventTime: time });
    await ok(maker, 'captureBatch', {
      events: [
        { event: at('2026-06-03T10:00:00+08:00', 'shipping', [pack(1010)], { ...shipTo(DIST), disposition: 'in_transit' }) },
        { event: at('2026-06-01T10:00:00+08:00', 'shipping', [pack(1011)], { ...shipTo(DIST), disposition: 'in_transit' }) },
        { event: at('2026-06-02T10:00:00Z', 'shipping', [pack(1012)], { ...shipTo(DIST), bizLocation: { id: 'https://id.gs1.org/414/6901234000009' } }) },
      ],
    });
    const times = (q: Record<string, unknown>) => (node.query('drugs', 'events', q) as Array<{ eventTime: string }>).map((e) => e.eventTime);
    expect(times({ bizStep: 'shipping' })).toEqual(['2026-06-01T10:00:00+08:00', '2026-06-02T10:00:00Z', '2026-06-03T10:00:00+08:00']);
    expect(times({ bizStep: 'shipping', from: '2026-06-02T00:00:00Z', to: '2026-06-03T03:00:00Z' })).toEqual(['2026-06-02T10:00:00Z', '2026-06-03T10:00:00+08:00']);
    expect(times({ bizStep: 'shipping', to: '2026-06-03T02:00:00Z' })).toEqual(['2026-06-01T10:00:00+08:00', '2026-06-02T10:00:00Z']); // `to` is exclusive
    expect(times({ disposition: 'in_transit' })).toHaveLength(2);
    expect(times({ location: 'https://id.gs1.org/414/6901234000009' })).toEqual(['2026-06-02T10:00:00Z']);
    expect(times({ code: `sgtin:${INSULIN}.1011`, bizStep: 'shipping' })).toEqual(['2026-06-01T10:00:00+08:00']);
    expect(() => node.query('drugs', 'events', { from: '2026-01-01T00:00:00Z' })).toThrow(/filter by/);
    expect(() => node.query('drugs', 'events', { code: 'sgtin:06901234560015.424242' })).toThrow(/unknown code/);
  });
});
