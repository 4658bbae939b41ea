import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { base32 } from '@scure/base';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Ed25519Signer } from '../crypto/index.js';
import { DEMO_CHAIN_ID, DEMO_INSTITUTIONS, demoGenesis, demoHandle, demoIdentity } from '../demo/index.js';
import { signTx, streamNameOf, type SignedTx } from '../ledger/index.js';
import { NatsCluster, freeLocalPort, planNatsCluster } from '../network/nats-cluster.js';
import { createNode, type MedchainNode } from '../node/index.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * The consortium network benchmark: three institution nodes on a 3-server nats cluster (stream replicas = 3),
 * all on this machine. The three nodes and the load generator share this process (one JS thread, signature
 * checks on worker threads); the nats-servers are separate processes. A tx counts as committed when every node
 * has it. Workload: identity.registerPatient signed by the county hospital's registrar, spread over the nodes.
 */

const LEAD = DEMO_INSTITUTIONS[0]!.id;

function txFactory(): () => SignedTx {
  const registrar = demoIdentity(demoHandle.staff(LEAD, 'reg-zhao-min'));
  const signer = new Ed25519Signer(registrar.signing.seed);
  return () =>
    signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'registerPatient', args: { patientId: 'P' + base32.encode(randomBytes(20)).slice(0, 26) } }, registrar.did, signer);
}

async function openPeer(dir: string, index: number, servers: string[]): Promise<MedchainNode> {
  const institution = DEMO_INSTITUTIONS[index]!.id;
  return createNode({
    dataDir: join(dir, `peer-${index}`),
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(institution)),
    institution,
    logger: pino({ level: 'silent' }),
    signatureWorkers: 1,
    maxPending: 200_000,
    sequencer: { kind: 'jetstream', servers },
  });
}

async function allCommitted(nodes: MedchainNode[], height: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (nodes.some((n) => n.ledger.head().height < height)) {
    if (Date.now() > deadline) throw new Error('nodes did not converge');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Closed loop: `window` txs in flight per node; committed tx/s counted when the last node has the last block. */
async function peak(nodes: MedchainNode[], txs: SignedTx[], window: number) {
  const t0 = performance.now();
  let next = 0;
  let maxHeight = 0;
  const startHeight = nodes[0]!.ledger.head().height;
  const failed: Record<string, number> = {};
  const worker = async (node: MedchainNode) => {
    while (next < txs.length) {
      try {
        const r = await node.submit(txs[next++]!);
        maxHeight = Math.max(maxHeight, r.height);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'ERROR';
        failed[code] = (failed[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(nodes.flatMap((n) => Array.from({ length: window }, () => worker(n))));
  await allCommitted(nodes, maxHeight);
  const seconds = (performance.now() - t0) / 1000;
  const blocks = maxHeight - startHeight;
  const committed = txs.length - Object.values(failed).reduce((a, b) => a + b, 0);
  return { txs: txs.length, window: window * nodes.length, failed, seconds: round(seconds, 2), committedTxPerSecOnEveryNode: Math.round(committed / seconds), blocks, avgTxsPerBlock: Math.round(committed / blocks) };
}

/** Open loop at a fixed rate, round-robin over the nodes; latency = submit to commit on the node submitted to. */
async function openLoop(nodes: MedchainNode[], make: () => SignedTx, ratePerSec: number, seconds: number, onTick?: (elapsedMs: number) => Promise<void> | void) {
  const total = Math.floor(ratePerSec * seconds);
  const txs = Array.from({ length: total }, make);
  const samples: Array<{ at: number; ms: number }> = [];
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  const failed: Record<string, number> = {};
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec) + 1);
    for (; sent < due; sent++) {
      const start = performance.now();
      inflight.push(
        nodes[sent % nodes.length]!.submit(txs[sent]!).then(
          () => void samples.push({ at: performance.now() - t0, ms: performance.now() - start }),
          (err: { code?: string }) => void (failed[err.code ?? 'ERROR'] = (failed[err.code ?? 'ERROR'] ?? 0) + 1),
        ),
      );
    }
    await onTick?.(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    stats: {
      targetTxPerSec: Math.round(ratePerSec),
      achievedTxPerSec: Math.round(total / ((performance.now() - t0) / 1000)),
      samples: latencies.length,
      failed,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(latencies[latencies.length - 1] ?? Number.NaN),
    },
    samples,
  };
}

export async function runClusterBench(options: { quick: boolean; log: Log }) {
  const { log, quick } = options;
  const dir = tempDir('medchain-bench-cluster-');
  const ports: Array<[number, number]> = [];
  for (let i = 0; i < 3; i++) ports.push([await freeLocalPort(), await freeLocalPort()]);
  const cluster = await NatsCluster.start(planNatsCluster(join(dir.path, 'nats'), ports));
  const nodes: MedchainNode[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await openPeer(dir.path, i, cluster.urls()));
    const admin = demoIdentity(demoHandle.admin(LEAD));
    const registrar = demoIdentity(demoHandle.staff(LEAD, 'reg-zhao-min'));
    await nodes[0]!.submit(
      signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'enrolStaff', args: { staffId: 'reg-zhao-min', name: '赵敏', roles: ['registrar'], key: registrar.did } }, admin.did, new Ed25519Signer(admin.signing.seed)),
    );
    const make = txFactory();

    const peakTxs = quick ? 15_000 : 60_000;
    log(`cluster: signing ${peakTxs} txs`);
    const pre = Array.from({ length: peakTxs }, make);
    log('cluster: peak committed throughput (closed loop, 1,000 in flight per node)');
    const peakResult = await peak(nodes, pre, 1000);
    log(`cluster: ${peakResult.committedTxPerSecOnEveryNode} tx/s`);

    const half = peakResult.committedTxPerSecOnEveryNode / 2;
    log(`cluster: latency at half of peak (${Math.round(half)} tx/s)`);
    const latency = (await openLoop(nodes, make, half, quick ? 5 : 15)).stats;

    // Kill the stream leader under a moderate load: how long does no tx commit?
    const nc = await connect({ servers: cluster.urls() });
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(streamNameOf(DEMO_CHAIN_ID))).cluster!.leader!;
    const leaderIndex = cluster.spec.servers.findIndex((s) => s.name === leader);
    await nc.close();
    log(`cluster: killing nats-server ${leader} (stream leader) under load`);
    let killedAt = -1;
    const failover = await openLoop(nodes, make, Math.min(500, half), quick ? 14 : 20, async (elapsed) => {
      if (killedAt < 0 && elapsed > 3000) {
        killedAt = elapsed;
        await cluster.kill(leaderIndex, 'SIGKILL');
      }
    });
    const after = [killedAt, ...failover.samples.filter((s) => s.at >= killedAt).map((s) => s.at)].sort((a, b) => a - b);
    const stallMs = Math.max(...after.slice(1).map((t, i) => t - after[i]!));
    await cluster.restart(leaderIndex);

    log('cluster: catch-up of a new node from genesis');
    const target = Math.max(...nodes.map((n) => n.ledger.head().height));
    const t0 = performance.now();
    const joiner = await openPeer(join(dir.path, 'joiner'), 2, cluster.urls());
    await joiner.whenCaughtUp();
    const catchUpSeconds = (performance.now() - t0) / 1000;
    const caughtUpHeight = joiner.ledger.head().height;
    const caughtUpTxs = (joiner.ledger.store.db.prepare('SELECT count(*) AS n FROM txs').get() as { n: number }).n;
    await joiner.close();

    return {
      sequencers: nodes.map((n) => n.status().sequencerStatus),
      setup: '3 nodes (one process, 1 signature worker each) + 3 nats-servers (R3 file stream), 127.0.0.1',
      peak: peakResult,
      latencyAtHalfPeak: latency,
      natsLeaderKill: { killed: leader, stallMs: Math.round(stallMs), afterKill: failover.stats },
      catchUp: { blocks: caughtUpHeight, targetHeight: target, seconds: round(catchUpSeconds, 2), blocksPerSec: Math.round(caughtUpHeight / catchUpSeconds), txs: caughtUpTxs, txPerSec: Math.round(caughtUpTxs / catchUpSeconds) },
    };
  } finally {
    for (const n of nodes) await n.close();
    await cluster.stop();
    dir.remove();
  }
}
