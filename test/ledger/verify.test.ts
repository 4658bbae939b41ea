import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { parseSignedTx, type ParsedTx } from '../../src/ledger/index.js';
import { admin, LEAD, staff } from '../helpers/test-node.js';
import {
  buildProposal,
  copyLedger,
  GENESIS_TIME,
  genesisLedger,
  LIMITS,
  prng,
  seededDemoLedger,
  signaturesOf,
  tempDir,
  verifyDb,
} from '../helpers/ledger-fixtures.js';

/*
 * verifyLedger is an fsck: it must accept an honest ledger, and for any single changed byte, field or row it must
 * answer ok === false and name the first height at which the ledger is wrong. Each case below damages a copy of one
 * seeded demo ledger (its node closed, so the WAL is checkpointed) with better-sqlite3 directly.
 */

let seeded: Awaited<ReturnType<typeof seededDemoLedger>>;
beforeAll(async () => {
  seeded = await seededDemoLedger();
});
afterAll(() => seeded?.remove());

/** Read-only queries against the pristine seeded ledger, for choosing damage targets. */
function pristine<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(seeded.dbPath, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

async function damaged(damage: (db: Database.Database) => number) {
  const copy = copyLedger(seeded.dbPath);
  try {
    const db = new Database(copy.dbPath);
    let changes: number;
    try {
      changes = damage(db);
    } finally {
      db.close();
    }
    expect(changes, 'the damage must change the database').toBeGreaterThan(0);
    return await verifyDb(copy.dbPath);
  } finally {
    copy.remove();
  }
}

/** Replaces the character at `pos` by another one of the same class (digit for digit, letter for letter). */
function changeCharAt(text: string, pos: number): string {
  const c = text[pos]!;
  const next = /[0-9]/.test(c) ? String((Number(c) + 1) % 10) : /[a-y]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 1) : c === 'z' ? 'a' : c === 'A' ? 'B' : 'A';
  return text.slice(0, pos) + next + text.slice(pos + 1);
}

describe('verifyLedger on an honest ledger', () => {
  it('accepts the seeded demo ledger and counts its blocks and txs', async () => {
    const counts = pristine((db) => ({
      head: (db.prepare('SELECT MAX(height) AS h FROM blocks').get() as { h: number }).h,
      txs: (db.prepare('SELECT COUNT(*) AS c FROM txs').get() as { c: number }).c,
    }));
    expect(counts.txs).toBeGreaterThan(100);
    const report = await verifyDb(seeded.dbPath);
    expect(report).toMatchObject({ ok: true, chain: 'qingshan-county-alliance', headHeight: counts.head, blocks: counts.head + 1, txs: counts.txs });
    expect(report.firstBadHeight).toBeUndefined();
    // Verification only reads: a second run over the same file gives the same answer.
    expect((await verifyDb(seeded.dbPath)).ok).toBe(true);
  });

  it('accepts a ledger holding failed txs (bad signature, duplicate, contract refusal) and notices a changed error', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'ledger.db');
      const { store, executor, head } = genesisLedger(path);
      const window = { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 };
      const enrol = (id: string, roles: string[]) =>
        parseSignedTx(admin(LEAD).tx('identity', 'enrolStaff', { staffId: id, name: id, roles, key: generateIdentity().did }, window), LIMITS);
      const good = enrol('dr-a', ['doctor']);
      const forged = enrol('dr-b', ['doctor']);
      forged.signed.sig = parseSignedTx(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'other', name: 'x', roles: ['doctor'], key: generateIdentity().did }, window), LIMITS).signed.sig;
      const forgedTx: ParsedTx = parseSignedTx(forged.signed, LIMITS);
      const refusedByContract = parseSignedTx(staff(LEAD, 'dr-a').tx('identity', 'enrolStaff', { staffId: 'dr-c', name: 'c', roles: ['doctor'], key: generateIdentity().did }, window), LIMITS);
      const txs = [good, forgedTx, good, refusedByContract];
      const proposal = buildProposal(head(), txs);
      const block = executor.execute(proposal, head(), await signaturesOf(txs));
      expect(block.results.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['ok', 'TX_BAD_SIGNATURE', 'TX_DUPLICATE', 'UNKNOWN_SIGNER']);
      store.commitBlock(block);
      store.close();
      expect(await verifyDb(path)).toMatchObject({ ok: true, headHeight: 1, txs: 4 });

      const db = new Database(path);
      db.prepare(`UPDATE txs SET result = replace(result, 'TX_BAD_SIGNATURE', 'TX_BAD_SIGNATURF') WHERE height = 1 AND idx = 1`).run();
      db.close();
      expect(await verifyDb(path)).toMatchObject({ ok: false, firstBadHeight: 1 });
    } finally {
      t.remove();
    }
  });
});

describe('verifyLedger names the first bad height after a single change', () => {
  // Targets are chosen from the pristine ledger. Where the position of a row matters (deleted or extra rows), the
  // neighbouring row is one written at a *lower* height, so that blaming the neighbour would give a wrong answer.
  const info = () =>
    pristine((db) => {
      const head = (db.prepare('SELECT MAX(height) AS h FROM blocks').get() as { h: number }).h;
      const multi = (db.prepare('SELECT height, COUNT(*) AS c FROM txs GROUP BY height HAVING c >= 3 ORDER BY height DESC LIMIT 1').get() as { height: number }).height;
      const single = (db.prepare('SELECT height FROM txs WHERE height < ? GROUP BY height HAVING COUNT(*) = 1 ORDER BY height LIMIT 1').get(head) as { height: number }).height;
      const state = db.prepare('SELECT key, height FROM state ORDER BY key').all() as Array<{ key: string; height: number }>;
      // A state key followed (in key order) by one written earlier.
      const i = state.findIndex((r, j) => j + 1 < state.length && r.height >= 2 && state[j + 1]!.height < r.height);
      const history = db.prepare('SELECT key, height, idx FROM history ORDER BY key, height, idx').all() as Array<{ key: string; height: number; idx: number }>;
      const hi = history.findIndex((r, j) => j + 1 < history.length && r.height >= 2 && history[j + 1]!.height < r.height);
      // A key with an older and a newer version.
      const older = db.prepare('SELECT h.key, h.height FROM history h JOIN state s ON s.key = h.key WHERE h.height < s.height ORDER BY h.key LIMIT 1').get() as { key: string; height: number };
      const idx = db.prepare('SELECT i.name, i.term, i.key, s.height FROM idx i JOIN state s ON s.key = i.key ORDER BY i.name, i.term, i.key').all() as Array<{ name: string; term: string; key: string; height: number }>;
      const ii = idx.findIndex((r, j) => j + 1 < idx.length && idx[j + 1]!.height < r.height);
      const patient = db.prepare("SELECT key, height FROM state WHERE key LIKE 'id/patient/%' ORDER BY height DESC, key LIMIT 1").get() as { key: string; height: number };
      return { head, multi, single, stateRow: state[i]!, stateNext: state[i + 1]!, historyRow: history[hi]!, older, idxRow: idx[ii]!, patient };
    });

  const cases: Array<[string, (db: Database.Database, t: ReturnType<typeof info>) => { changes: number; expected: number }]> = [
    [
      'a digit of block time in a header',
      (db, t) => {
        const { header } = db.prepare('SELECT header FROM blocks WHERE height = ?').get(t.multi) as { header: string };
        const pos = header.indexOf('"time":') + '"time":'.length + 9;
        return { changes: db.prepare('UPDATE blocks SET header = ? WHERE height = ?').run(changeCharAt(header, pos), t.multi).changes, expected: t.multi };
      },
    ],
    [
      'a digit of block time in the head block header',
      (db, t) => {
        const { header } = db.prepare('SELECT header FROM blocks WHERE height = ?').get(t.head) as { header: string };
        const pos = header.indexOf('"time":') + '"time":'.length + 12;
        return { changes: db.prepare('UPDATE blocks SET header = ? WHERE height = ?').run(changeCharAt(header, pos), t.head).changes, expected: t.head };
      },
    ],
    [
      'a byte of the stateHash in the genesis header',
      (db) => {
        const { header } = db.prepare('SELECT header FROM blocks WHERE height = 0').get() as { header: string };
        const pos = header.indexOf('"stateHash":"') + '"stateHash":"'.length + 5;
        return { changes: db.prepare('UPDATE blocks SET header = ? WHERE height = 0').run(changeCharAt(header, pos), ).changes, expected: 0 };
      },
    ],
    [
      'the genesis header made invalid JSON',
      (db) => ({ changes: db.prepare(`UPDATE blocks SET header = replace(header, '"stateHash":', '"stateHash"v') WHERE height = 0`).run().changes, expected: 0 }),
    ],
    [
      'the head block header made invalid JSON',
      (db, t) => ({ changes: db.prepare(`UPDATE blocks SET header = substr(header, 1, 40) WHERE height = ?`).run(t.head).changes, expected: t.head }),
    ],
    [
      'a middle block header made invalid JSON',
      (db, t) => ({ changes: db.prepare(`UPDATE blocks SET header = replace(header, '{', '[') WHERE height = ?`).run(t.multi).changes, expected: t.multi }),
    ],
    [
      'the blocks.hash column',
      (db, t) => {
        const { hash } = db.prepare('SELECT hash FROM blocks WHERE height = ?').get(t.multi) as { hash: string };
        return { changes: db.prepare('UPDATE blocks SET hash = ? WHERE height = ?').run(changeCharAt(hash, 40), t.multi).changes, expected: t.multi };
      },
    ],
    [
      'a byte of a tx body (in its nonce)',
      (db, t) => {
        const { body } = db.prepare('SELECT body FROM txs WHERE height = ? AND idx = 1').get(t.multi) as { body: string };
        const pos = body.indexOf('"nonce":"') + '"nonce":"'.length + 2;
        return { changes: db.prepare('UPDATE txs SET body = ? WHERE height = ? AND idx = 1').run(changeCharAt(body, pos), t.multi).changes, expected: t.multi };
      },
    ],
    [
      'a byte of a tx signature',
      (db, t) => {
        const { body } = db.prepare('SELECT body FROM txs WHERE height = ? AND idx = 2').get(t.multi) as { body: string };
        return { changes: db.prepare('UPDATE txs SET body = ? WHERE height = ? AND idx = 2').run(changeCharAt(body, 20), t.multi).changes, expected: t.multi };
      },
    ],
    [
      'a tx result',
      (db, t) => ({
        changes: db.prepare(`UPDATE txs SET result = replace(result, '"status":"ok"', '"status":"ko"') WHERE height = ? AND idx = 0`).run(t.multi).changes,
        expected: t.multi,
      }),
    ],
    [
      'a tx id column',
      (db, t) => {
        const { id } = db.prepare('SELECT id FROM txs WHERE height = ? AND idx = 1').get(t.multi) as { id: Buffer };
        id[0]! ^= 0x01;
        return { changes: db.prepare('UPDATE txs SET id = ? WHERE height = ? AND idx = 1').run(id, t.multi).changes, expected: t.multi };
      },
    ],
    [
      'a deleted tx row inside a block',
      (db, t) => ({ changes: db.prepare('DELETE FROM txs WHERE height = ? AND idx = 1').run(t.multi).changes, expected: t.multi }),
    ],
    [
      'a deleted tx row, the last of its block',
      (db, t) => ({ changes: db.prepare('DELETE FROM txs WHERE height = ?').run(t.single).changes, expected: t.single }),
    ],
    [
      'a deleted block',
      (db, t) => ({ changes: db.prepare('DELETE FROM blocks WHERE height = ?').run(t.single).changes, expected: t.single }),
    ],
    [
      'the deleted head block',
      (db, t) => ({ changes: db.prepare('DELETE FROM blocks WHERE height = ?').run(t.head).changes, expected: t.head }),
    ],
    [
      'a state value',
      (db, t) => {
        const { value } = db.prepare('SELECT value FROM state WHERE key = ?').get(t.stateRow.key) as { value: string };
        return { changes: db.prepare('UPDATE state SET value = ? WHERE key = ?').run(changeCharAt(value, 10), t.stateRow.key).changes, expected: t.stateRow.height };
      },
    ],
    [
      "a state row's version height, lowered",
      (db, t) => ({ changes: db.prepare('UPDATE state SET height = 0 WHERE key = ?').run(t.stateRow.key).changes, expected: t.stateRow.height }),
    ],
    [
      "a state row's version height, raised",
      (db, t) => ({ changes: db.prepare('UPDATE state SET height = height + 1 WHERE key = ?').run(t.stateRow.key).changes, expected: t.stateRow.height }),
    ],
    [
      "a state row's version index",
      (db, t) => ({ changes: db.prepare('UPDATE state SET idx = idx + 1 WHERE key = ?').run(t.stateRow.key).changes, expected: t.stateRow.height }),
    ],
    [
      'a deleted state row',
      (db, t) => ({ changes: db.prepare('DELETE FROM state WHERE key = ?').run(t.stateRow.key).changes, expected: t.stateRow.height }),
    ],
    [
      'an extra state row (claiming a height of its own)',
      (db, t) => ({
        // Sorts just before a row written at height 0; claims to have been written at `multi`.
        changes: db.prepare('INSERT INTO state (key, value, height, idx) VALUES (?, ?, ?, 0)').run('id/inst/aaa-forged', '{"status":"active"}', t.multi).changes,
        expected: t.multi,
      }),
    ],
    [
      'an old version in the key history',
      (db, t) => ({
        changes: db.prepare(`UPDATE history SET value = replace(value, '"', '''') WHERE key = ? AND height = ?`).run(t.older.key, t.older.height).changes,
        expected: t.older.height,
      }),
    ],
    [
      'a deleted history row',
      (db, t) => ({
        changes: db.prepare('DELETE FROM history WHERE key = ? AND height = ? AND idx = ?').run(t.historyRow.key, t.historyRow.height, t.historyRow.idx).changes,
        expected: t.historyRow.height,
      }),
    ],
    [
      'a deleted idx row',
      (db, t) => ({
        changes: db.prepare('DELETE FROM idx WHERE name = ? AND term = ? AND key = ?').run(t.idxRow.name, t.idxRow.term, t.idxRow.key).changes,
        expected: t.idxRow.height,
      }),
    ],
    [
      'an idx row moved to another term',
      (db, t) => ({
        changes: db.prepare("UPDATE idx SET term = term || '-x' WHERE name = ? AND term = ? AND key = ?").run(t.idxRow.name, t.idxRow.term, t.idxRow.key).changes,
        expected: t.idxRow.height,
      }),
    ],
    [
      'an extra idx row',
      (db, t) => ({
        changes: db.prepare("INSERT INTO idx (name, term, key) VALUES ('patientsByInstitution', 'aaa-pharmacy', ?)").run(t.patient.key).changes,
        expected: t.patient.height,
      }),
    ],
    [
      'the genesis document in meta',
      (db) => ({ changes: db.prepare(`UPDATE meta SET v = replace(v, '"numerator":2', '"numerator":1') WHERE k = 'genesis'`).run().changes, expected: 0 }),
    ],
    [
      'the genesis document in meta made invalid JSON',
      (db) => ({ changes: db.prepare(`UPDATE meta SET v = substr(v, 2) WHERE k = 'genesis'`).run().changes, expected: 0 }),
    ],
    [
      'a state key with an invalid UTF-8 byte',
      (db, t) => ({
        changes: db.prepare(`UPDATE state SET key = CAST(CAST(key AS BLOB) || x'ff' AS TEXT) WHERE key = ?`).run(t.stateRow.key).changes,
        expected: t.stateRow.height,
      }),
    ],
    [
      'the chain id in meta',
      (db) => ({ changes: db.prepare(`UPDATE meta SET v = 'qingshan-county-alliancf' WHERE k = 'chain'`).run().changes, expected: 0 }),
    ],
  ];

  for (const [what, damage] of cases) {
    it(what, async () => {
      const t = info();
      let expected = -2;
      const report = await damaged((db) => {
        const r = damage(db, t);
        expected = r.expected;
        return r.changes;
      });
      expect(report.ok, what).toBe(false);
      expect(report.firstBadHeight, `${what}: ${report.problem}`).toBe(expected);
      expect(report.problem).toEqual(expect.any(String));
    });
  }
});

describe('verifyLedger after random single-byte damage', () => {
  it('fails, naming the height of the damaged row, for 35 random (table, row, byte) choices', async () => {
    const seed = 20261123;
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const targets = pristine((db) => ({
      blocks: db.prepare('SELECT height FROM blocks').all() as Array<{ height: number }>,
      txs: db.prepare('SELECT height, idx FROM txs').all() as Array<{ height: number; idx: number }>,
      state: db.prepare('SELECT key, height FROM state').all() as Array<{ key: string; height: number }>,
    }));
    const columns = [
      ['blocks', 'header'],
      ['blocks', 'hash'],
      ['txs', 'body'],
      ['txs', 'result'],
      ['txs', 'id'],
      ['state', 'value'],
      ['state', 'key'],
    ] as const;
    const seen: string[] = [];
    for (let round = 0; round < 35; round++) {
      const [table, column] = columns[round % columns.length]!;
      let where: string;
      let params: unknown[];
      let expected: number;
      if (table === 'blocks') {
        const row = pick(targets.blocks);
        [where, params, expected] = ['height = ?', [row.height], row.height];
      } else if (table === 'txs') {
        const row = pick(targets.txs);
        [where, params, expected] = ['height = ? AND idx = ?', [row.height, row.idx], row.height];
      } else {
        const row = pick(targets.state);
        [where, params, expected] = ['key = ?', [row.key], row.height];
      }
      let label = '';
      const report = await damaged((db) => {
        const { b } = db.prepare(`SELECT CAST(${column} AS BLOB) AS b FROM ${table} WHERE ${where}`).get(...params) as { b: Buffer };
        const pos = Math.floor(rand() * b.length);
        b[pos]! ^= 1 + Math.floor(rand() * 255);
        label = `seed ${seed} round ${round}: ${table}.${column} ${JSON.stringify(params)} byte ${pos}`;
        const value = column === 'id' ? b : b.toString('latin1');
        // Text columns get the damaged bytes back as text (possibly invalid UTF-8, as a disk error would leave them).
        const set = column === 'id' ? '?' : `CAST(CAST(? AS BLOB) AS TEXT)`;
        const arg = column === 'id' ? value : Buffer.from(value as string, 'latin1');
        return db.prepare(`UPDATE ${table} SET ${column} = ${set} WHERE ${where}`).run(arg, ...params).changes;
      });
      seen.push(label);
      expect(report.ok, label).toBe(false);
      expect(report.firstBadHeight, `${label}: ${report.problem}`).toBe(expected);
    }
    expect(new Set(seen).size).toBe(35);
  });
});
