import { statSync } from 'node:fs';
import { loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Ed25519Signer, generateIdentity, type Identity } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity } from '../demo/index.js';
import { cnEpc, gs1CheckDigit, sgtinEpc } from '../gs1/codes.js';
import { cbvEventHashId, libraryEventHashId } from '../gs1/event-hash.js';
import { signTx, type SignedTx } from '../ledger/index.js';
import { createNode, type MedchainNode } from '../node/index.js';
import { measureStoreFloor } from './store-floor.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * Drug traceability figures (issue #5): the CBV 2.0 event hash (epcis2.js against the fast path, same run),
 * commissioning a million codes, capturing EPCIS events in batched txs (and one event per tx, as before, for
 * comparison), filling the ledger up to a target number of events, and verifying random packs at that size;
 * RSS and heap sampled throughout. `MEDCHAIN_BENCH_DRUG_EVENTS` sets the ledger size for the verify figure
 * (default 10,000,000; `--quick` 20,000).
 */

const MAKER = 'huakang-pharma';
const PHARMACY = 'kangning-pharmacy';
const GLN = { [MAKER]: '6901234000009', [PHARMACY]: '6901234000023' } as const;
/** Bytes of events per captureBatch tx: the demo chain's txs are limited to 64 KiB. */
const BATCH_BYTES = 60 * 1024;

class Signer {
  private readonly signer: Ed25519Signer;
  constructor(
    readonly id: Identity,
    private readonly node: MedchainNode,
  ) {
    this.signer = new Ed25519Signer(id.signing.seed);
  }
  tx(method: string, args: unknown): SignedTx {
    return signTx({ chain: DEMO_CHAIN_ID, contract: 'drugs', method, args }, this.id.did, this.signer);
  }
  async call(method: string, args: unknown): Promise<Record<string, unknown>> {
    const r = await this.node.submit(this.tx(method, args));
    if (r.result.status !== 'ok') throw new Error(`drugs.${method}: ${r.result.code} ${r.result.message}`);
    return r.result.result as Record<string, unknown>;
  }
}

type EventInput = { event: Record<string, unknown> };

/** Groups events into captureBatch argument lists that fit the tx size limit. */
function batches(inputs: EventInput[]): EventInput[][] {
  const out: EventInput[][] = [];
  let current: EventInput[] = [];
  let bytes = 0;
  for (const input of inputs) {
    const size = JSON.stringify(input).length + 1;
    if (current.length > 0 && (bytes + size > BATCH_BYTES || current.length >= 1000)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(input);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

/** Submits txs with `inFlight` outstanding; throws on the first refused tx or refused event. */
async function submitAll(node: MedchainNode, txs: SignedTx[], inFlight: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, txs.length) }, async () => {
      while (next < txs.length) {
        const tx = txs[next++]!;
        const r = await node.submit(tx);
        if (r.result.status !== 'ok') throw new Error(`${tx.tx.method}: ${r.result.code} ${r.result.message}`);
        const failed = (r.result.result as { failed?: number } | undefined)?.failed ?? 0;
        if (failed > 0) throw new Error(`${failed} events refused: ${JSON.stringify((r.result.result as { results: unknown[] }).results.find((x) => (x as { code?: string }).code))}`);
      }
    }),
  );
}

const iso = (ms: number) => new Date(ms).toISOString();
/** CPU time of this process (all threads: main, SQLite, signature workers) in seconds: less noisy than wall time on a shared machine. */
const cpuSeconds = (u: NodeJS.CpuUsage) => round((u.user + u.system) / 1e6, 1);

/**
 * The node's SQLite page cache: a third of the machine's memory, at most 8 GiB (MEDCHAIN_BENCH_DRUG_CACHE_MIB sets
 * it). The 10M-event ledger (~25 GB) outgrows what this VM's kernel keeps in its page cache (~5 GB, PERFORMANCE.md),
 * so a node configured for a ledger that size keeps its hot pages itself, as `sqliteCacheMiB` in node.json does.
 */
function drugNodeCacheMiB(): number {
  const set = process.env['MEDCHAIN_BENCH_DRUG_CACHE_MIB'];
  if (set === undefined) return Math.min(8192, Math.floor(totalmem() / 2 ** 20 / 3));
  const n = Number(set);
  if (!Number.isInteger(n) || n < 1) throw new Error(`MEDCHAIN_BENCH_DRUG_CACHE_MIB must be a whole number of MiB from 1 up, not ${set}`);
  return n;
}

export async function runDrugsBench(options: { quick: boolean; log: Log }) {
  const log = options.log;
  const loadBefore = loadavg()[0]!;
  // 0. The floor: SQLite alone with the rows a ten-pack event writes (before the node starts, so nothing runs beside it).
  const floorEvents = options.quick ? 10_000 : 50_000;
  log(`drugs: store floor, ${floorEvents.toLocaleString('en')} ten-pack events of bare SQLite writes per row pattern`);
  const storeFloor = measureStoreFloor({ packs: options.quick ? 100_000 : 1_000_000, events: floorEvents, epcsPerEvent: 10, eventsPerBlock: 300 });
  const cacheMiB = drugNodeCacheMiB();
  log(`drugs: the node's SQLite page cache is ${cacheMiB.toLocaleString('en')} MiB`);
  const dir = tempDir('medchain-bench-drugs-');
  const node = await createNode({
    dataDir: dir.path,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node('qingshan-county-hospital')),
    institution: 'qingshan-county-hospital',
    logger: pino({ level: 'silent' }),
    sqliteCacheMiB: cacheMiB,
  });
  const memory = { peakRssMiB: 0, peakHeapMiB: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    memory.peakRssMiB = Math.max(memory.peakRssMiB, Math.round(m.rss / 2 ** 20));
    memory.peakHeapMiB = Math.max(memory.peakHeapMiB, Math.round(m.heapUsed / 2 ** 20));
    return { rssMiB: Math.round(m.rss / 2 ** 20), heapMiB: Math.round(m.heapUsed / 2 ** 20) };
  };
  const sampler = setInterval(sample, 100);
  // Rows SQLite inserted, updated or deleted on the node's connection (state, history, idx, blocks, txs): the
  // ledger's per-row work, which does not depend on the machine's load.
  const rowWrites = () => (node.ledger.store.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  const dbMiB = () => {
    let bytes = 0;
    for (const f of ['ledger.db', 'ledger.db-wal']) {
      try {
        bytes += statSync(join(dir.path, f)).size;
      } catch {
        // not there (yet)
      }
    }
    return Math.round(bytes / 2 ** 20);
  };
  try {
    const enrol = async (inst: string, roles: string[]) => {
      const id = generateIdentity();
      const admin = demoIdentity(demoHandle.admin(inst));
      const r = await node.submit(signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'enrolStaff', args: { staffId: `bench-${inst.slice(0, 20)}`, name: 'b', roles, key: id.did } }, admin.did, new Ed25519Signer(admin.signing.seed)));
      if (r.result.status !== 'ok') throw new Error('enrol failed');
      return new Signer(id, node);
    };
    const maker = await enrol(MAKER, ['logistics']);
    const pharmacist = await enrol(PHARMACY, ['pharmacist']);
    for (const inst of [MAKER, PHARMACY] as const) await new Signer(demoIdentity(demoHandle.admin(inst)), node).call('registerLocation', { gln: GLN[inst], name: inst });
    const gtin = `0690123456001${gs1CheckDigit('0690123456001')}`;
    await maker.call('registerProduct', { gtin, approvalNumber: '国药准字H20260001', name: '阿莫西林胶囊', dosageForm: '胶囊', strength: '0.25 g', cnPrefix: '8100001', storage: { minC: 2, maxC: 30 } });
    await maker.call('registerBatch', { gtin, lot: 'L1', manufactured: '2026-01-01', expires: '2028-12-31' });
    const packs = options.quick ? 100_000 : 1_000_000;
    const serialOf = (i: number) => String(1_000_000 + i);
    const cnOf = (i: number) => `8100001${String(i).padStart(13, '0')}`;
    /** Verifies 1,000 random packs (the same ones each time), half by SGTIN, half by 20-digit code. */
    const verifyRandomPacks = async (eventsInLedger: number) => {
      const samples: number[] = [];
      const cpu = process.cpuUsage();
      let custody = 0;
      let x = 12345;
      for (let n = 0; n < 1000; n++) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        const i = x % packs;
        const s = performance.now();
        const v = await node.drugs.verify(n % 2 === 0 ? `sgtin:${gtin}.${serialOf(i)}` : cnOf(i));
        samples.push(performance.now() - s);
        if (!v.found || !v.proof) throw new Error('bench pack not verified');
        custody += v.custody!.length;
      }
      const cpuSecondsSpent = cpuSeconds(process.cpuUsage(cpu));
      samples.sort((a, b) => a - b);
      return {
        eventsInLedger,
        packsInLedger: packs,
        samples: samples.length,
        meanCustodyEvents: round(custody / samples.length, 1),
        p50Ms: round(percentile(samples, 50), 2),
        p99Ms: round(percentile(samples, 99), 2),
        maxMs: round(samples[samples.length - 1]!, 2),
        cpuMsPerVerify: round((cpuSecondsSpent * 1000) / samples.length, 2),
        cpuSecondsSpent,
      };
    };
    const shipping = (i: number, count: number, time: number, to: string) => ({
      event: {
        type: 'ObjectEvent',
        eventTime: iso(time),
        eventTimeZoneOffset: '+08:00',
        action: 'OBSERVE',
        bizStep: 'shipping',
        disposition: 'in_transit',
        epcList: Array.from({ length: count }, (_, k) => sgtinEpc(gtin, serialOf(i + k))),
        destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${to}` }],
      },
    });

    // 0. The event hash, before (epcis2.js) and after (the fast path), on the events this bench captures.
    log('drugs: CBV 2.0 event hash, epcis2.js and the fast path');
    const hashSample = Array.from({ length: options.quick ? 500 : 2000 }, (_, i) => shipping(i * 10, 10, Date.UTC(2025, 0, 1) + i * 1000, GLN[PHARMACY]).event);
    const timeHash = (f: (e: unknown) => string, events: unknown[]) => {
      const t = performance.now();
      for (const e of events) f(e);
      return ((performance.now() - t) * 1000) / events.length;
    };
    timeHash(cbvEventHashId, hashSample.slice(0, 200));
    timeHash(libraryEventHashId, hashSample.slice(0, 200));
    const bulkEpcs = options.quick ? 20_000 : 100_000;
    const bulk = { ...shipping(0, bulkEpcs, Date.UTC(2025, 0, 1), GLN[PHARMACY]).event, bizStep: 'commissioning', action: 'ADD', disposition: 'active', ilmd: { 'cbvmda:lotNumber': 'L1' } };
    const hash = {
      tenEpcEventMicros: { epcis2js: round(timeHash(libraryEventHashId, hashSample), 1), fast: round(timeHash(cbvEventHashId, hashSample), 1) },
      bulkEpcs,
      commissioningMillis: { epcis2js: round(timeHash(libraryEventHashId, [bulk]) / 1000, 0), fast: round(timeHash(cbvEventHashId, [bulk]) / 1000, 0) },
    };
    if (cbvEventHashId(bulk) !== libraryEventHashId(bulk)) throw new Error('the fast hash disagrees with epcis2.js');

    // 1. Commissioning: 100,000 codes per tx (the largest batch one request takes), both codes per pack.
    const perTx = 100_000;
    log(`drugs: commissioning ${packs.toLocaleString('en')} packs (${perTx.toLocaleString('en')} per tx, SGTIN + 20-digit code)`);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const rows0 = rowWrites();
    for (let first = 0; first < packs; first += perTx) {
      await maker.call('commission', { gtin, lot: 'L1', serials: { first: 1_000_000 + first, count: perTx }, cnFirst: cnOf(first), eventTime: '2026-02-01T08:00:00+08:00' });
      log(`  ${(first + perTx).toLocaleString('en')} packs`);
    }
    const commissionSeconds = (performance.now() - t0) / 1000;
    const commissionCpu = cpuSeconds(process.cpuUsage(cpu0));
    const commissionRows = rowWrites() - rows0;
    const afterCommission = sample();
    let eventsInLedger = packs / perTx;

    // 2a. Capture, one event per tx (the shape of the first version): shipping events of 10 packs.
    const single = options.quick ? 500 : 3_000;
    const inFlightSingle = 500;
    log(`drugs: capturing ${single.toLocaleString('en')} shipping events (10 packs each), one event per tx, ${inFlightSingle} in flight`);
    const singleTxs = Array.from({ length: single }, (_, i) => maker.tx('capture', shipping(i * 10, 10, Date.UTC(2026, 2, 1) + i * 1000, GLN[PHARMACY])));
    const t1 = performance.now();
    const cpu1 = process.cpuUsage();
    await submitAll(node, singleTxs, inFlightSingle);
    const singleCpu = cpuSeconds(process.cpuUsage(cpu1));
    const singleSeconds = (performance.now() - t1) / 1000;
    eventsInLedger += single;

    // 2b. Capture, batched: the same kind of events, as many per tx as fit in 64 KiB, a few txs in flight.
    const batched = options.quick ? 5_000 : 50_000;
    const inFlight = 8;
    const offset = single * 10;
    const inputs = Array.from({ length: batched }, (_, i) => shipping(offset + i * 10, 10, Date.UTC(2026, 2, 2) + i * 1000, GLN[PHARMACY]));
    const batchTxs = batches(inputs).map((events) => maker.tx('captureBatch', { events }));
    log(`drugs: capturing ${batched.toLocaleString('en')} shipping events (10 packs each) in ${batchTxs.length} batch txs, ${inFlight} in flight`);
    const t2 = performance.now();
    const cpu2 = process.cpuUsage();
    const rows2 = rowWrites();
    if (process.env['MEDCHAIN_BENCH_MARK']) log(`mark start ${process.hrtime.bigint() / 1000n}`);
    await submitAll(node, batchTxs, inFlight);
    if (process.env['MEDCHAIN_BENCH_MARK']) log(`mark end ${process.hrtime.bigint() / 1000n}`);
    const batchCpu = cpuSeconds(process.cpuUsage(cpu2));
    const batchRows = rowWrites() - rows2;
    const batchSeconds = (performance.now() - t2) / 1000;
    eventsInLedger += batched;
    const afterCapture = sample();

    // 3. Fill the ledger to the target with one-pack events that walk every pack around a loop — maker ships to
    //    the pharmacy, the pharmacy receives, ships back, the maker receives — so a pack carries ~target/packs events.
    const target = Number(process.env['MEDCHAIN_BENCH_DRUG_EVENTS'] ?? (options.quick ? 20_000 : 10_000_000));
    // Where each pack is in the loop: 0 at the maker, 1 on its way to the pharmacy, 2 at the pharmacy, 3 on its way back.
    const where = new Uint8Array(packs);
    where.fill(1, 0, (single + batched) * 10);
    const visits = new Uint32Array(packs);
    const verifyMilestones: Array<Awaited<ReturnType<typeof verifyRandomPacks>>> = [];
    let nextMilestone = 1_000_000;
    let fillPaused = 0;
    let fillPausedCpu = 0;
    const fillStart = performance.now();
    const cpu3 = process.cpuUsage();
    const rows3 = rowWrites();
    let cursor = 0;
    let lastLog = 0;
    while (eventsInLedger < target) {
      const chunk = Math.min(50_000, target - eventsInLedger);
      const byActor: Record<'maker' | 'pharmacist', EventInput[]> = { maker: [], pharmacist: [] };
      for (let n = 0; n < chunk; n++) {
        const i = cursor;
        cursor = (cursor + 1) % packs;
        const step = where[i]!;
        const time = Date.UTC(2026, 3, 1) + visits[i]! * 86_400_000 + (i % 86_400) * 1000;
        visits[i]!++;
        const epcList = [i % 2 === 0 ? sgtinEpc(gtin, serialOf(i)) : cnEpc(cnOf(i))];
        const base = { type: 'ObjectEvent', eventTime: iso(time), eventTimeZoneOffset: '+08:00', action: 'OBSERVE', epcList };
        if (step === 0) byActor.maker.push({ event: { ...base, bizStep: 'shipping', destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${GLN[PHARMACY]}` }] } });
        else if (step === 1) byActor.pharmacist.push({ event: { ...base, bizStep: 'receiving' } });
        else if (step === 2) byActor.pharmacist.push({ event: { ...base, bizStep: 'shipping', destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${GLN[MAKER]}` }] } });
        else byActor.maker.push({ event: { ...base, bizStep: 'receiving' } });
        where[i] = (step + 1) % 4;
      }
      // A pack's next step depends on this one: its events go out in order, one actor's batch after the other's.
      for (const [actor, list] of [[maker, byActor.maker], [pharmacist, byActor.pharmacist]] as const) {
        await submitAll(node, batches(list).map((events) => actor.tx('captureBatch', { events })), inFlight);
      }
      eventsInLedger += chunk;
      if (eventsInLedger - lastLog >= 500_000 || eventsInLedger >= target) {
        lastLog = eventsInLedger;
        const m = sample();
        log(`  ${eventsInLedger.toLocaleString('en')} events in the ledger, ${Math.round((performance.now() - fillStart) / 1000)} s, RSS ${m.rssMiB} MiB, db ${dbMiB()} MiB`);
      }
      // On the way to a large target, verification is measured at each milestone too (a run cut short still says
      // how it grows); these pauses are not counted in the fill's time.
      if (eventsInLedger >= nextMilestone && eventsInLedger < target) {
        const paused = performance.now();
        const at = await verifyRandomPacks(eventsInLedger);
        verifyMilestones.push(at);
        log(`  verify at ${eventsInLedger.toLocaleString('en')} events: p50 ${at.p50Ms} ms, p99 ${at.p99Ms} ms, max ${at.maxMs} ms`);
        while (nextMilestone <= eventsInLedger) nextMilestone *= 2;
        fillPaused += performance.now() - paused;
        fillPausedCpu += at.cpuSecondsSpent;
      }
    }
    const fillSeconds = (performance.now() - fillStart - fillPaused) / 1000;
    const fillCpu = cpuSeconds(process.cpuUsage(cpu3)) - fillPausedCpu;
    const fillRows = rowWrites() - rows3;
    const fillEvents = eventsInLedger - (packs / perTx + single + batched);

    // 4. Verification latency at that size: random packs, half by SGTIN, half by 20-digit code.
    log(`drugs: verifying 1,000 random packs (${eventsInLedger.toLocaleString('en')} events, ${packs.toLocaleString('en')} packs in the ledger)`);
    if (process.env['MEDCHAIN_BENCH_MARK']) log(`mark verify ${process.hrtime.bigint() / 1000n}`);
    const verify = await verifyRandomPacks(eventsInLedger);
    if (process.env['MEDCHAIN_BENCH_MARK']) log(`mark verified ${process.hrtime.bigint() / 1000n}`);
    const end = sample();
    return {
      storeFloor,
      sqliteCacheMiB: cacheMiB,
      hash,
      commission: { packs, perTx, seconds: round(commissionSeconds, 1), cpuSeconds: commissionCpu, packsPerSecond: Math.round(packs / commissionSeconds), packsPerCpuSecond: Math.round(packs / commissionCpu), rowWritesPerPack: round(commissionRows / packs, 2), ...afterCommission },
      capture: {
        oneEventPerTx: { events: single, epcsPerEvent: 10, inFlight: inFlightSingle, seconds: round(singleSeconds, 1), cpuSeconds: singleCpu, eventsPerSecond: Math.round(single / singleSeconds), eventsPerCpuSecond: Math.round(single / singleCpu) },
        batched: {
          events: batched,
          epcsPerEvent: 10,
          txs: batchTxs.length,
          eventsPerTx: round(batched / batchTxs.length, 1),
          inFlight,
          seconds: round(batchSeconds, 1),
          cpuSeconds: batchCpu,
          eventsPerSecond: Math.round(batched / batchSeconds),
          eventsPerCpuSecond: Math.round(batched / batchCpu),
          packMovesPerSecond: Math.round((batched * 10) / batchSeconds),
          rowWritesPerEvent: round(batchRows / batched, 1),
        },
        ...afterCapture,
      },
      fill: { events: fillEvents, epcsPerEvent: 1, seconds: round(fillSeconds, 1), cpuSeconds: fillCpu, eventsPerSecond: Math.round(fillEvents / Math.max(fillSeconds, 1e-3)), eventsPerCpuSecond: Math.round(fillEvents / Math.max(fillCpu, 1e-3)), rowWritesPerEvent: round(fillRows / Math.max(fillEvents, 1), 1) },
      verify,
      ...(verifyMilestones.length > 0 ? { verifyOnTheWay: verifyMilestones } : {}),
      ledgerDbMiB: dbMiB(),
      // The machine is shared: its 1-minute load average at the start and the end of this suite.
      loadAverage: { start: round(loadBefore, 1), end: round(loadavg()[0]!, 1) },
      memory: { ...memory, end },
    };
  } finally {
    clearInterval(sampler);
    await node.close();
    dir.remove();
  }
}
