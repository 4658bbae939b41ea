import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CHAIN_ID, DEMO_PASSPHRASE, demoGenesis, demoHandle, demoIdentity } from '../../src/demo/index.js';
import { streamNameOf, verifyLedger, WorkerSignatureVerifier } from '../../src/ledger/index.js';
import { createContractRuntime } from '../../src/contracts/index.js';
import { DEFAULT_SETTINGS, writeDataDir } from '../../src/node/index.js';
import { freePort, startNodeProcess, type NodeProcess } from '../helpers/cli-process.js';
import { institutionAt, newPatientTx, startTestNatsCluster } from '../helpers/nats.js';
import { admin, LEAD } from '../helpers/test-node.js';

/**
 * Faults of the consortium network, with real processes on 127.0.0.1: three institution nodes (`medchain start`)
 * on a 3-server nats cluster (stream replicas = 3), under a write load spread over the nodes. Each step is bounded
 * in time. At the end no acknowledged tx may be missing on any node, and `verify` must pass on every node.
 */

interface Ack {
  id: string;
  height: number;
  at: number;
}

let nats: Awaited<ReturnType<typeof startTestNatsCluster>>;
const root = mkdtempSync(join(tmpdir(), 'medchain-cluster-faults-'));
const peers: Array<{ dataDir: string; port: number; proc?: NodeProcess }> = [];
const acknowledged: Ack[] = [];

/** Writes from `clients` clients, each cycling over the nodes; a node that is down is skipped. */
function writeLoad(clients: number) {
  let running = true;
  const acks: Ack[] = [];
  /** Submissions a running node did not commit: an error status, or no answer within 20 s. */
  const failures: string[] = [];
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = c; running; i++) {
      const peer = peers[i % peers.length]!;
      try {
        const res = await fetch(`http://127.0.0.1:${peer.port}/v1/txs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(newPatientTx()),
          signal: AbortSignal.timeout(20_000),
        });
        if (res.status === 200) {
          const r = (await res.json()) as { id: string; height: number; result: { status: string } };
          if (r.result.status === 'ok') acks.push({ id: r.id, height: r.height, at: Date.now() });
        } else failures.push(`${res.status} ${(await res.text()).slice(0, 200)}`);
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') failures.push('no answer within 20 s');
        await new Promise((r) => setTimeout(r, 20)); // that node is down
      }
    }
  });
  return {
    acks,
    failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      acknowledged.push(...acks);
      return acks;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(port: number): Promise<{
  head: { height: number; hash: string; stateHash: string };
  sequencerStatus: { leader: string | null; forwardedTxs: number; forwardFailures: number; takenBack: number };
}> {
  return (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as never;
}

const sequencerOf = async (port: number) => (await status(port)).sequencerStatus;

async function waitForSameHead(timeoutMs = 30_000): Promise<{ height: number; hash: string; stateHash: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const heads = await Promise.all(peers.map((p) => status(p.port).then((s) => s.head)));
    if (heads.every((h) => h.hash === heads[0]!.hash)) return heads[0]!;
    if (Date.now() > deadline) throw new Error(`heads differ: ${JSON.stringify(heads)}`);
    await sleep(100);
  }
}

beforeAll(async () => {
  nats = await startTestNatsCluster();
  const servers = nats.cluster.urls();
  for (let i = 0; i < 3; i++) {
    const institution = institutionAt(i);
    const dataDir = join(root, institution);
    const port = await freePort();
    await writeDataDir(
      dataDir,
      demoGenesis(),
      { ...DEFAULT_SETTINGS, institution, port, sequencer: { kind: 'jetstream', servers }, demo: true },
      demoIdentity(demoHandle.node(institution)),
      DEMO_PASSPHRASE,
    );
    peers.push({ dataDir, port });
  }
  await Promise.all(peers.map(async (p) => (p.proc = await startNodeProcess(p.dataDir, p.port))));
  const registrar = demoIdentity(demoHandle.staff(LEAD, 'reg-zhao-min'));
  const enrol = admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'reg-zhao-min', name: '赵敏', roles: ['registrar'], key: registrar.did });
  const res = await fetch(`http://127.0.0.1:${peers[0]!.port}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(enrol) });
  expect(res.status).toBe(200);
}, 90_000);

afterAll(async () => {
  await Promise.all(peers.map((p) => p.proc?.stop('SIGKILL')));
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('consortium network faults', () => {
  // The stall is mostly nats-server's Raft election timeout (4–9 s in server/raft.go) after a SIGKILLed leader.
  it('killing the stream leader of three nats-servers stalls writes briefly; the server rejoins on restart', async () => {
    const nc = await connect({ servers: nats.cluster.urls() });
    const jsm = await jetstreamManager(nc);
    const stream = streamNameOf(DEMO_CHAIN_ID);
    const leader = (await jsm.streams.info(stream)).cluster!.leader!;
    const index = nats.cluster.spec.servers.findIndex((s) => s.name === leader);
    const load = writeLoad(8);
    await sleep(1500);
    const killedAt = Date.now();
    await nats.cluster.kill(index, 'SIGKILL');
    await sleep(6000);
    const acks = await load.stop();
    // Liveness: every node stayed up, so every tx submitted around the failover must commit (a consumer that
    // stayed silent after losing its server once left them all to the commit timeout).
    expect(load.failures, 'every submission commits').toEqual([]);
    const before = acks.filter((a) => a.at < killedAt);
    const after = acks.filter((a) => a.at >= killedAt);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length, 'writes continue with two servers of three').toBeGreaterThan(0);
    // The stall: the longest time without any acknowledgement from the kill on.
    const times = [killedAt, ...after.map((a) => a.at)].sort((x, y) => x - y);
    const stallMs = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
    console.log(JSON.stringify({ natsLeaderKilled: leader, stallMs, acksBefore: before.length, acksAfter: after.length }));

    await nats.cluster.restart(index);
    const deadline = Date.now() + 30_000;
    let rejoined = false;
    while (!rejoined && Date.now() < deadline) {
      try {
        const info = await jsm.streams.info(stream);
        const members = [{ name: info.cluster!.leader!, current: true }, ...(info.cluster!.replicas ?? [])];
        rejoined = members.some((m) => m.name === leader && m.current) && members.length === 3 && members.every((m) => m.current);
      } catch {
        // a leader election may be under way
      }
      if (!rejoined) await sleep(250);
    }
    await nc.close();
    expect(rejoined, `${leader} is a current replica again`).toBe(true);
  }, 60_000);

  it('a peer killed under load catches up after restart and reaches the same state hash', async () => {
    const load = writeLoad(8);
    await sleep(800);
    await peers[2]!.proc!.stop('SIGKILL');
    await sleep(2500); // the other two go on writing
    const heightWhileDown = (await status(peers[0]!.port)).head.height;
    peers[2]!.proc = await startNodeProcess(peers[2]!.dataDir, peers[2]!.port);
    // Its API answers only once it has caught up to where the stream was.
    expect((await status(peers[2]!.port)).head.height).toBeGreaterThanOrEqual(heightWhileDown);
    await sleep(800);
    await load.stop();
    const head = await waitForSameHead();
    expect(head.height).toBeGreaterThan(heightWhileDown);
  }, 60_000);

  it('kill -9 loops on peers (proposers crash mid-append) lose no acknowledged tx and never fork', async () => {
    for (let round = 0; round < 2; round++) {
      const victim = peers[round % 3]!;
      const load = writeLoad(8);
      await sleep(700 + round * 200);
      await victim.proc!.stop('SIGKILL');
      await sleep(500);
      victim.proc = await startNodeProcess(victim.dataDir, victim.port);
      await sleep(300);
      const acks = await load.stop();
      expect(acks.length, `round ${round} made progress`).toBeGreaterThan(0);
    }
    await waitForSameHead();
  }, 90_000);

  it('kill -9 of the leader under load: the others take back what they forwarded to it, and every submission is answered', async () => {
    const load = writeLoad(8);
    await sleep(800);
    // The leader: the proposer of the latest block, which the others forward their txs to. Leadership can move
    // under load (a peer that takes txs back proposes them), so the victim is the peer both others name just now.
    const didOf = (i: number) => demoIdentity(demoHandle.node(institutionAt(i))).did;
    let victim: number | undefined;
    let survivors: number[] = [];
    let before: Array<Awaited<ReturnType<typeof sequencerOf>>> = [];
    for (let attempt = 0; victim === undefined; attempt++) {
      const views = await Promise.all(peers.map((p) => sequencerOf(p.port)));
      const named = [0, 1, 2].find((i) => didOf(i) === views[0]!.leader);
      const others = [0, 1, 2].filter((i) => i !== named);
      if (named !== undefined && others.every((i) => views[i]!.leader === didOf(named))) {
        [victim, survivors, before] = [named, others, others.map((i) => views[i]!)];
      } else if (attempt >= 50) {
        throw new Error(`the peers do not name one leader: ${JSON.stringify(views.map((v) => v.leader))}`);
      } else await sleep(50);
    }
    await peers[victim]!.proc!.stop('SIGKILL');
    // Refused at once when the server knows the leader is gone, or unanswered after FORWARD_REPLY_MS: wait for it.
    const failures = (views: typeof before) => views.reduce((n, s) => n + s.forwardFailures, 0);
    let after = before;
    for (const deadline = Date.now() + 5000; failures(after) <= failures(before) && Date.now() < deadline; ) {
      await sleep(100);
      after = await Promise.all(survivors.map((i) => sequencerOf(peers[i]!.port)));
    }
    peers[victim!]!.proc = await startNodeProcess(peers[victim!]!.dataDir, peers[victim!]!.port);
    await sleep(300);
    const acks = await load.stop();
    expect(acks.length).toBeGreaterThan(0);
    // Forwarded to the dead leader and refused (no responders) or unanswered: proposed by the survivors instead.
    const forwardedBefore = before.reduce((n, s) => n + s.forwardedTxs, 0);
    expect(forwardedBefore, 'the survivors were forwarding to the leader').toBeGreaterThan(0);
    expect(failures(after)).toBeGreaterThan(failures(before));
    // A submission to a running node that went unanswered, or failed, would mean a forwarded tx was lost.
    expect(load.failures).toEqual([]);
    await waitForSameHead();
  }, 60_000);

  it('every acknowledged tx is on every peer at its acknowledged height, and verify passes on every peer', async () => {
    expect(acknowledged.length).toBeGreaterThan(100);
    const head = await waitForSameHead();
    await Promise.all(peers.map((p) => p.proc!.stop('SIGTERM')));
    const runtime = createContractRuntime();
    const verifier = new WorkerSignatureVerifier();
    for (const peer of peers) {
      const db = new Database(join(peer.dataDir, 'ledger.db'), { readonly: true });
      const find = db.prepare<[Buffer], { height: number; result: string }>('SELECT height, result FROM txs WHERE id = ?');
      const missing = acknowledged.filter(({ id, height }) => {
        const row = find.get(Buffer.from(id, 'hex'));
        return !row || row.height !== height || JSON.parse(row.result).status !== 'ok';
      });
      const top = db.prepare<[], { hash: string }>('SELECT hash FROM blocks ORDER BY height DESC LIMIT 1').get()!;
      db.close();
      expect(missing).toEqual([]);
      expect(top.hash).toBe(head.hash);
      const report = await verifyLedger({ path: join(peer.dataDir, 'ledger.db'), personality: runtime, verifier, limits: demoGenesis().limits });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    }
    await verifier.close();
  }, 120_000);
});
