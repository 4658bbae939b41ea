import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { demoHandle, demoIdentity, DEMO_CHAIN_ID } from '../../src/demo/index.js';
import { forwardSubjectOf, InlineSignatureVerifier, parseSignedTx, verifyLedger } from '../../src/ledger/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { closeConsortium, institutionAt, newPatientTx, openConsortium, openPeer, startTestNatsCluster, waitForAgreement } from '../helpers/nats.js';

/**
 * Forwarding to the leader: the peer that proposed the latest block proposes the other peers' txs too. The leader
 * stays fresh for a minute here (instead of a second), so which peer leads depends on the test's steps alone.
 */

const FORWARD = { forward: { leaderFreshMs: 60_000, forwardTimeoutMs: 1000 } };
let nats: Awaited<ReturnType<typeof startTestNatsCluster>>;
const root = mkdtempSync(join(tmpdir(), 'medchain-fwd-'));
const peers: MedchainNode[] = [];
const didOf = (i: number) => demoIdentity(demoHandle.node(institutionAt(i))).did;
const sequencerStatus = (i: number) => peers[i]!.status().sequencerStatus as Record<string, number>;

beforeAll(async () => {
  nats = await openConsortium(root, peers, FORWARD);
}, 60_000);

afterAll(() => closeConsortium(root, peers, nats));

/** The peer every peer names as leader (the proposer of the latest block), after a block all have committed. */
async function leader(): Promise<number> {
  const r = await peers[0]!.submit(newPatientTx());
  await waitForAgreement(peers, r.height);
  const named = new Set([0, 1, 2].map((i) => sequencerStatus(i).leader as unknown as string));
  expect(named.size).toBe(1);
  const index = [0, 1, 2].find((i) => named.has(didOf(i)));
  expect(index).toBeDefined();
  return index!;
}

async function reopen(i: number): Promise<void> {
  peers[i] = await openPeer(join(root, `peer-${i}`), institutionAt(i), nats.cluster.urls(), FORWARD);
}

describe('forwarding to the leader', () => {
  it('txs submitted at every peer commit in the leader\'s blocks, acknowledged by the peer they were submitted to', async () => {
    expect(await leader()).toBe(0); // it proposed the latest block (the registrar's enrolment)
    const before = [0, 1, 2].map(sequencerStatus);
    const receipts = await Promise.all(
      peers.flatMap((peer) => Array.from({ length: 40 }, () => peer.submit(newPatientTx()).then((r) => ({ r, peer })))),
    );
    expect(receipts.filter(({ r }) => r.result.status !== 'ok').map(({ r }) => r.result)).toEqual([]);
    for (const { r, peer } of receipts) {
      expect(peer.ledger.store.getTx(r.id)?.height).toBe(r.height); // acknowledged once committed where submitted
      expect(peer.ledger.store.getBlock(r.height)!.header.proposer).toBe(didOf(0));
    }
    const after = [0, 1, 2].map(sequencerStatus);
    for (const i of [1, 2]) {
      expect(after[i]!.forwardedTxs! - before[i]!.forwardedTxs!).toBe(40);
      // Found again in the leader's blocks: taken as they were, not parsed a second time.
      expect(after[i]!.reusedTxs! - before[i]!.reusedTxs!).toBe(40);
    }
    expect(after[0]!.receivedTxs! - before[0]!.receivedTxs!).toBe(80);
    // One proposer: no race for a stream position was lost.
    expect(after.reduce((n, s) => n + s.lostRaces!, 0)).toBe(before.reduce((n, s) => n + s.lostRaces!, 0));
    expect(after.every((s) => s.forwardedWaiting === 0)).toBe(true);

    const height = await waitForAgreement(peers, Math.max(...receipts.map(({ r }) => r.height)));
    for (const peer of peers) {
      expect(peer.ledger.head().stateHash).toBe(peers[0]!.ledger.head().stateHash);
      const report = await verifyLedger({ path: peer.ledger.store.db.name, personality: peer.runtime, verifier: new InlineSignatureVerifier(), limits: peer.limits });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    }
    expect(height).toBeGreaterThan(0);
  }, 60_000);

  it('the leader drops forged and known txs sent to it, and answers a malformed message with an error', async () => {
    expect(await leader()).toBe(0);
    const nc: NatsConnection = await connect({ servers: nats.cluster.urls() });
    try {
      const subject = forwardSubjectOf(DEMO_CHAIN_ID, didOf(0));
      const ask = async (body: string) => JSON.parse(new TextDecoder().decode((await nc.request(subject, body, { timeout: 5000 })).data));
      expect(await ask('not json')).toEqual({ error: expect.stringMatching(/JSON array/) });
      const genuine = newPatientTx();
      // The registrar's signature over another tx: well formed, but not over this one.
      const forged = { tx: genuine.tx, sig: newPatientTx().sig };
      const heightBefore = peers[0]!.ledger.head().height;
      expect(await ask(JSON.stringify([forged, { not: 'a tx' }]))).toEqual({ accepted: 0 });
      const honest = newPatientTx();
      expect(await ask(JSON.stringify([honest, honest]))).toEqual({ accepted: 1 }); // the copy is known by then
      const id = await waitForTx(peers[0]!, honest);
      expect(await ask(JSON.stringify([honest]))).toEqual({ accepted: 0 }); // committed: known
      await waitForAgreement(peers, heightBefore + 1);
      for (const peer of peers) expect(peer.ledger.store.getTx(id)?.height).toBeGreaterThan(heightBefore);
      // The forged tx never reached a block.
      const forgedId = parseSignedTx(forged, peers[1]!.limits).id;
      for (const peer of peers) expect(peer.ledger.store.getTx(forgedId)).toBeUndefined();
    } finally {
      await nc.close();
    }
  }, 30_000);

  it('a peer takes its txs back and proposes them itself when the leader is gone', async () => {
    expect(await leader()).toBe(0);
    await peers[0]!.close();
    try {
      const before = sequencerStatus(1);
      const receipts = await Promise.all(Array.from({ length: 5 }, () => peers[1]!.submit(newPatientTx())));
      expect(receipts.map((r) => r.result.status)).toEqual(Array(5).fill('ok'));
      for (const r of receipts) expect(peers[1]!.ledger.store.getBlock(r.height)!.header.proposer).toBe(didOf(1));
      const after = sequencerStatus(1);
      // Refused at once (no peer listens on the leader's subject), not after the timeout.
      expect(after.forwardFailures! - before.forwardFailures!).toBeGreaterThanOrEqual(1);
      expect(after.takenBack! - before.takenBack!).toBeGreaterThanOrEqual(1);
    } finally {
      await reopen(0);
    }
    await waitForAgreement(peers, peers[1]!.ledger.head().height);
  }, 40_000);

  it('txs the leader accepted but never proposed are taken back after forwardTimeoutMs', async () => {
    expect(await leader()).toBe(1); // it proposed while peer 0 was gone
    await peers[1]!.close();
    // A black hole in the leader's place: it acknowledges forwarded txs and does nothing with them.
    const nc = await connect({ servers: nats.cluster.urls() });
    const sub = nc.subscribe(forwardSubjectOf(DEMO_CHAIN_ID, didOf(1)), {
      callback: (_err, m) => {
        m.respond(JSON.stringify({ accepted: (JSON.parse(new TextDecoder().decode(m.data)) as unknown[]).length }));
      },
    });
    await nc.flush();
    try {
      const before = sequencerStatus(2);
      const started = performance.now();
      const receipts = await Promise.all(Array.from({ length: 3 }, () => peers[2]!.submit(newPatientTx())));
      expect(receipts.map((r) => r.result.status)).toEqual(Array(3).fill('ok'));
      expect(performance.now() - started).toBeGreaterThanOrEqual(900);
      for (const r of receipts) expect(peers[2]!.ledger.store.getBlock(r.height)!.header.proposer).toBe(didOf(2));
      expect(sequencerStatus(2).takenBack! - before.takenBack!).toBe(3);
    } finally {
      sub.unsubscribe();
      await nc.close();
      await reopen(1);
    }
    await waitForAgreement(peers, peers[2]!.ledger.head().height);
  }, 40_000);
});

/** Waits until a tx sent straight to the leader's subject is committed there; returns its id. */
async function waitForTx(node: MedchainNode, signed: unknown): Promise<string> {
  const id = parseSignedTx(signed, node.limits).id;
  const deadline = Date.now() + 10_000;
  while (!node.ledger.store.getTx(id)) {
    if (Date.now() > deadline) throw new Error(`tx ${id} not committed`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return id;
}
