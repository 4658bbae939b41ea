#!/usr/bin/env node
// Where a block's commit time goes in SQLite when several nodes share one disk (the figures behind
// src/ledger/wal-durability.ts). Starts N writer processes (default 3, as the cluster benchmark's nodes); each
// commits 400 blocks of 300 "registerPatient-shaped" rows (a random-key state row, an index row, a tx row with a
// random id index) with synchronous=FULL and, after every block, a passive checkpoint, as SQLite's automatic
// checkpoint would do on the committing thread. Prints JSON: per writer, milliseconds spent inserting, in COMMIT
// (log write + fsync) and checkpointing, as p50 / p99 / mean.
//
//   node scripts/sqlite-io-probe.mjs [--writers 3] [--blocks 400] [--rows 300]
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

if (arg('writer')) {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  const db = new Database(arg('writer'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536');
  db.pragma('wal_autocheckpoint = 0');
  db.exec(`CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, height INTEGER, idx INTEGER) WITHOUT ROWID;
    CREATE TABLE idx (name TEXT, term TEXT, key TEXT, PRIMARY KEY (name, term, key)) WITHOUT ROWID;
    CREATE TABLE txs (height INTEGER, i INTEGER, id BLOB, body TEXT, result TEXT, PRIMARY KEY (height, i)) WITHOUT ROWID;
    CREATE INDEX txs_by_id ON txs(id);`);
  const state = db.prepare('INSERT INTO state VALUES (?, ?, ?, ?)');
  const index = db.prepare('INSERT INTO idx VALUES (?, ?, ?)');
  const tx = db.prepare('INSERT INTO txs VALUES (?, ?, ?, ?, ?)');
  const [begin, commit] = [db.prepare('BEGIN'), db.prepare('COMMIT')];
  const body = 'x'.repeat(600);
  const value = 'v'.repeat(250);
  const times = { insertMs: [], commitMs: [], checkpointMs: [] };
  const blocks = Number(arg('blocks', 400));
  const rows = Number(arg('rows', 300));
  for (let h = 0; h < blocks; h++) {
    const t0 = performance.now();
    begin.run();
    for (let i = 0; i < rows; i++) {
      const key = 'id/patient/P' + randomBytes(13).toString('hex');
      tx.run(h, i, randomBytes(32), body, '{"status":"ok"}');
      state.run(key, value, h, i);
      index.run('patients', 'inst', key);
    }
    const t1 = performance.now();
    commit.run();
    const t2 = performance.now();
    db.pragma('wal_checkpoint(PASSIVE)');
    times.insertMs.push(t1 - t0);
    times.commitMs.push(t2 - t1);
    times.checkpointMs.push(performance.now() - t2);
  }
  const summary = (a) => {
    const s = [...a].sort((x, y) => x - y);
    const at = (p) => Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10;
    return { p50: at(50), p99: at(99), mean: Math.round((a.reduce((x, y) => x + y, 0) / a.length) * 10) / 10 };
  };
  process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summary(v)]))));
  db.close();
} else {
  const writers = Number(arg('writers', 3));
  const dir = mkdtempSync(join(tmpdir(), 'medchain-sqlite-probe-'));
  try {
    const runs = Array.from({ length: writers }, (_, i) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [process.argv[1], '--writer', join(dir, `w${i}.db`), '--blocks', arg('blocks', '400'), '--rows', arg('rows', '300')]);
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`writer ${i} exited with ${code}`))));
      }),
    );
    const results = await Promise.all(runs);
    console.log(JSON.stringify({ writers, blocks: Number(arg('blocks', 400)), rowsPerBlock: Number(arg('rows', 300)), results }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
