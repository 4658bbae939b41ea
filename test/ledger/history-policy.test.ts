import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContractRuntime } from '../../src/contracts/index.js';
import { SqliteStore } from '../../src/ledger/index.js';
import { epcisEvent, pack, PHARMACY, setupDrugChain, shipTo } from '../helpers/drug-chain.js';
import { copyLedger, tempDir, verifyDb } from '../helpers/ledger-fixtures.js';
import { openTestNode } from '../helpers/test-node.js';

/**
 * The ledger's history policy: contracts name key prefixes whose past values need no `history` rows (the drugs
 * contract: write-once event rows, and pack and shipment rows, whose changes are anchored events). The policy is fixed when a
 * database is created and recorded in it; verify replays under the stored policy, so it still checks every row.
 */

let dir: string;
let dbPath: string;

beforeAll(async () => {
  const t = await openTestNode();
  dir = t.dir;
  const chain = await setupDrugChain(t.node, 10);
  const shipped = await t.node.submit(chain.actors.maker.tx('drugs', 'capture', { event: epcisEvent('shipping', [pack(1000), pack(1001)], shipTo(PHARMACY)) }));
  expect(shipped.result).toMatchObject({ status: 'ok' });
  const received = await t.node.submit(chain.actors.pharmacist.tx('drugs', 'capture', { event: epcisEvent('receiving', [pack(1000), pack(1001)]) }));
  expect(received.result).toMatchObject({ status: 'ok' });
  await t.node.close();
  dbPath = join(dir, 'ledger.db');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const count = (db: Database.Database, sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;

describe('history policy', () => {
  it('a node keeps no history rows for exempt prefixes, every other write keeps its versions, and verify passes', async () => {
    expect(createContractRuntime().historyExempt).toEqual(['drug/ev/', 'drug/custody/', 'drug/code/', 'drug/ship/']);
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(JSON.parse((db.prepare("SELECT v FROM meta WHERE k = 'historyExempt'").get() as { v: string }).v)).toEqual(['drug/code/', 'drug/custody/', 'drug/ev/', 'drug/ship/']);
      expect(count(db, "SELECT count(*) AS n FROM state WHERE key >= 'drug/code/' AND key < 'drug/code/\x7f'")).toBe(10);
      expect(count(db, "SELECT count(*) AS n FROM state WHERE key >= 'drug/ev/' AND key < 'drug/ev/\x7f'")).toBe(3);
      expect(count(db, "SELECT count(*) AS n FROM history WHERE key >= 'drug/code/' AND key < 'drug/code/\x7f'")).toBe(0);
      expect(count(db, "SELECT count(*) AS n FROM history WHERE key >= 'drug/ev/' AND key < 'drug/ev/\x7f'")).toBe(0);
      expect(count(db, "SELECT count(*) AS n FROM state WHERE key >= 'drug/ship/' AND key < 'drug/ship/\x7f'")).toBe(1);
      // One custody step per pack and event (two packs shipped, then received), written once.
      expect(count(db, "SELECT count(*) AS n FROM state WHERE key >= 'drug/custody/' AND key < 'drug/custody/\x7f'")).toBe(4);
      expect(count(db, "SELECT count(*) AS n FROM history WHERE key >= 'drug/ship/' AND key < 'drug/ship/\x7f'")).toBe(0);
      // The stock counters (written by commissioning, shipping and receiving) keep every superseded version: the
      // maker's row from commissioning (superseded by shipping), the pharmacy's in-transit row (superseded by receiving).
      expect(count(db, "SELECT count(*) AS n FROM history WHERE key >= 'drug/stock/' AND key < 'drug/stock/\x7f'")).toBeGreaterThanOrEqual(2);
      // History holds no current version (that is the state row) and no version newer than the current one.
      expect(count(db, 'SELECT count(*) AS n FROM history h JOIN state s ON s.key = h.key AND (h.height > s.height OR (h.height = s.height AND h.idx >= s.idx))')).toBe(0);
    } finally {
      db.close();
    }
    expect(await verifyDb(dbPath)).toMatchObject({ ok: true });
  });

  it('verify still catches a history row where the policy keeps none', async () => {
    const copy = copyLedger(dbPath);
    try {
      const db = new Database(copy.dbPath);
      const row = db.prepare("SELECT key, value, height, idx FROM state WHERE key >= 'drug/code/' AND key < 'drug/code/\x7f' LIMIT 1").get() as { key: string; value: string; height: number; idx: number };
      db.prepare('INSERT INTO history (key, height, idx, value) VALUES (?, ?, ?, ?)').run(row.key, row.height, row.idx, row.value);
      db.close();
      const report = await verifyDb(copy.dbPath);
      expect(report.ok).toBe(false);
      expect(report.firstBadHeight).toBe(row.height);
    } finally {
      copy.remove();
    }
  });

  it('keeps superseded versions and deletions in history and the current version only in state', async () => {
    const t = tempDir();
    const store = new SqliteStore({ path: join(t.dir, 'ledger.db'), indexes: [] });
    try {
      const block = (height: number, writes: Array<[number, string, string | null]>) =>
        store.commitBlock({
          header: { height, slot: height } as never,
          hash: String(height).padStart(64, '0'),
          txs: [],
          writes: writes.map(([txIndex, key, value]) => ({ txIndex, key, value })),
        });
      block(1, [[0, 'a/1', '"v1"'], [0, 'a/2', '"w1"'], [1, 'a/3', '"once"']]);
      block(2, [[0, 'a/1', '"v2"'], [0, 'a/2', null], [3, 'a/1', '"v3"']]);
      block(3, [[2, 'a/2', '"w2"']]);
      expect(store.history('a/1').map((v) => [v.height, v.index, v.value])).toEqual([[2, 3, '"v3"'], [2, 0, '"v2"'], [1, 0, '"v1"']]);
      expect(store.history('a/2').map((v) => [v.height, v.index, v.value])).toEqual([[3, 2, '"w2"'], [2, 0, null], [1, 0, '"w1"']]);
      expect(store.history('a/3').map((v) => [v.height, v.index, v.value])).toEqual([[1, 1, '"once"']]);
      expect(store.history('a/1', 2)).toHaveLength(2);
      // A key written once has no history row; the current version of every key is its state row only.
      expect(count(store.db, "SELECT count(*) AS n FROM history WHERE key = 'a/3'")).toBe(0);
      expect(count(store.db, 'SELECT count(*) AS n FROM history')).toBe(4);
    } finally {
      await store.close();
      t.remove();
    }
  });

  it('is fixed when the database is created: reopening with another policy keeps it, and an older database keeps every version', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'ledger.db');
      await new SqliteStore({ path, indexes: [], historyExempt: ['b/', 'a/'] }).close();
      const reopened = new SqliteStore({ path, indexes: [], historyExempt: ['c/'] });
      expect(reopened.historyExempt).toEqual(['a/', 'b/']);
      expect([reopened.keepsHistory('a/1'), reopened.keepsHistory('b/1'), reopened.keepsHistory('c/1')]).toEqual([false, false, true]);
      reopened.db.prepare("DELETE FROM meta WHERE k = 'historyExempt'").run(); // as a database created before the policy existed
      await reopened.close();
      const old = new SqliteStore({ path, indexes: [], historyExempt: ['a/'] });
      expect(old.historyExempt).toEqual([]);
      expect(old.keepsHistory('a/1')).toBe(true);
      await old.close();
    } finally {
      t.remove();
    }
  });

  it('records the contracts\' state layout when created and refuses a database of another layout with a clear error', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'ledger.db');
      const layout = createContractRuntime().stateLayout;
      expect(layout).toBe('drugs@2');
      await new SqliteStore({ path, indexes: [], stateLayout: layout }).close();
      const same = new SqliteStore({ path, indexes: [], stateLayout: layout });
      same.db.prepare("DELETE FROM meta WHERE k = 'stateLayout'").run(); // as a database created before layouts were recorded
      await same.close();
      expect(() => new SqliteStore({ path, indexes: [], stateLayout: layout })).toThrow(/state layout 'initial', this MedChain writes 'drugs@2'; re-create/);
      try {
        new SqliteStore({ path, indexes: [], stateLayout: layout });
      } catch (err) {
        expect((err as { code?: string }).code).toBe('STORE_INCOMPATIBLE');
      }
      // Nothing was changed by the refusal: the database still opens when the layout is not checked.
      const unchecked = new SqliteStore({ path, indexes: [] });
      expect(unchecked.db.prepare("SELECT v FROM meta WHERE k = 'stateLayout'").get()).toBeUndefined();
      await unchecked.close();
    } finally {
      t.remove();
    }
  });
});
