import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createContractRuntime } from '../../src/contracts/index.js';
import { Ed25519Signer, generateIdentity } from '../../src/crypto/index.js';
import { demoGenesis, demoHandle, demoIdentity, demoPeople, seedDemo } from '../../src/demo/index.js';
import {
  BlockExecutor,
  signProposal,
  SqliteStore,
  txRootOf,
  verifyCheckpoint,
  verifyLedger,
  InlineSignatureVerifier,
  parseSignedTx,
  type BlockProposal,
  type ProposalHeader,
} from '../../src/ledger/index.js';
import { Actor, admin, LEAD, openTestNode, stateSnapshot } from '../helpers/test-node.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function testNode(overrides = {}) {
  const t = await openTestNode(overrides);
  cleanups.push(t.cleanup);
  return t;
}

const limits = demoGenesis().limits;
const leadNode = demoIdentity(demoHandle.node(LEAD));

/** A fresh store holding only block 0 of the demo genesis, and an executor over it. */
function genesisStore() {
  const runtime = createContractRuntime();
  const store = new SqliteStore({ path: ':memory:', indexes: runtime.indexes, synchronous: 'off' });
  const executor = new BlockExecutor(store, runtime, demoGenesis().chainId);
  const block0 = executor.executeGenesis(demoGenesis(), demoGenesis().time);
  store.commitBlock(block0);
  cleanups.push(() => store.close());
  return { store, executor, runtime };
}

function proposal(store: SqliteStore, txs: ReturnType<typeof parseSignedTx>[], overrides: Partial<ProposalHeader> = {}, signer = leadNode): BlockProposal {
  const head = store.head()!;
  const header: ProposalHeader = {
    chain: demoGenesis().chainId,
    height: head.height + 1,
    prevHash: head.hash,
    time: demoGenesis().time + 60_000 * (head.height + 1),
    proposer: signer.did,
    txRoot: txRootOf(txs.map((t) => t.id)),
    txCount: txs.length,
    ...overrides,
  };
  return { header, proposerSig: signProposal(header, new Ed25519Signer(signer.signing.seed)), txs };
}

/** Txs valid at the synthetic block times used with `proposal`. */
function enrolTx(staffId: string) {
  const t0 = demoGenesis().time;
  return parseSignedTx(
    admin(LEAD).tx('identity', 'enrolStaff', { staffId, name: staffId, roles: ['doctor'], key: generateIdentity().did }, { notBefore: t0, notAfter: t0 + 3_600_000 }),
    limits,
  );
}

describe('submit and commit', () => {
  it('resolves only once the block is in the store, with the tx at its receipt position', async () => {
    const { node } = await testNode();
    const receipt = await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'dr-1', name: 'a', roles: ['doctor'], key: generateIdentity().did }));
    expect(node.ledger.store.getBlock(receipt.height)?.hash).toBe(receipt.blockHash);
    expect(node.ledger.store.getTx(receipt.id)).toMatchObject({ height: receipt.height, index: receipt.index });
  });

  it('batches many concurrent txs into few blocks and answers every one', async () => {
    const { node } = await testNode();
    const h0 = node.ledger.head().height;
    const txs = Array.from({ length: 1500 }, (_, i) =>
      admin(LEAD).tx('identity', 'enrolStaff', { staffId: `dr-${i}`, name: `d${i}`, roles: ['doctor'], key: generateIdentity().did }),
    );
    const receipts = await Promise.all(txs.map((t) => node.submit(t)));
    expect(receipts.every((r) => r.result.status === 'ok')).toBe(true);
    const blocks = node.ledger.head().height - h0;
    expect(blocks).toBeLessThan(100);
    expect(new Set(receipts.map((r) => `${r.height}:${r.index}`)).size).toBe(1500);
  });

  it('signs a checkpoint every N blocks that verifies and breaks when altered', async () => {
    const { node } = await testNode({ checkpointInterval: 2 });
    for (let i = 0; i < 4; i++) await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: `dr-${i}`, name: 'x', roles: ['doctor'], key: generateIdentity().did }));
    const cps = node.ledger.checkpoints();
    expect(cps.length).toBeGreaterThanOrEqual(2);
    for (const c of cps) {
      expect(c.height % 2).toBe(0);
      expect(verifyCheckpoint(c)).toBe(true);
      expect(c.blockHash).toBe(node.ledger.store.getBlock(c.height)!.hash);
      expect(verifyCheckpoint({ ...c, stateHash: c.stateHash.replace(/^./, c.stateHash[0] === 'a' ? 'b' : 'a') })).toBe(false);
    }
  });

  it('keeps every version of a key in its history', async () => {
    const { node } = await testNode();
    const key = generateIdentity().did;
    await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'dr-h', name: 'h', roles: ['doctor'], key }));
    await node.submit(admin(LEAD).tx('identity', 'setStaffRoles', { staffId: 'dr-h', roles: ['doctor', 'emergency'] }));
    await node.submit(admin(LEAD).tx('identity', 'revokeStaff', { staffId: 'dr-h' }));
    const history = node.ledger.store.history(`id/staff/${LEAD}/dr-h`);
    expect(history.map((h) => JSON.parse(h.value!).status)).toEqual(['revoked', 'active', 'active']);
    expect(JSON.parse(history[1]!.value!).roles).toEqual(['doctor', 'emergency']);
  });
});

describe('execution of proposals', () => {
  it('keeps an invalid tx in the block with its code and applies the valid ones', () => {
    const { store, executor } = genesisStore();
    const txs = [enrolTx('dr-a'), enrolTx('dr-b'), enrolTx('dr-c')];
    const p = proposal(store, txs);
    executor.checkProposal(p, store.head()!);
    const block = executor.execute(p, store.head()!, [true, false, true]);
    expect(block.results.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'TX_BAD_SIGNATURE', 'ok']);
    expect(block.writes.some((w) => w.txIndex === 1)).toBe(false);
    store.commitBlock(block);
    expect(store.blockTxs(1)).toHaveLength(3);
    expect(JSON.parse(store.blockTxs(1)[1]!.result)).toMatchObject({ status: 'error', code: 'TX_BAD_SIGNATURE' });
    expect(store.getRaw(`id/staff/${LEAD}/dr-b`)).toBeUndefined();
  });

  it('records a duplicate inside one block and across blocks', () => {
    const { store, executor } = genesisStore();
    const tx = enrolTx('dr-dup');
    const first = executor.execute(proposal(store, [tx, tx]), store.head()!, [true, true]);
    expect(first.results.map((r) => r.status === 'ok' || r.code)).toEqual([true, 'TX_DUPLICATE']);
    store.commitBlock(first);
    const second = executor.execute(proposal(store, [tx]), store.head()!, [true]);
    expect(second.results[0]).toMatchObject({ status: 'error', code: 'TX_DUPLICATE' });
  });

  it('records txs outside their validity window at block time', () => {
    const { store, executor } = genesisStore();
    const t0 = demoGenesis().time;
    const late = parseSignedTx(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'dr-late', name: 'l', roles: ['doctor'], key: generateIdentity().did }, { notBefore: t0 - 7_200_000, notAfter: t0 - 3_600_000 }), limits);
    const early = parseSignedTx(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'dr-early', name: 'e', roles: ['doctor'], key: generateIdentity().did }, { notBefore: t0 + 7_200_000 }), limits);
    const block = executor.execute(proposal(store, [late, early]), store.head()!, [true, true]);
    expect(block.results.map((r) => r.status === 'error' && r.code)).toEqual(['TX_EXPIRED', 'TX_NOT_YET_VALID']);
  });

  it('rejects whole proposals that do not extend the head or are not properly signed', () => {
    const { store, executor } = genesisStore();
    const head = store.head()!;
    const txs = [enrolTx('dr-p')];
    const stranger = generateIdentity();
    const cases: Array<[string, BlockProposal]> = [
      ['wrong height', proposal(store, txs, { height: 5 })],
      ['wrong prevHash', proposal(store, txs, { prevHash: 'f'.repeat(64) })],
      ['time going backwards', proposal(store, txs, { time: head.time - 1 })],
      ['wrong txRoot', proposal(store, txs, { txRoot: txRootOf([]) })],
      ['wrong txCount', proposal(store, txs, { txCount: 2 })],
      ['wrong chain', proposal(store, txs, { chain: 'elsewhere' })],
      ['proposer not a node key', proposal(store, txs, {}, stranger)],
      ['an admin key is not a node key', proposal(store, txs, {}, demoIdentity(demoHandle.admin(LEAD)))],
    ];
    const forged = proposal(store, txs);
    cases.push(['bad proposer signature', { ...forged, header: { ...forged.header, time: forged.header.time + 1 } }]);
    for (const [name, p] of cases) expect(() => executor.checkProposal(p, head), name).toThrow(expect.objectContaining({ code: 'PROPOSAL_REJECTED' }));
    expect(() => executor.checkProposal(proposal(store, txs), head)).not.toThrow();
  });

  it('is deterministic: two peers executing the same proposals reach the same hashes', () => {
    const a = genesisStore();
    const b = genesisStore();
    for (let round = 0; round < 3; round++) {
      const txs = [enrolTx(`dr-${round}-a`), enrolTx(`dr-${round}-b`)];
      const pa = proposal(a.store, txs);
      const blockA = a.executor.execute(pa, a.store.head()!, [true, true]);
      const blockB = b.executor.execute(pa, b.store.head()!, [true, true]);
      expect(blockB.hash).toBe(blockA.hash);
      expect(blockB.header.stateHash).toBe(blockA.header.stateHash);
      a.store.commitBlock(blockA);
      b.store.commitBlock(blockB);
    }
    const dump = (s: SqliteStore) => JSON.stringify(s.db.prepare('SELECT * FROM state ORDER BY key').all());
    expect(dump(b.store)).toBe(dump(a.store));
  });
});

describe('the demo ledger', () => {
  it('verifies, and holds no personal data of any demo person anywhere in the database', async () => {
    const { node, dir } = await testNode();
    await seedDemo(node);
    const state = stateSnapshot(node);
    expect(state.length).toBeGreaterThan(1000);
    await node.close();
    const verifier = new InlineSignatureVerifier();
    const report = await verifyLedger({ path: join(dir, 'ledger.db'), personality: createContractRuntime(), verifier, limits });
    expect(report).toMatchObject({ ok: true });

    const db = new Database(join(dir, 'ledger.db'), { readonly: true });
    const everything: string[] = [];
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>) {
      for (const row of db.prepare(`SELECT * FROM ${name}`).all() as Array<Record<string, unknown>>) {
        for (const v of Object.values(row)) everything.push(Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
      }
    }
    db.close();
    const haystack = everything.join('\n');
    const people = demoPeople();
    expect(people.length).toBeGreaterThanOrEqual(50);
    for (const p of people) {
      for (const secret of [p.name, p.nameEn, p.nationalId, p.phone, p.address]) {
        expect(haystack.includes(secret), `${secret} must not be on the ledger`).toBe(false);
      }
      expect(haystack.includes(p.patientId)).toBe(true);
    }
    expect(readdirSync(dir)).toContain('ledger.db');
  }, 60_000);
});

describe('refused txs', () => {
  it('a duplicate submitted concurrently is admitted once', async () => {
    const { node } = await testNode();
    const tx = admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'dr-c', name: 'c', roles: ['doctor'], key: generateIdentity().did });
    const results = await Promise.allSettled([node.submit(tx), node.submit(tx), node.submit(tx)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'TX_DUPLICATE' });
  });

  it('a node key cannot act as an institution admin', async () => {
    const { node } = await testNode();
    const before = stateSnapshot(node);
    const r = await node.submit(new Actor(demoIdentity(demoHandle.node(LEAD))).tx('identity', 'enrolStaff', { staffId: 'xx', name: 'x', roles: ['admin'], key: generateIdentity().did }));
    expect(r.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    expect(stateSnapshot(node)).toBe(before);
  });
});

describe('verify after damage', () => {
  it('names the first bad height for damaged headers, txs, results, state, history and index rows', async () => {
    const { node, dir } = await testNode();
    const receipts = [];
    for (let i = 0; i < 4; i++) {
      receipts.push(await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: `dr-${i}`, name: `d${i}`, roles: ['doctor'], key: generateIdentity().did })));
    }
    const target = receipts[1]!.height;
    await node.close();
    const key = `id/staff/${LEAD}/dr-1`;
    const damages: Array<[string, string]> = [
      ['header', `UPDATE blocks SET header = replace(header, '"height":${target}', '"height":${target}0') WHERE height = ${target}`],
      ['block hash', `UPDATE blocks SET hash = '${'0'.repeat(64)}' WHERE height = ${target}`],
      ['tx body', `UPDATE txs SET body = replace(body, '"d1"', '"d9"') WHERE height = ${target}`],
      ['tx result', `UPDATE txs SET result = replace(result, '"ok"', '"error"') WHERE height = ${target}`],
      ['tx id', `UPDATE txs SET id = zeroblob(32) WHERE height = ${target}`],
      ['deleted tx', `DELETE FROM txs WHERE height = ${target}`],
      ['state value', `UPDATE state SET value = replace(value, '"d1"', '"d9"') WHERE key = '${key}'`],
      ['state version', `UPDATE state SET height = height + 1 WHERE key = '${key}'`],
      ['deleted state row', `DELETE FROM state WHERE key = '${key}'`],
      ['history row', `UPDATE history SET value = replace(value, '"d1"', '"d9"') WHERE key = '${key}'`],
      ['index row', `DELETE FROM idx WHERE key = '${key}'`],
    ];
    const verifier = new InlineSignatureVerifier();
    for (const [what, sql] of damages) {
      const copy = mkdtempSync(join(tmpdir(), 'medchain-damage-'));
      cleanups.push(() => rmSync(copy, { recursive: true, force: true }));
      const db = new Database(join(dir, 'ledger.db'), { readonly: true });
      await db.backup(join(copy, 'ledger.db'));
      db.close();
      const damaged = new Database(join(copy, 'ledger.db'));
      expect(damaged.prepare(sql).run().changes, what).toBeGreaterThan(0);
      damaged.close();
      const report = await verifyLedger({ path: join(copy, 'ledger.db'), personality: createContractRuntime(), verifier, limits });
      expect(report.ok, what).toBe(false);
      expect(report.firstBadHeight, `${what}: ${report.problem}`).toBe(target);
    }
  });
});
