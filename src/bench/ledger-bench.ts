import { statSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { base32 } from '@scure/base';
import { randomBytes } from 'node:crypto';
import { createContractRuntime } from '../contracts/index.js';
import { Ed25519Signer } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity, seedDemo } from '../demo/index.js';
import { signTx, verifyLedger, WorkerSignatureVerifier, type SignedTx } from '../ledger/index.js';
import { createNode, LEDGER_FILE, type MedchainNode } from '../node/index.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * The ledger benchmark: signed txs end to end through the node's submit path (admission with signature check,
 * solo sequencing, execution, durable SQLite commit, receipt). The workload registers new patients —
 * each tx resolves its signer from state, validates its input, writes one state key, its history and an index row.
 */

const LEAD = 'qingshan-county-hospital';
const REGISTRARS = ['reg-zhao-min'];

function txFactory(): () => SignedTx {
  const actors = REGISTRARS.map((id) => {
    const identity = demoIdentity(demoHandle.staff(LEAD, id));
    return { did: identity.did, signer: new Ed25519Signer(identity.signing.seed) };
  });
  let i = 0;
  return () => {
    const actor = actors[i++ % actors.length]!;
    const patientId = 'P' + base32.encode(randomBytes(20)).slice(0, 26);
    return signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'registerPatient', args: { patientId } }, actor.did, actor.signer);
  };
}

async function openBenchNode(dataDir: string): Promise<MedchainNode> {
  const node = await createNode({
    dataDir,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(LEAD)),
    institution: LEAD,
    logger: pino({ level: 'silent' }),
    maxPending: 200_000,
  });
  await seedDemo(node);
  return node;
}

/** Submits all txs keeping `window` in flight; returns committed tx/s. */
async function closedLoop(node: MedchainNode, txs: SignedTx[], window: number) {
  const startHeight = node.ledger.head().height;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < txs.length) {
      const tx = txs[next++]!;
      const r = await node.submit(tx);
      if (r.result.status !== 'ok') failed++;
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const blocks = node.ledger.head().height - startHeight;
  return {
    txs: txs.length,
    failed,
    seconds: round(seconds, 2),
    txPerSec: Math.round(txs.length / seconds),
    // The node runs in this process: all its threads (signature workers, log flush, checkpoints) and the submit calls.
    cpuMsPerTx: round((cpu.user + cpu.system) / 1000 / txs.length, 3),
    blocks,
    avgTxsPerBlock: round(txs.length / blocks, 0),
  };
}

/** Open-loop load at a fixed rate; latency = submit to durable-commit receipt. */
async function openLoop(node: MedchainNode, make: () => SignedTx, ratePerSec: number, seconds: number) {
  const total = Math.floor(ratePerSec * seconds);
  const txs = Array.from({ length: total }, make);
  const latencies: number[] = [];
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec) + 1);
    for (; sent < due; sent++) {
      const start = performance.now();
      inflight.push(node.submit(txs[sent]!).then(() => void latencies.push(performance.now() - start)));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    targetTxPerSec: Math.round(ratePerSec),
    achievedTxPerSec: Math.round(total / elapsed),
    samples: latencies.length,
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? Number.NaN),
  };
}

/**
 * Commits `count` txs generated on the fly (so the generator holds no backlog), reporting committed tx/s for
 * every tenth of the run — throughput falls as the ledger grows, and that is worth seeing — and the node's memory.
 */
async function growthRun(node: MedchainNode, make: () => SignedTx, count: number, log: Log) {
  const window = 4000;
  const segment = count / 10;
  const segments: Array<{ upToTxs: number; txPerSec: number }> = [];
  let done = 0;
  let next = 0;
  const t0 = performance.now();
  let segmentStart = t0;
  const worker = async () => {
    while (next < count) {
      next++;
      await node.submit(make());
      done++;
      if (done % segment === 0) {
        const now = performance.now();
        segments.push({ upToTxs: done, txPerSec: Math.round(segment / ((now - segmentStart) / 1000)) });
        segmentStart = now;
        log(`growth run: ${done}/${count} txs committed`);
      }
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  (globalThis as { gc?: () => void }).gc?.();
  const mem = process.memoryUsage();
  return {
    txs: count,
    seconds: round((performance.now() - t0) / 1000, 1),
    throughputBySize: segments,
    rssMiB: round(mem.rss / 2 ** 20),
    heapUsedMiB: round(mem.heapUsed / 2 ** 20),
  };
}

/**
 * The fixed cost of a block: the same txs committed in blocks of 10, 100 and 1,000 (submitted `size` at a time, each
 * group awaited), on a ledger that already holds `fill` txs. CPU is the whole process (the signature workers, the
 * checkpoint worker and the fsync threads included; the txs are signed beforehand). Every commit rewrites the
 * B-trees' interior pages and is fsynced, so small blocks cost more per tx — the reason the replicated sequencer
 * commits runs of received blocks together.
 */
async function blockSizes(node: MedchainNode, make: () => SignedTx, fill: number, log: Log) {
  for (let i = 0; i < fill; i += 2000) await Promise.all(Array.from({ length: Math.min(2000, fill - i) }, () => node.submit(make())));
  const out: Array<{ txsPerBlock: number; blocks: number; cpuUsPerTx: number; wallMsPerBlock: number }> = [];
  for (const size of [10, 100, 1000]) {
    const txs = Array.from({ length: Math.max(3000, size * 10) }, make);
    const h0 = node.ledger.head().height;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < txs.length; i += size) await Promise.all(txs.slice(i, i + size).map((t) => node.submit(t)));
    const cpu = process.cpuUsage(cpu0);
    const blocks = node.ledger.head().height - h0;
    out.push({ txsPerBlock: size, blocks, cpuUsPerTx: Math.round((cpu.user + cpu.system) / txs.length), wallMsPerBlock: round((performance.now() - t0) / blocks, 2) });
    log(`block size ${size}: ${out[out.length - 1]!.cpuUsPerTx} µs CPU per tx`);
  }
  return { ledgerTxsBefore: fill, bySize: out };
}

/** Runs `fn` on a fresh bench node (demo consortium seeded) in its own temp dir, then removes it. */
async function withFreshNode<T>(fn: (node: MedchainNode, dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir('medchain-bench-');
  try {
    const node = await openBenchNode(dir.path);
    try {
      return await fn(node, dir.path);
    } finally {
      await node.close();
    }
  } finally {
    dir.remove();
  }
}

export async function runLedgerBench(options: { quick: boolean; log: Log }) {
  const { quick, log } = options;
  const make = txFactory();
  const n = quick ? 20_000 : 100_000;

  // Peak: as fast as the node commits, from the demo ledger. Then verify and storage on that ledger.
  const { throughput, verify, storage } = await withFreshNode(async (node, dir) => {
    log(`signing ${n} txs`);
    const txs = Array.from({ length: n }, make);
    log(`throughput: submitting ${n} txs`);
    const throughput = await closedLoop(node, txs, quick ? 5_000 : 10_000);
    await node.close();
    const dbBytes = statSync(join(dir, LEDGER_FILE)).size;
    const verifier = new WorkerSignatureVerifier();
    log('verify: replaying the ledger');
    const report = await verifyLedger({ path: join(dir, LEDGER_FILE), personality: createContractRuntime(), verifier, limits: demoGenesis().limits });
    await verifier.close();
    if (!report.ok) throw new Error(`verify failed on the bench ledger: ${report.problem}`);
    return {
      throughput,
      verify: { txs: report.txs, seconds: round(report.durationMs / 1000, 2), txPerSec: Math.round(report.txs / (report.durationMs / 1000)) },
      storage: { txs: report.txs, dbBytes, bytesPerTx: Math.round(dbBytes / report.txs) },
    };
  });

  // Latency at half of that peak, from the same starting ledger (the peak run would otherwise have grown it).
  log(`latency: open loop at ${Math.round(throughput.txPerSec / 2)} tx/s`);
  const latency = await withFreshNode((node) => openLoop(node, make, throughput.txPerSec / 2, quick ? 5 : 20));

  log('block sizes: the same txs in blocks of 10, 100 and 1,000');
  const blockSize = await withFreshNode((node) => blockSizes(node, make, quick ? 10_000 : 50_000, log));

  const target = quick ? 100_000 : 1_000_000;
  log(`growth: committing ${target} txs`);
  const growth = await withFreshNode((node) => growthRun(node, make, target, log));
  return { throughput, latency, blockSize, verify, storage, growth };
}
