import { availableParallelism } from 'node:os';
import Database from 'better-sqlite3';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { base32 } from '@scure/base';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Ed25519Signer } from '../crypto/index.js';
import { DEMO_CHAIN_ID, DEMO_INSTITUTIONS, demoHandle, demoIdentity } from '../demo/index.js';
import { signTx, streamNameOf, type SignedTx } from '../ledger/index.js';
import { NatsCluster, freeLocalPort, planNatsCluster } from '../network/nats-cluster.js';
import { ensureNatsServer } from '../network/local-cluster.js';
import { LEDGER_FILE, sharedCoreWorkers } from '../node/index.js';
import {
  cpuSecondsOf,
  peerStatus,
  startPeerProcess,
  stopPeerProcess,
  submitBatch,
  submitOne,
  tail,
  writePeerDataDir,
  type NodeProcessHandle,
} from './node-processes.js';
import { crossInstitutionRead } from './exchange-bench.js';
import { percentile, round, tempDir, undoOnInterrupt, type Log } from './util.js';

/**
 * The consortium network benchmark: three institution nodes, each its own `medchain start` process, on a
 * 3-server nats cluster (stream replicas = 3), all on this machine. The load generator is this process and
 * speaks HTTP to the nodes' APIs. A tx counts as committed when every node has its block.
 * Workload: identity.registerPatient signed by the county hospital's registrar, spread over the nodes.
 */

const LEAD = DEMO_INSTITUTIONS[0]!.id;

function txFactory(): () => SignedTx {
  const registrar = demoIdentity(demoHandle.staff(LEAD, 'reg-zhao-min'));
  const signer = new Ed25519Signer(registrar.signing.seed);
  return () =>
    signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'registerPatient', args: { patientId: 'P' + base32.encode(randomBytes(20)).slice(0, 26) } }, registrar.did, signer);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProposalCounts {
  proposed: number;
  lostRaces: number;
}

/** Proposals appended and races lost so far, for each peer (each phase reports its own difference). */
async function proposalCountsByNode(peers: NodeProcessHandle[]): Promise<ProposalCounts[]> {
  return Promise.all(
    peers.map(async (p) => {
      const s = ((await peerStatus(p.url)).sequencerStatus ?? {}) as Partial<ProposalCounts>;
      return { proposed: s.proposed ?? 0, lostRaces: s.lostRaces ?? 0 };
    }),
  );
}

function summed(byNode: ProposalCounts[]): ProposalCounts {
  return { proposed: byNode.reduce((n, s) => n + s.proposed, 0), lostRaces: byNode.reduce((n, s) => n + s.lostRaces, 0) };
}

/** The same, summed over the peers. */
async function proposalCounts(peers: NodeProcessHandle[]): Promise<ProposalCounts> {
  return summed(await proposalCountsByNode(peers));
}

function countsSince(before: ProposalCounts, after: ProposalCounts) {
  return { proposed: after.proposed - before.proposed, lostRaces: after.lostRaces - before.lostRaces };
}

/** The block stream's leader and replicas (current, lag) as the servers report them; undefined if unreachable. */
async function streamClusterInfo(servers: string[]): Promise<unknown> {
  const nc = await connect({ servers });
  try {
    const info = (await (await jetstreamManager(nc)).streams.info(streamNameOf(DEMO_CHAIN_ID))).cluster;
    return { leader: info?.leader, replicas: info?.replicas?.map((r) => ({ name: r.name, current: r.current, lag: r.lag, active: r.active })) };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await nc.close();
  }
}

async function heights(peers: NodeProcessHandle[]): Promise<number[]> {
  return Promise.all(peers.map(async (p) => (await peerStatus(p.url)).head.height));
}

async function allCommitted(peers: NodeProcessHandle[], height: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await heights(peers)).some((h) => h < height)) {
    if (Date.now() > deadline) throw new Error('nodes did not converge');
    await sleep(20);
  }
}

/**
 * Samples every node's sequencer state once a second. A node with txs queued and no block for 5 s is recorded
 * (the state of its proposer at that moment), so a stall in a run can be told apart: publishing, waiting for its
 * own block, not caught up...
 */
function watchStalls(peers: NodeProcessHandle[]) {
  const stalls: Array<Record<string, unknown>> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      await sleep(1000);
      for (const p of peers) {
        try {
          const s = await peerStatus(p.url);
          const q = s.sequencerStatus ?? {};
          if (Number(q['queued'] ?? 0) + (q['inFlight'] ? 1 : 0) > 0 && Number(q['msSinceLastBlock'] ?? 0) > 5000 && stalls.length < 50) {
            stalls.push({ institution: p.institution, at: new Date().toISOString(), height: s.head.height, pendingTxs: s.pendingTxs, ...q });
          }
        } catch {
          // a node that is down is the fault phases' business
        }
      }
    }
  })();
  return {
    stalls,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * Samples every node's event-loop lag once a second (prom-client's `…eventloop_lag_max_seconds`, reset at each
 * scrape): a node whose JS thread is blocked delays every tx it proposes, receives or answers, so the latency tail
 * of a run can be told apart from queueing.
 */
function watchEventLoops(peers: NodeProcessHandle[]) {
  const maxima = new Map<string, number[]>(peers.map((p) => [p.institution, []]));
  // The size of each node's write-ahead log, once a second: it grows while checkpoints cannot reset it.
  const walMiB = new Map<string, number[]>(peers.map((p) => [p.institution, []]));
  let running = true;
  const scrape = async (p: NodeProcessHandle) => {
    try {
      walMiB.get(p.institution)!.push(round(statSync(join(dirname(p.logFile), `${LEDGER_FILE}-wal`)).size / 2 ** 20, 1));
    } catch {
      // no log file at this moment
    }
    const text = await (await fetch(`${p.url}/metrics`)).text();
    const m = /^medchain_process_nodejs_eventloop_lag_max_seconds\s+([0-9.eE+-]+)$/m.exec(text);
    if (m) maxima.get(p.institution)!.push(Number(m[1]) * 1000);
  };
  const loop = (async () => {
    await Promise.all(peers.map((p) => scrape(p).catch(() => undefined))); // resets the windows
    while (running) {
      await sleep(1000);
      await Promise.all(peers.map((p) => scrape(p).catch(() => undefined)));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return Object.fromEntries(
      [...maxima].map(([institution, values]) => {
        const sorted = values.slice(1).sort((a, b) => a - b);
        return [
          institution,
          { seconds: sorted.length, p50Ms: round(percentile(sorted, 50)), p90Ms: round(percentile(sorted, 90)), maxMs: round(sorted[sorted.length - 1] ?? Number.NaN), walFileMiBEachSecond: walMiB.get(institution) },
        ];
      }),
    );
  };
}

function countFailures(failed: Record<string, number>, code: string, n = 1): void {
  failed[code] = (failed[code] ?? 0) + n;
}

/** CPU seconds so far of the node processes, the nats-servers and this process (the load generator). */
function cpuSeconds(peers: NodeProcessHandle[], natsPids: number[]) {
  return {
    nodes: peers.reduce((s, p) => s + cpuSecondsOf(p.child.pid!), 0),
    nats: natsPids.reduce((s, pid) => s + cpuSecondsOf(pid), 0),
    loadGenerator: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  };
}

/** Closed loop: `window` txs in flight per node, in batches; committed tx/s counted when the last node has the last block. */
async function peak(peers: NodeProcessHandle[], natsPids: number[], txs: SignedTx[], window: number, batch: number) {
  const cpu = () => cpuSeconds(peers, natsPids);
  const cpu0 = cpu();
  const t0 = performance.now();
  let next = 0;
  let maxHeight = 0;
  const failed: Record<string, number> = {};
  const startHeight = Math.min(...(await heights(peers)));
  const loop = async (peer: NodeProcessHandle) => {
    while (next < txs.length) {
      const chunk = txs.slice(next, next + batch);
      next += chunk.length;
      try {
        for (const r of await submitBatch(peer.url, chunk)) {
          if (r.code) countFailures(failed, r.code);
          else maxHeight = Math.max(maxHeight, r.height!);
        }
      } catch (err) {
        countFailures(failed, (err as Error).name, chunk.length);
      }
    }
  };
  await Promise.all(peers.flatMap((p) => Array.from({ length: Math.ceil(window / batch) }, () => loop(p))));
  await allCommitted(peers, maxHeight);
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = cpu();
  const blocks = maxHeight - startHeight;
  const committed = txs.length - Object.values(failed).reduce((a, b) => a + b, 0);
  // CPU per committed tx, every process of the run: less noisy than wall time on a shared machine, and with the
  // core count it bounds the throughput this machine could reach.
  const cpuMsPerTx = Object.fromEntries(Object.keys(cpu0).map((k) => [k, round(((cpu1[k as keyof typeof cpu1] - cpu0[k as keyof typeof cpu0]) * 1000) / committed, 3)]));
  const totalCpuMsPerTx = round(Object.values(cpuMsPerTx).reduce((a, b) => a + b, 0), 3);
  return {
    cpuMsPerTx: { ...cpuMsPerTx, total: totalCpuMsPerTx },
    cpuBoundTxPerSec: Math.round((availableParallelism() * 1000) / totalCpuMsPerTx),
    txs: txs.length,
    inFlight: window * peers.length,
    batch,
    failed,
    seconds: round(seconds, 2),
    committedTxPerSecOnEveryNode: Math.round(committed / seconds),
    blocks,
    avgTxsPerBlock: Math.round(committed / Math.max(1, blocks)),
  };
}

/** The p99 latency of the txs answered in each second of a run (a tail spread evenly, or in bursts?). */
function p99BySecond(samples: Array<{ at: number; ms: number }>): number[] {
  const seconds: number[][] = [];
  for (const s of samples) (seconds[Math.floor(s.at / 1000)] ??= []).push(s.ms);
  return [...seconds].map((v) => (v ? Math.round(percentile(v.sort((a, b) => a - b), 99)) : 0));
}

/**
 * Open loop at a fixed rate: every 20 ms the txs due are sent, split over the nodes, one batch request per node
 * (as an institution's systems would send what accumulated); latency = send to commit on the node sent to.
 */
async function openLoop(peers: NodeProcessHandle[], make: () => SignedTx, ratePerSec: number, seconds: number, onTick?: (elapsedMs: number) => Promise<void> | void) {
  const total = Math.floor(ratePerSec * seconds);
  const txs = Array.from({ length: total }, make);
  const samples: Array<{ at: number; ms: number }> = [];
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  let sent = 0;
  const failed: Record<string, number> = {};
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * ratePerSec) + 1);
    const n = due - sent;
    for (let p = 0; p < peers.length && n > 0; p++) {
      const chunk = txs.slice(sent + Math.floor((n * p) / peers.length), sent + Math.floor((n * (p + 1)) / peers.length));
      if (chunk.length === 0) continue;
      const start = performance.now();
      inflight.push(
        submitBatch(peers[p]!.url, chunk).then(
          (receipts) => {
            const at = performance.now();
            for (const r of receipts) {
              if (r.code) countFailures(failed, r.code);
              else samples.push({ at: at - t0, ms: at - start });
            }
          },
          (err: Error) => countFailures(failed, err.name, chunk.length),
        ),
      );
    }
    sent = due;
    await onTick?.(performance.now() - t0);
    await sleep(20);
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
  ensureNatsServer(log);
  const dir = tempDir('medchain-bench-cluster-');
  const ports: Array<[number, number]> = [];
  for (let i = 0; i < 3; i++) ports.push([await freeLocalPort(), await freeLocalPort()]);
  const cluster = await NatsCluster.start(planNatsCluster(join(dir.path, 'nats'), ports));
  const forgetServers = undoOnInterrupt(() => {
    for (const pid of cluster.pids()) process.kill(pid, 'SIGKILL');
  });
  const peers: NodeProcessHandle[] = [];
  const watcher = { current: undefined as ReturnType<typeof watchStalls> | undefined };
  let keep = process.env['MEDCHAIN_BENCH_KEEP'] === '1';
  try {
    const apiPorts = [await freeLocalPort(), await freeLocalPort(), await freeLocalPort()];
    const exchangeEndpoints = Object.fromEntries(apiPorts.map((port, i) => [DEMO_INSTITUTIONS[i]!.id, `http://127.0.0.1:${port}`]));
    // The three share this machine's cores, as an operator would size them (one each on 2 cores: 2–8 %
    // more at peak than two each in alternated runs, PERFORMANCE.md); the joiner syncs mostly alone: the default.
    const signatureWorkers = sharedCoreWorkers(3);
    for (let i = 0; i < 3; i++) {
      const dataDir = join(dir.path, `peer-${i}`);
      const { institution, port } = await writePeerDataDir(dataDir, i, cluster.urls(), { port: apiPorts[i]!, exchangeEndpoints, signatureWorkers });
      peers.push(await startPeerProcess(dataDir, institution, port));
    }
    const admin = demoIdentity(demoHandle.admin(LEAD));
    const registrar = demoIdentity(demoHandle.staff(LEAD, 'reg-zhao-min'));
    const enrol = await submitOne(
      peers[0]!.url,
      signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'enrolStaff', args: { staffId: 'reg-zhao-min', name: '赵敏', roles: ['registrar'], key: registrar.did } }, admin.did, new Ed25519Signer(admin.signing.seed)),
    );
    if (enrol.code) throw new Error(`enrolling the registrar failed: ${enrol.code}`);
    await allCommitted(peers, enrol.height!);
    const make = txFactory();
    // First, on the quiet cluster: a doctor at a township centre reads a record held by the county hospital.
    const read = await crossInstitutionRead(peers[0]!, peers[1]!, quick ? 50 : 200, log);
    log(`cluster: cross-institution read p50 ${read.p50Ms} ms, p99 ${read.p99Ms} ms`);
    watcher.current = watchStalls(peers);

    const peakTxs = quick ? 20_000 : 100_000;
    log(`cluster: signing ${peakTxs} txs`);
    const pre = Array.from({ length: peakTxs }, make);
    log('cluster: peak committed throughput (closed loop, 1,000 in flight per node, batches of 100)');
    const countsBeforePeak = await proposalCounts(peers);
    const peakResult = { ...(await peak(peers, cluster.pids(), pre, 1000, 100)), proposals: countsSince(countsBeforePeak, await proposalCounts(peers)) };
    log(`cluster: ${peakResult.committedTxPerSecOnEveryNode} tx/s ${JSON.stringify(peakResult.failed)}`);

    const half = peakResult.committedTxPerSecOnEveryNode / 2;
    log(`cluster: latency at half of peak (${Math.round(half)} tx/s, batches every 20 ms)`);
    const stopLagWatch = watchEventLoops(peers);
    const [heightBefore, cpuBefore, byNodeBefore] = [Math.min(...(await heights(peers))), cpuSeconds(peers, cluster.pids()), await proposalCountsByNode(peers)];
    const nodeCpuBefore = peers.map((p) => cpuSecondsOf(p.child.pid!));
    const latencyRun = await openLoop(peers, make, half, quick ? 10 : 30);
    const [heightAfter, cpuAfter, byNodeAfter] = [Math.min(...(await heights(peers))), cpuSeconds(peers, cluster.pids()), await proposalCountsByNode(peers)];
    const nodeCpuAfter = peers.map((p) => cpuSecondsOf(p.child.pid!));
    const committed = latencyRun.stats.samples;
    const latency = {
      ...latencyRun.stats,
      p99BySecondMs: p99BySecond(latencyRun.samples),
      eventLoopLagMaxPerSecond: await stopLagWatch(),
      // Blocks are smaller at this rate than at peak, and every block costs every node a fixed amount of work.
      blocks: heightAfter - heightBefore,
      avgTxsPerBlock: Math.round(committed / Math.max(1, heightAfter - heightBefore)),
      // Appended proposals and lost races (a lost race: proposed for a position another peer's proposal took).
      proposals: countsSince(summed(byNodeBefore), summed(byNodeAfter)),
      cpuMsPerTx: { nodes: round(((cpuAfter.nodes - cpuBefore.nodes) * 1000) / committed, 3), nats: round(((cpuAfter.nats - cpuBefore.nats) * 1000) / committed, 3) },
      // Each node's share: with forwarding one node proposes, and does more than the others.
      byNode: peers.map((p, i) => ({
        institution: p.institution,
        cpuMsPerTx: round(((nodeCpuAfter[i]! - nodeCpuBefore[i]!) * 1000) / committed, 3),
        proposed: byNodeAfter[i]!.proposed - byNodeBefore[i]!.proposed,
      })),
    };
    log(`cluster: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms ${JSON.stringify(latency.failed)}`);

    // Kill the stream leader under a moderate load: how long does no tx commit?
    const nc = await connect({ servers: cluster.urls() });
    const jsm = await jetstreamManager(nc);
    const leader = (await jsm.streams.info(streamNameOf(DEMO_CHAIN_ID))).cluster!.leader!;
    const leaderIndex = cluster.spec.servers.findIndex((s) => s.name === leader);
    await nc.close();
    log(`cluster: killing nats-server ${leader} (stream leader) under load`);
    let killedAt = -1;
    const failover = await openLoop(peers, make, Math.min(500, half), quick ? 15 : 30, async (elapsed) => {
      if (killedAt < 0 && elapsed > 3000) {
        killedAt = elapsed;
        await cluster.kill(leaderIndex, 'SIGKILL');
      }
    });
    const after = [killedAt, ...failover.samples.filter((s) => s.at >= killedAt).map((s) => s.at)].sort((a, b) => a - b);
    const stallMs = Math.max(...after.slice(1).map((t, i) => t - after[i]!));
    log(`cluster: stall ${Math.round(stallMs)} ms ${JSON.stringify(failover.stats.failed)}`);
    await cluster.restart(leaderIndex);
    await watcher.current.stop();

    log('cluster: catch-up of a new institution node from genesis (its own process)');
    const target = Math.max(...(await heights(peers)));
    // The stream's replicas as the joiner starts (a server restarted just before may still be catching up).
    const streamAtStart = await streamClusterInfo(cluster.urls());
    const joinDir = join(dir.path, 'joiner');
    const { institution, port } = await writePeerDataDir(joinDir, 3, cluster.urls());
    const t0 = performance.now();
    // `medchain start` serves its API only once caught up with the stream as it was at start.
    const joiner = await startPeerProcess(joinDir, institution, port);
    const catchUpSeconds = (performance.now() - t0) / 1000;
    const joinerStatus = await peerStatus(joiner.url);
    const caughtUpHeight = joinerStatus.head.height;
    // Where a slow catch-up's time went: consumer re-creations, sequencing faults, skipped messages.
    const { consumerRestarts, skipped, timingsMs, maxTimingsMs, server } = (joinerStatus.sequencerStatus ?? {}) as Record<string, unknown>;
    const joinerFaults = tail(joiner.logFile, 400)
      .split('\n')
      .filter((line) => /SEQUENCER_FAULT|slow consumer/i.test(line)) // the node logs each fault with its code
      .slice(-5);
    // A server drops a client that falls too far behind on what it was sent (large blocks, a busy node).
    const slowConsumerLines = cluster.spec.servers.reduce((n, srv) => n + (readFileSync(srv.logFile, 'utf8').match(/slow consumer/gi)?.length ?? 0), 0);
    await stopPeerProcess(joiner);
    const db = new Database(join(joinDir, 'ledger.db'), { readonly: true });
    const caughtUpTxs = (db.prepare('SELECT count(*) AS n FROM txs').get() as { n: number }).n;
    db.close();

    const sequencers = await Promise.all(
      peers.map(async (p) => {
        const s = await peerStatus(p.url);
        return { institution: p.institution, ...s.sequencerStatus, fsync: s.storage };
      }),
    );
    const failures = [peakResult.failed, latency.failed, failover.stats.failed].reduce((n, f) => n + Object.values(f).reduce((a, b) => a + b, 0), 0);
    if (failures > 0) keep = true;
    return {
      setup: `3 node processes (medchain start; ${signatureWorkers} signature worker${signatureWorkers === 1 ? '' : 's'} each) + 3 nats-servers (R3 file stream), 127.0.0.1; load over HTTP from the bench process`,
      crossInstitutionRead: read,
      peak: peakResult,
      latencyAtHalfPeak: latency,
      natsLeaderKill: { killed: leader, stallMs: Math.round(stallMs), afterKill: failover.stats },
      catchUp: { blocks: caughtUpHeight, targetHeight: target, seconds: round(catchUpSeconds, 2), blocksPerSec: Math.round(caughtUpHeight / catchUpSeconds), txs: caughtUpTxs, txPerSec: Math.round(caughtUpTxs / catchUpSeconds), includesProcessStart: true, joiner: { server, consumerRestarts, skipped, timingsMs, maxTimingsMs, lastFaults: joinerFaults }, natsSlowConsumerLines: slowConsumerLines, streamAtStart },
      stalls: watcher.current.stalls,
      sequencers,
      ...(keep ? { keptDir: dir.path } : {}),
    };
  } catch (err) {
    keep = true;
    for (const p of peers) log(`${p.institution} log tail:\n${tail(p.logFile)}`);
    throw err;
  } finally {
    await watcher.current?.stop();
    for (const p of peers) await stopPeerProcess(p);
    await cluster.stop();
    forgetServers();
    if (keep) log(`cluster: kept ${dir.path} (node logs, nats logs)`);
    else dir.remove();
  }
}
