import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { base32 } from '@scure/base';
import pino from 'pino';
import { DEMO_INSTITUTIONS, demoGenesis, demoHandle, demoIdentity } from '../../src/demo/index.js';
import { NatsCluster, planNatsCluster } from '../../src/network/nats-cluster.js';
import { createNode, type MedchainNode } from '../../src/node/index.js';
import { freePort } from './cli-process.js';
import { Actor, admin, LEAD } from './test-node.js';

/** A 3-server nats cluster on free 127.0.0.1 ports in a temp dir; `stop()` kills it and removes the dir. */
export async function startTestNatsCluster(size = 3): Promise<{ cluster: NatsCluster; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-nats-'));
  const ports: Array<[number, number]> = [];
  for (let i = 0; i < size; i++) ports.push([await freePort(), await freePort()]);
  const cluster = await NatsCluster.start(planNatsCluster(join(dir, 'nats'), ports));
  return {
    cluster,
    dir,
    stop: async () => {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The demo institution at `index` (0 = county hospital). */
export const institutionAt = (index: number) => DEMO_INSTITUTIONS[index]!.id;

export interface PeerOptions {
  maxWaitMs?: number;
  minBlockTxs?: number;
  exchangeEndpoints?: Record<string, string>;
  forward?: { forwardToLeader?: boolean; forwardTimeoutMs?: number; leaderFreshMs?: number };
}

type TestNats = Awaited<ReturnType<typeof startTestNatsCluster>>;

/**
 * A test file's consortium: a 3-server cluster and the first three demo institutions' nodes, put in `peers`
 * (data in `<root>/peer-<i>`, so a test can close and reopen one), with the registrar enrolled.
 */
export async function openConsortium(root: string, peers: MedchainNode[], extra: PeerOptions = {}): Promise<TestNats> {
  const nats = await startTestNatsCluster();
  for (let i = 0; i < 3; i++) peers.push(await openPeer(join(root, `peer-${i}`), institutionAt(i), nats.cluster.urls(), extra));
  await enrolRegistrar(peers[0]!);
  return nats;
}

/** Closes whatever nodes are in `peers`, stops the cluster (if it started) and removes `root`. */
export async function closeConsortium(root: string, peers: MedchainNode[], nats: TestNats | undefined): Promise<void> {
  for (const p of peers) await p.close();
  await nats?.stop();
  rmSync(root, { recursive: true, force: true });
}

/** Opens (or reopens) the node of one demo institution on the JetStream sequencer. */
export async function openPeer(
  dataDir: string,
  institution: string,
  servers: string[],
  extra: PeerOptions = {},
): Promise<MedchainNode> {
  return createNode({
    dataDir,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(institution)),
    institution,
    signatureWorkers: 0,
    logger: pino({ level: 'silent' }),
    sequencer: {
      kind: 'jetstream',
      servers,
      maxWaitMs: extra.maxWaitMs ?? 2,
      ...(extra.minBlockTxs ? { minBlockTxs: extra.minBlockTxs } : {}),
      ...extra.forward,
    },
    ...(extra.exchangeEndpoints ? { exchangeEndpoints: extra.exchangeEndpoints } : {}),
  });
}

const registrar = Actor.demo(demoHandle.staff('qingshan-county-hospital', 'reg-zhao-min'));

/** Enrols the demo registrar whose txs `newPatientTx` signs (the genesis holds institutions and admins only). */
export async function enrolRegistrar(node: MedchainNode): Promise<void> {
  const r = await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'reg-zhao-min', name: '赵敏', roles: ['registrar'], key: registrar.did }));
  if (r.result.status !== 'ok') throw new Error(`enrolStaff failed: ${JSON.stringify(r.result)}`);
}

/** A fresh, valid tx (registers a new pseudonymous patient). */
export function newPatientTx() {
  return registrar.tx('identity', 'registerPatient', { patientId: 'P' + base32.encode(randomBytes(20)).slice(0, 26) });
}

/** Resolves once every node reports the same height, at least `minHeight`; rejects after `timeoutMs`. */
export async function waitForAgreement(nodes: MedchainNode[], minHeight: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const heights = nodes.map((n) => n.ledger.head().height);
    if (heights.every((h) => h === heights[0] && h >= minHeight)) return heights[0]!;
    if (Date.now() > deadline) throw new Error(`nodes did not converge: heights ${heights.join(', ')}, wanted ≥ ${minHeight}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
