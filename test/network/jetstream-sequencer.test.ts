import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Ed25519Signer } from '../../src/crypto/index.js';
import { DEMO_INSTITUTIONS, demoHandle, demoIdentity, DEMO_CHAIN_ID } from '../../src/demo/index.js';
import { admin, LEAD } from '../helpers/test-node.js';
import { blocksSubjectOf, InlineSignatureVerifier, encodeProposal, parseSignedTx, signProposal, streamNameOf, txRootOf, verifyLedger, type ProposalHeader } from '../../src/ledger/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { closeConsortium, institutionAt, newPatientTx, openConsortium, openPeer, startTestNatsCluster, waitForAgreement } from '../helpers/nats.js';

/**
 * Three institution nodes ordering blocks over a 3-server JetStream cluster (replicas = 3), in one process.
 * Every node proposes its own users' txs at the same time, so proposals race for each stream position: forwarding to
 * the leader is off here (it avoids most races; test/network/forwarding.test.ts covers it).
 */
const RACING = { forward: { forwardToLeader: false } };

let nats: Awaited<ReturnType<typeof startTestNatsCluster>>;
const root = mkdtempSync(join(tmpdir(), 'medchain-js-'));
const peers: MedchainNode[] = [];

beforeAll(async () => {
  nats = await openConsortium(root, peers, RACING);
}, 60_000);

afterAll(() => closeConsortium(root, peers, nats));

function blockHashes(node: MedchainNode, upTo: number): string[] {
  const out: string[] = [];
  for (let h = 0; h <= upTo; h++) out.push(node.ledger.store.getBlock(h)!.hash);
  return out;
}

describe('jetstream sequencer', () => {
  it('orders concurrent proposals from three peers into one chain with the same state on every peer', async () => {
    // Every peer gets its own users' txs at once: they all propose for the same heights.
    const receipts = await Promise.all(
      peers.flatMap((peer) => Array.from({ length: 60 }, () => peer.submit(newPatientTx()).then((r) => ({ r, peer })))),
    );
    expect(receipts.filter(({ r }) => r.result.status !== "ok").map(({ r }) => r.result)).toEqual([]);
    // A receipt means committed on the node it was submitted to.
    for (const { r, peer } of receipts) expect(peer.ledger.store.getTx(r.id)?.height).toBe(r.height);

    const height = await waitForAgreement(peers, Math.max(...receipts.map(({ r }) => r.height)));
    const reference = blockHashes(peers[0]!, height);
    for (const peer of peers) {
      expect(blockHashes(peer, height)).toEqual(reference); // no fork
      expect(peer.ledger.head().stateHash).toBe(peers[0]!.ledger.head().stateHash);
      for (const { r } of receipts) expect(peer.ledger.store.getTx(r.id)?.height).toBe(r.height);
    }
    // Blocks come from more than one proposer, and the three peers did contend for heights.
    const proposers = new Set(reference.slice(1).map((_, i) => peers[0]!.ledger.store.getBlock(i + 1)!.header.proposer));
    expect(proposers.size).toBeGreaterThan(1);
    const stats = peers.map((p) => p.status().sequencerStatus as { lostRaces: number; caughtUp: boolean });
    expect(stats.every((s) => s.caughtUp)).toBe(true);
    // 180 txs arrive at three peers at once: their first proposals all extend the same head, and only one wins.
    expect(stats.reduce((n, s) => n + s.lostRaces, 0)).toBeGreaterThan(0);
    for (const peer of peers) {
      const verifier = new InlineSignatureVerifier();
      const report = await verifyLedger({ path: peer.ledger.store.db.name, personality: peer.runtime, verifier, limits: peer.limits });
      expect(report.ok, JSON.stringify(report)).toBe(true);
    }
  }, 60_000);

  it('skips a malformed message and a proposal by a non-member on every peer alike', async () => {
    const before = await waitForAgreement(peers, 1);
    const nc = await connect({ servers: nats.cluster.urls() });
    const js = jetstream(nc);
    const subject = blocksSubjectOf(DEMO_CHAIN_ID);
    const malformed = await js.publish(subject, 'not a block');
    const stranger = demoIdentity('stranger@nowhere');
    const tx = parseSignedTx(newPatientTx(), { maxTxBytes: 65536, maxValidityMs: 86_400_000 });
    const header: ProposalHeader = {
      chain: DEMO_CHAIN_ID,
      slot: malformed.seq + 1,
      time: Date.now(),
      proposer: stranger.did,
      txRoot: txRootOf([tx.id]),
      txCount: 1,
    };
    await js.publish(subject, encodeProposal({ header, proposerSig: signProposal(header, new Ed25519Signer(stranger.signing.seed)), txs: [tx] }), {
      expect: { lastSequence: malformed.seq },
    });
    await nc.close();
    // The chain goes on after the two bad messages, on every peer.
    const r = await peers[1]!.submit(newPatientTx());
    expect(r.height).toBe(before + 1);
    await waitForAgreement(peers, r.height);
    expect(peers[0]!.ledger.store.hasTx(tx.id)).toBe(false);
    for (const p of peers) expect((p.status().sequencerStatus as { skipped: number }).skipped).toBe(2);
  }, 30_000);

  it("records a forged tx in a member's proposal as TX_BAD_SIGNATURE on every peer (signatures checked on receipt)", async () => {
    const nc = await connect({ servers: nats.cluster.urls() });
    const js = jetstream(nc);
    const limits = { maxTxBytes: 65536, maxValidityMs: 86_400_000 };
    const genuine = newPatientTx();
    // The registrar's signature over another tx: well formed, but not over this one.
    const forged = parseSignedTx({ tx: genuine.tx, sig: newPatientTx().sig }, limits);
    const honest = parseSignedTx(newPatientTx(), limits);
    const proposer = demoIdentity(demoHandle.node(institutionAt(1)));
    const head = peers[0]!.ledger.head();
    const last = (await (await jetstreamManager(nc)).streams.info(streamNameOf(DEMO_CHAIN_ID))).state.last_seq;
    const header: ProposalHeader = {
      chain: DEMO_CHAIN_ID,
      slot: last + 1,
      time: Date.now(),
      proposer: proposer.did,
      txRoot: txRootOf([forged.id, honest.id]),
      txCount: 2,
    };
    const message = encodeProposal({ header, proposerSig: signProposal(header, new Ed25519Signer(proposer.signing.seed)), txs: [forged, honest] });
    const skippedBefore = peers.map((p) => (p.status().sequencerStatus as { skipped: number }).skipped);
    await js.publish(blocksSubjectOf(DEMO_CHAIN_ID), message, { expect: { lastSequence: last } });
    // The same signed proposal again, at the next position: a copy, skipped by every peer (its slot is taken).
    await js.publish(blocksSubjectOf(DEMO_CHAIN_ID), message);
    await nc.close();
    await waitForAgreement(peers, head.height + 1);
    for (const p of peers) {
      const block = p.ledger.store.blockTxs(head.height + 1);
      expect(block.map((t) => [t.sigOk, JSON.parse(t.result).code ?? JSON.parse(t.result).status])).toEqual([
        [false, 'TX_BAD_SIGNATURE'],
        [true, 'ok'],
      ]);
    }
    // The next block comes after the copy: the chain went on, with the copy skipped once on every peer.
    const r = await peers[0]!.submit(newPatientTx());
    expect(r.height).toBe(head.height + 2);
    await waitForAgreement(peers, r.height);
    peers.forEach((p, i) => {
      expect((p.status().sequencerStatus as { skipped: number }).skipped).toBe(skippedBefore[i]! + 1);
      expect(p.ledger.store.getBlock(r.height)!.header.slot).toBe(last + 3);
      expect(p.ledger.head().hash).toBe(peers[0]!.ledger.head().hash);
    });
  }, 30_000);

  it('a peer that was closed catches up from the stream on reopening', async () => {
    const dir = join(root, 'peer-2');
    await peers[2]!.close();
    const written = await Promise.all(Array.from({ length: 30 }, (_, i) => peers[i % 2]!.submit(newPatientTx())));
    const target = Math.max(...written.map((r) => r.height));
    peers[2] = await openPeer(dir, institutionAt(2), nats.cluster.urls(), RACING);
    await waitForAgreement(peers, target);
    expect(peers[2]!.ledger.head()).toEqual(peers[0]!.ledger.head());
  }, 30_000);

  it('a lightly loaded peer proposes at once; under load it waits up to maxWaitMs, or until minBlockTxs are queued', async () => {
    const dir = join(root, 'peer-2');
    await peers[2]!.close();
    peers[2] = await openPeer(dir, institutionAt(2), nats.cluster.urls(), { maxWaitMs: 4000, minBlockTxs: 10, ...RACING });
    const submit = (n: number) => Array.from({ length: n }, () => peers[2]!.submit(newPatientTx()));
    // 7 txs, nothing before them: light load, proposed at once rather than after the 4 s wait.
    const started = performance.now();
    const light = await Promise.all(submit(7));
    expect(light.map((r) => r.result.status)).toEqual(Array(7).fill('ok'));
    expect(performance.now() - started).toBeLessThan(2500);
    // Two more within the window make 9 recent txs: now they wait for company.
    const waiting = submit(2);
    await new Promise((r) => setTimeout(r, 1000));
    expect((peers[2]!.status().sequencerStatus as { queued: number }).queued).toBe(2);
    // Eight more make 10 queued: cut at once, not when the first two have waited 4 s.
    const more = performance.now();
    const receipts = await Promise.all([...waiting, ...submit(8)]);
    expect(performance.now() - more).toBeLessThan(2000);
    expect(receipts.map((r) => r.result.status)).toEqual(Array(10).fill('ok'));
    expect(new Set(receipts.map((r) => r.height)).size).toBe(1); // one block
    await peers[2]!.close();
    peers[2] = await openPeer(dir, institutionAt(2), nats.cluster.urls(), RACING);
    await waitForAgreement(peers, receipts[0]!.height);
  }, 30_000);
});

describe('signed checkpoints across the consortium', () => {
  it('the health view lists every node with its height and lag, all in agreement', async () => {
    const height = await waitForAgreement(peers, 1);
    const deadline = Date.now() + 10_000;
    let health = peers[0]!.consortiumHealth();
    while (Date.now() < deadline && !(health.nodes.length === 3 && health.nodes.every((n) => n.height === height))) {
      await new Promise((r) => setTimeout(r, 100));
      health = peers[0]!.consortiumHealth();
    }
    expect(health.nodes.map((n) => n.institution).sort()).toEqual([institutionAt(0), institutionAt(1), institutionAt(2)].sort());
    expect(health.nodes.every((n) => n.height === height && n.lag === 0)).toBe(true);
    expect(health.agreement).toEqual({ ok: true, disagreements: [] });
    expect(peers[1]!.status().checkpoints).toMatchObject({ agreement: true, disagreements: 0 });
  }, 20_000);

});

describe('joining', () => {
  it('a newly admitted institution\'s node syncs from genesis, then proposes like any member', async () => {
    const id = 'xinqiao-clinic';
    const proposal = await peers[0]!.submit(
      admin(LEAD).tx('identity', 'proposeAdmission', {
        institution: {
          id,
          name: '新桥村卫生室',
          type: 'clinic',
          endpoint: 'http://127.0.0.1:8099',
          nodeKey: demoIdentity(demoHandle.node(id)).did,
          admins: [demoIdentity(demoHandle.admin(id)).did],
          location: '青山县',
        },
      }),
    );
    expect(proposal.result.status, JSON.stringify(proposal.result)).toBe('ok');
    let passed = false;
    for (const voter of DEMO_INSTITUTIONS.map((i) => i.id).filter((v) => v !== LEAD)) {
      const r = await peers[1]!.submit(admin(voter).tx('identity', 'vote', { proposal: proposal.id, approve: true }));
      expect(r.result.status).toBe('ok');
      if ((r.result as { result?: { status?: string } }).result?.status === 'passed') {
        passed = true;
        break;
      }
    }
    expect(passed).toBe(true);
    const target = await waitForAgreement(peers, 1);
    // Its node starts from an empty data dir: createNode resolves once it has replayed its own admission.
    const joiner = await openPeer(join(root, 'joiner'), id, nats.cluster.urls(), RACING);
    try {
      expect(joiner.ledger.head().height).toBeGreaterThanOrEqual(target);
      const r = await joiner.submit(newPatientTx());
      expect(r.result.status).toBe('ok');
      expect(joiner.ledger.store.getBlock(r.height)!.header.proposer).toBe(demoIdentity(demoHandle.node(id)).did);
      await waitForAgreement([...peers, joiner], r.height);
      expect(joiner.ledger.head()).toEqual(peers[0]!.ledger.head());
    } finally {
      await joiner.close();
    }
  }, 40_000);
});

describe('tampering', () => {
  it('a peer whose database was altered by hand fails verify and is flagged by every peer', async () => {
    // An operator at peer 2 edits a staff record in SQLite: the registrar becomes a lab technician there only.
    const dir = join(root, 'peer-2');
    await peers[2]!.close();
    const db = new Database(join(dir, 'ledger.db'));
    const key = 'id/staff/qingshan-county-hospital/reg-zhao-min';
    const row = db.prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?').get(key)!;
    db.prepare('UPDATE state SET value = ? WHERE key = ?').run(row.value.replace('"registrar"', '"lab_technician"'), key);
    db.close();
    peers[2] = await openPeer(dir, institutionAt(2), nats.cluster.urls(), RACING);

    // The next registration succeeds on the honest peers and fails (FORBIDDEN) on the altered one: its block differs.
    const r = await peers[0]!.submit(newPatientTx());
    expect(r.result.status).toBe('ok');
    const deadline = Date.now() + 15_000;
    const flagged = () => peers.map((p) => p.consortiumHealth().agreement.disagreements);
    while (Date.now() < deadline && flagged().some((d) => d.length === 0)) await new Promise((res) => setTimeout(res, 100));
    for (const [i, found] of flagged().entries()) {
      expect(found.length, `peer ${i} raised the alarm`).toBeGreaterThan(0);
      expect(found.some((d) => d.sides.some((s) => s.institution === institutionAt(2))), `peer ${i} names the altered peer`).toBe(true);
      expect(found[0]!.height).toBe(r.height);
    }
    expect(peers[0]!.status().checkpoints?.agreement).toBe(false);
    const metrics = await peers[1]!.metrics.metrics();
    expect(metrics).toMatch(/^medchain_checkpoint_disagreements [1-9]/m);

    const verifier = new InlineSignatureVerifier();
    const altered = await verifyLedger({ path: join(dir, 'ledger.db'), personality: peers[2]!.runtime, verifier, limits: peers[2]!.limits });
    expect(altered.ok).toBe(false);
    const honest = await verifyLedger({ path: peers[1]!.ledger.store.db.name, personality: peers[1]!.runtime, verifier, limits: peers[1]!.limits });
    expect(honest.ok).toBe(true);
  }, 40_000);
});
