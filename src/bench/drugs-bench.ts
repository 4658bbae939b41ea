import pino from 'pino';
import { Ed25519Signer, generateIdentity, type Identity } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity } from '../demo/index.js';
import { gs1CheckDigit, sgtinEpc } from '../gs1/codes.js';
import { signTx } from '../ledger/index.js';
import { createNode, type MedchainNode } from '../node/index.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * Drug traceability figures (issue #5): commissioning a million codes, capturing EPCIS events in batches, and
 * verifying a pack with many events in the ledger; RSS sampled throughout.
 */

const MAKER = 'huakang-pharma';
const PHARMACY = 'kangning-pharmacy';

class Signer {
  private readonly signer: Ed25519Signer;
  constructor(
    readonly id: Identity,
    private readonly node: MedchainNode,
  ) {
    this.signer = new Ed25519Signer(id.signing.seed);
  }
  tx(method: string, args: unknown) {
    return signTx({ chain: DEMO_CHAIN_ID, contract: 'drugs', method, args }, this.id.did, this.signer);
  }
  async call(method: string, args: unknown): Promise<Record<string, unknown>> {
    const r = await this.node.submit(this.tx(method, args));
    if (r.result.status !== 'ok') throw new Error(`drugs.${method}: ${r.result.code} ${r.result.message}`);
    return r.result.result as Record<string, unknown>;
  }
}

export async function runDrugsBench(options: { quick: boolean; log: Log }) {
  const dir = tempDir('medchain-bench-drugs-');
  const node = await createNode({
    dataDir: dir.path,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node('qingshan-county-hospital')),
    institution: 'qingshan-county-hospital',
    logger: pino({ level: 'silent' }),
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  try {
    const admin = (inst: string) => new Signer(demoIdentity(demoHandle.admin(inst)), node);
    const enrol = async (inst: string, roles: string[]) => {
      const id = generateIdentity();
      const r = await node.submit(signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'enrolStaff', args: { staffId: `bench-${inst.slice(0, 20)}`, name: 'b', roles, key: id.did } }, demoIdentity(demoHandle.admin(inst)).did, new Ed25519Signer(demoIdentity(demoHandle.admin(inst)).signing.seed)));
      if (r.result.status !== 'ok') throw new Error('enrol failed');
      return new Signer(id, node);
    };
    const maker = await enrol(MAKER, ['logistics']);
    const pharmacist = await enrol(PHARMACY, ['pharmacist']);
    await admin(MAKER).call('registerLocation', { gln: '6901234000009', name: 'maker' });
    await admin(PHARMACY).call('registerLocation', { gln: '6901234000023', name: 'pharmacy' });
    const gtin = `0690123456001${gs1CheckDigit('0690123456001')}`;
    await maker.call('registerProduct', { gtin, approvalNumber: '国药准字H20260001', name: '阿莫西林胶囊', dosageForm: '胶囊', strength: '0.25 g', cnPrefix: '8100001', storage: { minC: 2, maxC: 30 } });
    await maker.call('registerBatch', { gtin, lot: 'L1', manufactured: '2026-01-01', expires: '2028-12-31' });

    // 1. Commissioning: 100,000 codes per tx (the largest batch one request takes), both codes per pack.
    const total = options.quick ? 200_000 : 1_000_000;
    const perTx = 100_000;
    options.log(`drugs: commissioning ${total.toLocaleString('en')} packs (${perTx.toLocaleString('en')} per tx, SGTIN + 20-digit code)`);
    const t0 = performance.now();
    for (let first = 0; first < total; first += perTx) {
      await maker.call('commission', { gtin, lot: 'L1', serials: { first: 1_000_000 + first, count: perTx }, cnFirst: `8100001${String(first).padStart(13, '0')}`, eventTime: '2026-02-01T08:00:00+08:00' });
      options.log(`  ${(first + perTx).toLocaleString('en')} packs`);
    }
    const commissionSeconds = (performance.now() - t0) / 1000;
    const rssAfterCommission = process.memoryUsage().rss;

    // 2. Capture: shipping events of 10 packs each to the pharmacy, many in flight (batched into blocks).
    const events = options.quick ? 5_000 : 30_000;
    const inFlight = 500;
    options.log(`drugs: capturing ${events.toLocaleString('en')} EPCIS shipping events (10 packs each, ${inFlight} in flight)`);
    const ship = (i: number) =>
      maker.tx('capture', {
        event: {
          type: 'ObjectEvent',
          eventTime: new Date(Date.UTC(2026, 2, 1) + i * 1000).toISOString(),
          eventTimeZoneOffset: '+08:00',
          action: 'OBSERVE',
          bizStep: 'shipping',
          epcList: Array.from({ length: 10 }, (_, k) => sgtinEpc(gtin, String(1_000_000 + i * 10 + k))),
          destinationList: [{ type: 'owning_party', destination: 'https://id.gs1.org/417/6901234000023' }],
        },
      });
    const t1 = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < events) {
          const i = next++;
          const r = await node.submit(ship(i));
          if (r.result.status !== 'ok') failed++;
        }
      }),
    );
    const captureSeconds = (performance.now() - t1) / 1000;
    if (failed) throw new Error(`${failed} capture events failed`);

    // 3. Receiving and dispensing for a sample, then verification latency over the whole ledger.
    const sample = 200;
    for (let i = 0; i < sample; i++) {
      const epc = sgtinEpc(gtin, String(1_000_000 + i * 10));
      await pharmacist.call('capture', { event: { type: 'ObjectEvent', eventTime: new Date(Date.UTC(2026, 3, 1) + i * 1000).toISOString(), eventTimeZoneOffset: '+08:00', action: 'OBSERVE', bizStep: 'receiving', epcList: [epc] } });
    }
    const eventsInLedger = Math.ceil(total / perTx) + events + sample;
    options.log(`drugs: verifying packs (${eventsInLedger.toLocaleString('en')} events, ${total.toLocaleString('en')} packs in the ledger)`);
    const samples: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const serial = 1_000_000 + ((i * 7919) % (events * 10));
      const s = performance.now();
      const v = await node.drugs.verify(i % 2 === 0 ? `sgtin:${gtin}.${serial}` : `8100001${String(serial - 1_000_000).padStart(13, '0')}`);
      samples.push(performance.now() - s);
      if (!v.found) throw new Error('bench pack not found');
    }
    samples.sort((a, b) => a - b);
    return {
      commission: { packs: total, perTx, seconds: round(commissionSeconds, 1), packsPerSecond: Math.round(total / commissionSeconds), rssMiB: Math.round(rssAfterCommission / 2 ** 20) },
      capture: { events, epcsPerEvent: 10, inFlight, seconds: round(captureSeconds, 1), eventsPerSecond: Math.round(events / captureSeconds) },
      verify: { eventsInLedger, packsInLedger: total, samples: samples.length, p50Ms: round(percentile(samples, 50), 2), p99Ms: round(percentile(samples, 99), 2) },
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    };
  } finally {
    clearInterval(sampler);
    await node.close();
    dir.remove();
  }
}
