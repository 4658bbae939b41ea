import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Ed25519Signer, generateIdentity } from '../../src/crypto/index.js';
import { createContractRuntime } from '../../src/contracts/index.js';
import { DEMO_INSTITUTIONS, demoGenesis, demoHandle, demoIdentity } from '../../src/demo/index.js';
import {
  blockHash,
  CodedError,
  hashWrites,
  InlineSignatureVerifier,
  Ledger,
  parseSignedTx,
  ProposalRejected,
  signTx,
  SqliteStore,
  txRootOf,
  verifyCheckpoint,
  verifyInclusion,
  type BlockProposal,
  type Checkpoint,
  type Receipt,
  type Sequencer,
  type SequencerHost,
  type SignedTx,
} from '../../src/ledger/index.js';
import { verifyProposalSignature } from '../../src/ledger/block.js';
import type { MedchainNode } from '../../src/node/index.js';
import {
  buildProposal,
  CHAIN,
  derivedTables,
  GENESIS_TIME,
  genesisLedger,
  LEAD_NODE,
  LIMITS,
  signaturesOf,
  tempDir,
  verifyDb,
} from '../helpers/ledger-fixtures.js';
import { Actor, admin, LEAD, openTestNode, staff } from '../helpers/test-node.js';

const BAISHI = 'baishi-health-centre';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function testNode(overrides: Parameters<typeof openTestNode>[0] = {}) {
  const t = await openTestNode(overrides);
  cleanups.push(t.cleanup);
  return t;
}

const enrolArgs = (staffId: string, roles: string[] = ['doctor'], key = generateIdentity().did) => ({ staffId, name: staffId, roles, key });
const enrolTx = (staffId: string, extra = {}) => admin(LEAD).tx('identity', 'enrolStaff', enrolArgs(staffId), extra);
const okResult = (r: Receipt) => expect(r.result, JSON.stringify(r.result)).toMatchObject({ status: 'ok' });
const countRows = (node: MedchainNode, table: string) => (node.ledger.store.db.prepare(`SELECT COUNT(*) AS c FROM ${table}`).get() as { c: number }).c;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function codeOfRejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CodedError);
    return (err as CodedError).code;
  }
  throw new Error('expected the submission to be refused');
}

/** Every secondary-index row the contracts' index specs imply for the current state, in table order. */
function expectedIndexRows(node: MedchainNode): string[] {
  const rows: string[] = [];
  for (const spec of node.runtime.indexes) {
    for (const { key, value } of node.ledger.store.rangeRaw(spec.prefix, { limit: 10_000 })) {
      for (const term of new Set(spec.terms(JSON.parse(value)))) rows.push(JSON.stringify([spec.name, term, key]));
    }
  }
  return rows.sort();
}
function actualIndexRows(node: MedchainNode): string[] {
  return (node.ledger.store.db.prepare('SELECT name, term, key FROM idx').raw().all() as string[][]).map((r) => JSON.stringify(r)).sort();
}

describe('submit and commit', () => {
  it('resolves only once the block is committed: another connection already sees block and tx', async () => {
    const { node, dir } = await testNode();
    const reader = new Database(join(dir, 'ledger.db'), { readonly: true });
    cleanups.push(() => void reader.close());
    const h0 = node.ledger.head().height;
    const seen = await node.submit(enrolTx('dr-durable')).then((receipt) => ({
      receipt,
      block: reader.prepare('SELECT hash FROM blocks WHERE height = ?').get(receipt.height) as { hash: string } | undefined,
      tx: reader.prepare('SELECT height, idx, result FROM txs WHERE id = ?').get(Buffer.from(receipt.id, 'hex')) as
        | { height: number; idx: number; result: string }
        | undefined,
      state: reader.prepare('SELECT height FROM state WHERE key = ?').get(`id/staff/${LEAD}/dr-durable`) as { height: number } | undefined,
      head: node.ledger.head().height,
    }));
    okResult(seen.receipt);
    expect(seen.receipt.height).toBe(h0 + 1);
    expect(seen.block?.hash).toBe(seen.receipt.blockHash);
    expect(seen.tx).toMatchObject({ height: seen.receipt.height, idx: seen.receipt.index });
    expect(JSON.parse(seen.tx!.result)).toEqual(seen.receipt.result);
    expect(seen.state?.height).toBe(seen.receipt.height);
    expect(seen.head).toBe(seen.receipt.height);
  });

  it('answers only once the block is on disk: a committed block whose log fsync is pending has no receipt yet', async () => {
    const { node } = await testNode();
    const store = node.ledger.store;
    const realSync = store.sync.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.sync = () => gate.then(realSync);
    const h0 = node.ledger.head().height;
    let answered = false;
    const submitted = node.submit(enrolTx('dr-fsync')).then((r) => ((answered = true), r));
    const blocks: number[] = [];
    node.ledger.on('block', (b: { header: { height: number } }) => blocks.push(b.header.height));
    while (node.ledger.head().height === h0) await sleep(2);
    // Committed (visible to readers, the next block may build on it) but not yet acknowledged nor announced.
    expect(store.getBlock(h0 + 1)).toBeDefined();
    await sleep(50);
    expect(answered).toBe(false);
    expect(blocks).toEqual([]);
    release();
    okResult(await submitted);
    expect(blocks).toEqual([h0 + 1]);
    store.sync = realSync;
  });

  it('each receipt is provable: inclusion proof against the txRoot of a signed header that hashes to the block hash', async () => {
    const { node } = await testNode();
    const receipts = await Promise.all(Array.from({ length: 7 }, (_, i) => node.submit(enrolTx(`dr-proof-${i}`))));
    expect(new Set(receipts.map((r) => r.height)).size).toBeLessThan(7);
    for (const r of receipts) {
      const block = node.ledger.store.getBlock(r.height)!;
      const proof = node.ledger.proof(r.id);
      expect(proof).toMatchObject({ txId: r.id, height: r.height, index: r.index, blockHash: r.blockHash, txRoot: block.header.txRoot, treeSize: block.header.txCount });
      expect(verifyInclusion(Buffer.from(r.id, 'hex'), proof.index, proof.treeSize, proof.path.map((p) => Buffer.from(p, 'hex')), Buffer.from(proof.txRoot, 'hex'))).toBe(true);
      expect(blockHash(block.header)).toBe(r.blockHash);
      const { proposerSig, resultsHash: _r, writesHash: _w, stateHash: _s, ...proposal } = block.header;
      expect(verifyProposalSignature(proposal, proposerSig)).toBe(true);
      expect(block.header.proposer).toBe(LEAD_NODE.did);
    }
    expect(() => node.ledger.proof('0'.repeat(64))).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('batches 2,000 concurrent submissions into far fewer blocks, answering every one with its own position', async () => {
    const { node } = await testNode();
    const h0 = node.ledger.head().height;
    const txsBefore = countRows(node, 'txs');
    const signer = admin(LEAD);
    const txs = Array.from({ length: 2000 }, (_, i) => signer.tx('identity', 'enrolStaff', enrolArgs(`dr-${i}`)));
    const receipts = await Promise.all(txs.map((t) => node.submit(t)));
    expect(receipts.filter((r) => r.result.status !== 'ok')).toEqual([]);
    const blocks = node.ledger.head().height - h0;
    expect(blocks).toBeGreaterThanOrEqual(1);
    expect(blocks).toBeLessThan(100);
    expect(new Set(receipts.map((r) => `${r.height}:${r.index}`)).size).toBe(2000);
    expect(countRows(node, 'txs') - txsBefore).toBe(2000);
    let total = 0;
    for (let h = h0 + 1; h <= h0 + blocks; h++) total += node.ledger.store.getBlock(h)!.header.txCount;
    expect(total).toBe(2000);
    for (const r of receipts.filter((_, i) => i % 97 === 0)) expect(node.ledger.store.blockTxs(r.height)[r.index]!.id).toBe(r.id);
    expect((node.query('identity', 'staffOf', { institution: LEAD, limit: 1000 }) as unknown[]).length).toBe(1000);
  });
});

describe('admission', () => {
  it('refuses a duplicate after commit and when submitted twice concurrently; the tx is stored once', async () => {
    const { node } = await testNode();
    const tx = enrolTx('dr-dup');
    const [first, second] = await Promise.allSettled([node.submit(tx), node.submit(tx)]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    expect((second as PromiseRejectedResult).reason).toMatchObject({ code: 'TX_DUPLICATE' });
    const height = node.ledger.head().height;
    expect(await codeOfRejection(node.submit(tx))).toBe('TX_DUPLICATE');
    // A re-spelled copy (keys reordered) is the same tx.
    const reordered = JSON.parse(JSON.stringify({ tx: Object.fromEntries(Object.entries(tx.tx).reverse()), sig: tx.sig })) as SignedTx;
    expect(await codeOfRejection(node.submit(reordered))).toBe('TX_DUPLICATE');
    const id = (first as PromiseFulfilledResult<Receipt>).value.id;
    expect(node.ledger.store.db.prepare('SELECT COUNT(*) AS c FROM txs WHERE id = ?').get(Buffer.from(id, 'hex'))).toEqual({ c: 1 });
    await sleep(20);
    expect(node.ledger.head().height).toBe(height);
  });

  it('refuses invalid txs before sequencing: the head does not move and nothing is written', async () => {
    const { node } = await testNode();
    const now = Date.now();
    const lead = admin(LEAD);
    const stranger = generateIdentity();
    const good = enrolTx('dr-good');
    const cases: Array<[string, unknown]> = [
      ['TX_EXPIRED', enrolTx('dr-a', { notBefore: now - 7_200_000, notAfter: now - 3_600_000 })],
      ['TX_NOT_YET_VALID', enrolTx('dr-b', { notBefore: now + 3_600_000, notAfter: now + 3_700_000 })],
      ['TX_BAD_SIGNATURE', { ...enrolTx('dr-c'), sig: good.sig }],
      // Signed with a key other than the one it names.
      ['TX_BAD_SIGNATURE', signTx({ chain: CHAIN, contract: 'identity', method: 'enrolStaff', args: enrolArgs('dr-d') }, lead.did, new Ed25519Signer(stranger.signing.seed))],
      ['TX_WRONG_CHAIN', lead.tx('identity', 'enrolStaff', enrolArgs('dr-e'), { chain: 'another-county' })],
      ['UNKNOWN_CONTRACT', lead.tx('billing', 'enrolStaff', enrolArgs('dr-f'))],
      ['UNKNOWN_METHOD', lead.tx('identity', 'mintCoins', {})],
      ['UNKNOWN_METHOD', lead.tx('identity', 'patientsOf', { institution: LEAD })], // a query is not a method
      ['INVALID_ARGS', lead.tx('identity', 'enrolStaff', enrolArgs('dr-g', ['surgeon-general']))],
      ['INVALID_ARGS', lead.tx('identity', 'enrolStaff', { staffId: 'dr-h', roles: ['doctor'] })],
      ['INVALID_ARGS', lead.tx('identity', 'enrolStaff', { ...enrolArgs('dr-i'), name: '张三', nationalId: '110101199003077777' })],
      ['TX_MALFORMED', { sig: good.sig, tx: { ...good.tx, nonce: undefined } }],
      ['TX_MALFORMED', { tx: good.tx }],
      ['TX_TOO_LARGE', lead.tx('identity', 'enrolStaff', { ...enrolArgs('dr-j'), name: 'x'.repeat(LIMITS.maxTxBytes) })],
      ['TX_VALIDITY_TOO_LONG', enrolTx('dr-k', { notBefore: now - 1000, notAfter: now + LIMITS.maxValidityMs })],
    ];
    const height = node.ledger.head().height;
    const tables = derivedTables(node.ledger.store.db);
    const blocks = countRows(node, 'blocks');
    for (const [code, input] of cases) {
      expect(await codeOfRejection(node.submit(input)), code).toBe(code);
    }
    await sleep(25);
    expect(node.ledger.head().height).toBe(height);
    expect(countRows(node, 'blocks')).toBe(blocks);
    expect(countRows(node, 'txs')).toBe(0);
    expect(derivedTables(node.ledger.store.db)).toEqual(tables);
    expect(node.ledger.pendingCount()).toBe(0);
    // The node still works.
    okResult(await node.submit(good));
    expect(node.ledger.head().height).toBe(height + 1);
  });
});

describe('execution', () => {
  it('a tx refused by the contract stays in its block with its code and writes nothing', async () => {
    const { node } = await testNode();
    const pharmacist = new Actor(generateIdentity());
    okResult(await node.submit(admin(LEAD).tx('identity', 'enrolStaff', enrolArgs('ph-1', ['pharmacist'], pharmacist.did))));
    const before = derivedTables(node.ledger.store.db);
    const h0 = node.ledger.head().height;
    for (const [actor, code] of [
      [pharmacist, 'FORBIDDEN'],
      [new Actor(generateIdentity()), 'UNKNOWN_SIGNER'],
    ] as const) {
      const receipt = await node.submit(actor.tx('identity', 'registerPatient', { patientId: `P${'A'.repeat(26)}` }));
      expect(receipt.result).toMatchObject({ status: 'error', code });
      const row = node.ledger.store.blockTxs(receipt.height)[receipt.index]!;
      expect(row.id).toBe(receipt.id);
      expect(JSON.parse(row.result)).toEqual(receipt.result);
      expect(node.ledger.store.getBlock(receipt.height)!.header.writesHash).toBe(hashWrites([]));
    }
    expect(node.ledger.head().height).toBe(h0 + 2);
    expect(derivedTables(node.ledger.store.db)).toEqual(before);
  });

  it('a tx that fails after it began writing leaves none of its writes behind', async () => {
    // The decisive vote on an admission writes the institution and its node key, then fails registering an admin
    // key that was enrolled elsewhere meanwhile: the whole vote, and every write it made, must be discarded.
    const { node } = await testNode();
    const members = DEMO_INSTITUTIONS.map((i) => i.id);
    const candidateAdmin = generateIdentity().did;
    const candidate = { id: 'dongpo-clinic', name: '东坡村卫生室', type: 'clinic', endpoint: 'http://127.0.0.1:8090', nodeKey: generateIdentity().did, admins: [candidateAdmin] };
    const proposal = await node.submit(admin(members[0]!).tx('identity', 'proposeAdmission', { institution: candidate }));
    okResult(proposal);
    for (let i = 1; i < 6; i++) okResult(await node.submit(admin(members[i]!).tx('identity', 'vote', { proposal: proposal.id, approve: true })));
    okResult(await node.submit(admin(LEAD).tx('identity', 'enrolStaff', enrolArgs('dr-taken', ['doctor'], candidateAdmin))));
    const before = derivedTables(node.ledger.store.db);
    const decisive = await node.submit(admin(members[6]!).tx('identity', 'vote', { proposal: proposal.id, approve: true }));
    expect(decisive.result).toMatchObject({ status: 'error', code: 'KEY_IN_USE' });
    expect(derivedTables(node.ledger.store.db)).toEqual(before);
    expect(node.ledger.store.getRaw(`id/key/${candidate.nodeKey}`)).toBeUndefined();
    expect(node.ledger.store.getRaw('id/inst/dongpo-clinic')).toBeUndefined();
  });

  it('a tx with a bad signature that bypassed admission is recorded as TX_BAD_SIGNATURE and writes nothing', async () => {
    const { store, executor, head } = genesisLedger();
    cleanups.push(() => store.close());
    const window = { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 };
    const lead = admin(LEAD);
    const txs = ['dr-a', 'dr-forged', 'dr-c'].map((id) => parseSignedTx(lead.tx('identity', 'enrolStaff', enrolArgs(id), window), LIMITS));
    // Same envelope, someone else's (well-formed) signature.
    txs[1] = parseSignedTx({ tx: txs[1]!.signed.tx, sig: txs[0]!.signed.sig }, LIMITS);
    const proposal = buildProposal(head(), txs);
    executor.checkProposal(proposal, head());
    const signatureOk = await signaturesOf(txs);
    expect(signatureOk).toEqual([true, false, true]);
    const block = executor.execute(proposal, head(), signatureOk);
    expect(block.results.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'TX_BAD_SIGNATURE', 'ok']);
    expect(block.writes.length).toBeGreaterThan(0);
    expect(block.writes.filter((w) => w.txIndex === 1)).toEqual([]);
    store.commitBlock(block);
    expect(store.blockTxs(1).map((t) => t.id)).toEqual(txs.map((t) => t.id));
    expect(JSON.parse(store.blockTxs(1)[1]!.result)).toMatchObject({ status: 'error', code: 'TX_BAD_SIGNATURE' });
    expect(store.getRaw(`id/staff/${LEAD}/dr-a`)).toBeDefined();
    expect(store.getRaw(`id/staff/${LEAD}/dr-forged`)).toBeUndefined();
    expect(store.getRaw(`id/staff/${LEAD}/dr-c`)).toBeDefined();
  });

  it('records duplicates and txs outside their window at block time, and later txs see earlier writes of the block', async () => {
    const { store, executor, head } = genesisLedger();
    cleanups.push(() => store.close());
    const t = GENESIS_TIME + 60_000; // buildProposal's block time for block 1
    const doctor = new Actor(generateIdentity());
    const lead = admin(LEAD);
    const enrol = parseSignedTx(lead.tx('identity', 'enrolStaff', enrolArgs('dr-new', ['doctor'], doctor.did), { notBefore: t - 1000, notAfter: t + 1000 }), LIMITS);
    const byNewDoctor = parseSignedTx(doctor.tx('identity', 'registerPatient', { patientId: `P${'B'.repeat(26)}` }, { notBefore: t, notAfter: t }), LIMITS);
    const expired = parseSignedTx(lead.tx('identity', 'enrolStaff', enrolArgs('dr-late'), { notBefore: t - 2000, notAfter: t - 1 }), LIMITS);
    const early = parseSignedTx(lead.tx('identity', 'enrolStaff', enrolArgs('dr-early'), { notBefore: t + 1, notAfter: t + 2000 }), LIMITS);
    const txs = [enrol, byNewDoctor, enrol, expired, early];
    const block = executor.execute(buildProposal(head(), txs), head(), await signaturesOf(txs));
    expect(block.results.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'ok', 'TX_DUPLICATE', 'TX_EXPIRED', 'TX_NOT_YET_VALID']);
    store.commitBlock(block);
    const again = executor.execute(buildProposal(head(), [byNewDoctor], { time: t }), head(), [true]);
    expect(again.results[0]).toMatchObject({ status: 'error', code: 'TX_DUPLICATE' });
  });

  it('commits a run of proposals in one transaction as consecutive blocks, leaving out a rejected one', async () => {
    const runtime = createContractRuntime();
    const t = tempDir();
    cleanups.push(() => t.remove());
    const path = join(t.dir, 'ledger.db');
    const store = new SqliteStore({ path, indexes: runtime.indexes, historyExempt: runtime.historyExempt, stateLayout: runtime.stateLayout });
    let host: SequencerHost | undefined;
    const sequencer: Sequencer = { kind: 'captured', start: async (h) => void (host = h), enqueue: () => undefined, pending: () => 0, stop: async () => [] };
    const ledger = await Ledger.open(
      { chain: CHAIN, store, personality: runtime, sequencer, verifier: new InlineSignatureVerifier(), limits: LIMITS, node: { did: LEAD_NODE.did, signer: new Ed25519Signer(LEAD_NODE.signing.seed) } },
      { document: demoGenesis(), time: GENESIS_TIME },
    );
    const window = { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 };
    const txs = ['dr-g1', 'dr-g2', 'dr-g3'].map((id) => parseSignedTx(enrolTx(id, window), LIMITS));
    const h = ledger.head();
    const outcomes = await host!.commitMany([
      buildProposal(h, [txs[0]!], { slot: h.slot + 1 }),
      buildProposal(h, [txs[1]!], { slot: h.slot + 2 }, generateIdentity()), // not a member's node key
      buildProposal(h, [txs[2]!], { slot: h.slot + 3 }),
    ]);
    expect(outcomes.map((o) => o?.code)).toEqual([undefined, 'PROPOSAL_REJECTED', undefined]);
    expect(ledger.head().height).toBe(h.height + 2);
    const [b1, b2] = [store.getBlock(h.height + 1)!, store.getBlock(h.height + 2)!];
    expect([b1.header.slot, b2.header.slot]).toEqual([h.slot + 1, h.slot + 3]);
    expect([b1.header.prevHash, b2.header.prevHash]).toEqual([h.hash, b1.hash]);
    expect(store.getRaw(`id/staff/${LEAD}/dr-g2`)).toBeUndefined();
    expect(store.getRaw(`id/staff/${LEAD}/dr-g3`)).toBeDefined();
    await ledger.close();
    expect(await verifyDb(path)).toMatchObject({ ok: true, headHeight: h.height + 2 });
  });

  it("another peer's rejected proposal does not fail the waiters of this node's txs in it; its own rejected proposal does", async () => {
    const runtime = createContractRuntime();
    const t = tempDir();
    cleanups.push(() => t.remove());
    const store = new SqliteStore({ path: join(t.dir, 'ledger.db'), indexes: runtime.indexes, historyExempt: runtime.historyExempt, stateLayout: runtime.stateLayout });
    let host: SequencerHost | undefined;
    const sequencer: Sequencer = { kind: 'captured', start: async (h) => void (host = h), enqueue: () => undefined, pending: () => 0, stop: async () => [] };
    const ledger = await Ledger.open(
      { chain: CHAIN, store, personality: runtime, sequencer, verifier: new InlineSignatureVerifier(), limits: LIMITS, node: { did: LEAD_NODE.did, signer: new Ed25519Signer(LEAD_NODE.signing.seed) }, now: () => GENESIS_TIME + 1000 },
      { document: demoGenesis(), time: GENESIS_TIME },
    );
    const window = { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 };
    const [forwarded, own] = [enrolTx('dr-r1', window), enrolTx('dr-r2', window)];
    const settled: string[] = [];
    const waiting = [forwarded, own].map((tx, i) =>
      ledger.submit(tx).then(
        (r) => void settled.push(`${i}:${r.result.status}`),
        (err: CodedError) => void settled.push(`${i}:${err.code}`),
      ),
    );
    await new Promise((r) => setTimeout(r, 10));
    const [fwdTx, ownTx] = [parseSignedTx(forwarded, LIMITS), parseSignedTx(own, LIMITS)];
    const h = ledger.head();
    // Another member's proposal holding our tx, rejected (time going backwards): our tx still waits for a block.
    const [rejected] = await host!.commitMany([buildProposal(h, [fwdTx], { slot: h.slot + 1, time: h.time - 1 }, demoIdentity(demoHandle.node(BAISHI)))]);
    expect(rejected?.code).toBe('PROPOSAL_REJECTED');
    // Our own rejected proposal: its tx is lost with it, and its submitter is told why.
    const [ownRejected] = await host!.commitMany([buildProposal(h, [ownTx], { slot: h.slot + 2, time: h.time - 1 })]);
    expect(ownRejected?.code).toBe('PROPOSAL_REJECTED');
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toEqual(['1:PROPOSAL_REJECTED']);
    await host!.commitMany([buildProposal(h, [fwdTx], { slot: h.slot + 3 })]);
    await Promise.all(waiting);
    expect(settled).toEqual(['1:PROPOSAL_REJECTED', '0:ok']);
    await ledger.close();
  });

  it('rejects whole proposals that do not extend the head or are not signed by an authorized proposer', () => {
    const { store, executor, head } = genesisLedger();
    cleanups.push(() => store.close());
    const h = head();
    const txs = [parseSignedTx(enrolTx('dr-p', { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 }), LIMITS)];
    const good = buildProposal(h, txs);
    const otherMember = demoIdentity(demoHandle.node(BAISHI));
    const cases: Array<[string, BlockProposal]> = [
      ['slot equal to the head\'s', buildProposal(h, txs, { slot: h.slot })],
      ['slot before the head\'s', buildProposal(h, txs, { slot: h.slot - 1 })],
      ['fractional slot', buildProposal(h, txs, { slot: h.slot + 1.5 })],
      ['wrong txRoot', buildProposal(h, txs, { txRoot: txRootOf([]) })],
      ['txRoot covering only some of the txs', buildProposal(h, [...txs, ...txs], { txRoot: txRootOf([txs[0]!.id]) })],
      ['wrong txCount', buildProposal(h, txs, { txCount: 2 })],
      ['time going backwards', buildProposal(h, txs, { time: h.time - 1 })],
      ['fractional time', buildProposal(h, txs, { time: h.time + 0.5 })],
      ['wrong chain', buildProposal(h, txs, { chain: 'another-county' })],
      ['proposer unknown to the consortium', buildProposal(h, txs, {}, generateIdentity())],
      ['proposer an admin key, not a node key', buildProposal(h, txs, {}, demoIdentity(demoHandle.admin(LEAD)))],
      ['header changed after signing', { ...good, header: { ...good.header, time: good.header.time + 1 } }],
      ['txs swapped after signing', { ...good, txs: [parseSignedTx(enrolTx('dr-q', { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 }), LIMITS)] }],
      ['signed by another member node in the name of this one', { ...good, proposerSig: buildProposal(h, txs, { proposer: LEAD_NODE.did }, otherMember).proposerSig }],
      ['garbage signature', { ...good, proposerSig: 'A'.repeat(86) }],
      ['signature not base64url', { ...good, proposerSig: '!' }],
    ];
    for (const [what, p] of cases) {
      let error: unknown;
      try {
        executor.checkProposal(p, h);
      } catch (err) {
        error = err;
      }
      expect(error, what).toBeInstanceOf(ProposalRejected);
      expect((error as CodedError).code, what).toBe('PROPOSAL_REJECTED');
    }
    expect(() => executor.checkProposal(good, h)).not.toThrow();
    // A later slot may leave a gap (messages skipped in between); the block links to the head whatever the slot.
    const later = buildProposal(h, txs, { slot: h.slot + 7 });
    expect(() => executor.checkProposal(later, h)).not.toThrow();
    expect(executor.execute(later, h, [true]).header).toMatchObject({ height: h.height + 1, prevHash: h.hash, slot: h.slot + 7 });
    // Any active member's node key may propose; an empty block is a valid proposal.
    expect(() => executor.checkProposal(buildProposal(h, txs, {}, otherMember), h)).not.toThrow();
    expect(() => executor.checkProposal(buildProposal(h, []), h)).not.toThrow();
  });
});

describe('checkpoints, history and indexes', () => {
  it('signs a checkpoint every N blocks that verifyCheckpoint accepts, and rejects any modified field', async () => {
    const { node } = await testNode({ checkpointInterval: 2 });
    const emitted: Checkpoint[] = [];
    node.ledger.on('checkpoint', (c: Checkpoint) => emitted.push(c));
    for (let i = 0; i < 5; i++) okResult(await node.submit(enrolTx(`dr-cp-${i}`)));
    expect(node.ledger.head().height).toBe(5);
    const stored = node.ledger.checkpoints();
    expect(stored.map((c) => c.height).sort()).toEqual([2, 4]);
    expect(emitted.map((c) => c.height)).toEqual([2, 4]);
    for (const c of stored) {
      const block = node.ledger.store.getBlock(c.height)!;
      expect(c).toMatchObject({ chain: CHAIN, signer: LEAD_NODE.did, blockHash: block.hash, stateHash: block.header.stateHash });
      expect(verifyCheckpoint(c)).toBe(true);
      const flip = (h: string) => (h[0] === 'a' ? 'b' : 'a') + h.slice(1);
      const other = stored.find((o) => o.height !== c.height)!;
      const modified: Array<[string, Checkpoint]> = [
        ['height', { ...c, height: c.height + 1 }],
        ['blockHash', { ...c, blockHash: flip(c.blockHash) }],
        ['stateHash', { ...c, stateHash: flip(c.stateHash) }],
        ['chain', { ...c, chain: 'another-county' }],
        ['signer', { ...c, signer: demoIdentity(demoHandle.node(BAISHI)).did }],
        ['sig of another checkpoint', { ...c, sig: other.sig }],
        ['garbage sig', { ...c, sig: 'x' }],
        ['extra field', { ...c, note: 'forged' } as Checkpoint],
      ];
      for (const [what, m] of modified) expect(verifyCheckpoint(m), what).toBe(false);
    }
  });

  it('keeps every version of a key in its history, newest first, at the height and index that wrote it', async () => {
    const { node } = await testNode();
    const key = generateIdentity().did;
    const staffKey = `id/staff/${LEAD}/dr-h`;
    const r1 = await node.submit(admin(LEAD).tx('identity', 'enrolStaff', enrolArgs('dr-h', ['doctor'], key)));
    const r2 = await node.submit(admin(LEAD).tx('identity', 'setStaffRoles', { staffId: 'dr-h', roles: ['doctor', 'emergency'] }));
    const r3 = await node.submit(admin(LEAD).tx('identity', 'revokeStaff', { staffId: 'dr-h' }));
    [r1, r2, r3].forEach(okResult);
    const history = node.ledger.store.history(staffKey);
    expect(history.map((h) => [h.height, h.index])).toEqual([r3, r2, r1].map((r) => [r.height, r.index]));
    expect(history.map((h) => JSON.parse(h.value!) as { status: string; roles: string[] }).map((v) => [v.status, v.roles])).toEqual([
      ['revoked', ['doctor', 'emergency']],
      ['active', ['doctor', 'emergency']],
      ['active', ['doctor']],
    ]);
    expect(history[0]!.value).toBe(node.ledger.store.getRaw(staffKey));
    expect(node.ledger.store.getVersioned(staffKey)).toMatchObject({ height: r3.height, index: r3.index });
    expect(node.ledger.store.history(staffKey, 1)).toHaveLength(1);
    expect(node.ledger.store.history(`id/key/${key}`).map((h) => (JSON.parse(h.value!) as { status: string }).status)).toEqual(['revoked', 'active']);
  });

  it('keeps contract-declared indexes consistent with state (patients at two institutions, proposals changing status)', async () => {
    const { node } = await testNode();
    const registrarA = new Actor(generateIdentity());
    const registrarB = new Actor(generateIdentity());
    okResult(await node.submit(admin(LEAD).tx('identity', 'enrolStaff', enrolArgs('reg-a', ['registrar'], registrarA.did))));
    okResult(await node.submit(admin(BAISHI).tx('identity', 'enrolStaff', enrolArgs('reg-b', ['registrar'], registrarB.did))));
    const pid = `P${'C'.repeat(26)}`;
    const onlyLead = `P${'D'.repeat(26)}`;
    okResult(await node.submit(registrarA.tx('identity', 'registerPatient', { patientId: pid })));
    okResult(await node.submit(registrarA.tx('identity', 'registerPatient', { patientId: onlyLead })));
    const ids = (inst: string) => (node.query('identity', 'patientsOf', { institution: inst }) as Array<{ id: string }>).map((p) => p.id);
    expect(ids(LEAD)).toEqual([pid, onlyLead].sort());
    expect(ids(BAISHI)).toEqual([]);
    okResult(await node.submit(registrarB.tx('identity', 'registerPatient', { patientId: pid })));
    expect(ids(LEAD)).toEqual([pid, onlyLead].sort());
    expect(ids(BAISHI)).toEqual([pid]);
    expect(actualIndexRows(node)).toEqual(expectedIndexRows(node));
    // Index terms that change (a proposal going from open to passed) move the key between terms.
    const members = DEMO_INSTITUTIONS.map((i) => i.id);
    const p = await node.submit(admin(members[0]!).tx('identity', 'proposeAdmission', {
      institution: { id: 'xinhe-clinic', name: '新河村卫生室', type: 'clinic', endpoint: 'http://127.0.0.1:8092', nodeKey: generateIdentity().did, admins: [generateIdentity().did] },
    }));
    expect((node.query('identity', 'proposals', { status: 'open' }) as unknown[]).length).toBe(1);
    for (let i = 1; i < 7; i++) okResult(await node.submit(admin(members[i]!).tx('identity', 'vote', { proposal: p.id, approve: true })));
    expect(node.query('identity', 'proposals', { status: 'open' })).toEqual([]);
    expect((node.query('identity', 'proposals', { status: 'passed' }) as Array<{ id: string }>).map((x) => x.id)).toEqual([p.id]);
    okResult(await node.submit(admin(LEAD).tx('identity', 'revokeStaff', { staffId: 'reg-a' })));
    expect(actualIndexRows(node)).toEqual(expectedIndexRows(node));
    expect(actualIndexRows(node).length).toBeGreaterThan(5);
  });
});

describe('determinism', () => {
  it('two independent fresh nodes fed the same txs in the same order at a fixed time build identical blocks', async () => {
    const fixed = GENESIS_TIME + 86_400_000;
    const window = { notBefore: fixed - 60_000, notAfter: fixed + 60_000 };
    const a = await testNode({ now: () => fixed, checkpointInterval: 3 });
    const b = await testNode({ now: () => fixed, checkpointInterval: 3 });
    expect(a.dir).not.toBe(b.dir);
    const doctor = new Actor(generateIdentity());
    const txs = [
      admin(LEAD).tx('identity', 'enrolStaff', enrolArgs('dr-det', ['doctor'], doctor.did), window),
      doctor.tx('identity', 'registerPatient', { patientId: `P${'E'.repeat(26)}` }, window),
      staff(LEAD, 'nobody').tx('identity', 'registerPatient', { patientId: `P${'F'.repeat(26)}` }, window), // refused: unknown signer
      admin(BAISHI).tx('identity', 'enrolStaff', enrolArgs('dr-det', ['nurse']), window),
      doctor.tx('identity', 'rotateKey', { newKey: generateIdentity().did }, window),
    ];
    for (const tx of txs) {
      const [ra, rb] = [await a.node.submit(tx), await b.node.submit(tx)];
      expect(rb).toEqual(ra);
    }
    const dump = (node: MedchainNode) => ({
      blocks: node.ledger.store.db.prepare('SELECT height, hash, header FROM blocks ORDER BY height').all(),
      txs: node.ledger.store.db.prepare('SELECT height, idx, id, body, result FROM txs ORDER BY height, idx').all(),
      ...derivedTables(node.ledger.store.db),
      checkpoints: node.ledger.checkpoints(),
    });
    const da = dump(a.node);
    expect(da.blocks).toHaveLength(txs.length + 1);
    expect(da.checkpoints).toHaveLength(1);
    expect(dump(b.node)).toEqual(da);
  });

  it('two executors replaying the same multi-tx proposals reach the same block hashes and state', async () => {
    const a = genesisLedger();
    const b = genesisLedger();
    cleanups.push(() => a.store.close(), () => b.store.close());
    const window = { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 };
    for (let round = 0; round < 3; round++) {
      const txs = [0, 1, 2].map((i) => parseSignedTx(admin(LEAD).tx('identity', 'enrolStaff', enrolArgs(`dr-${round}-${i}`), window), LIMITS));
      txs.push(txs[0]!); // a duplicate, recorded identically by both
      const proposal = buildProposal(a.head(), txs);
      const sigs = await signaturesOf(txs);
      const blockA = a.executor.execute(proposal, a.head(), sigs);
      const blockB = b.executor.execute(proposal, b.head(), sigs);
      expect(blockB.hash).toBe(blockA.hash);
      expect(blockB.header).toEqual(blockA.header);
      a.store.commitBlock(blockA);
      b.store.commitBlock(blockB);
    }
    expect(derivedTables(b.store.db)).toEqual(derivedTables(a.store.db));
  });
});
