import Database from 'better-sqlite3';
import { join } from 'node:path';
import { round, tempDir } from './util.js';

/**
 * What SQLite alone does with the rows a drug event writes, on this machine: a floor under the capture rate of
 * any drugs-contract layout with those rows. No contract, no JSON, no hashing, no tx: keys and values of the
 * sizes the ledger stores, built before the clock starts, written with prepared statements into tables of the
 * node's shapes (WITHOUT ROWID, text keys) under the node's pragmas, one transaction per block of events.
 *
 * Three row patterns for an event that moves `epcsPerEvent` packs:
 * - `currentLayout`: what the drugs contract writes today (26 rows for 10 packs): each pack's row updated and a
 *   custody step inserted per pack, the event row, the shipment row, the holder's stock row and three index rows;
 * - `packRowsAndEvent`: one row per pack moved plus the event row — any layout that keeps per-pack state in rows;
 * - `eventOnly`: the event row alone — a layout that moves packs without a row each (e.g. through their case).
 */
export interface FloorPattern {
  rowsPerEvent: number;
  events: number;
  seconds: number;
  rowsPerSecond: number;
  eventsPerSecond: number;
}

export function measureStoreFloor(options: { packs: number; events: number; epcsPerEvent: number; eventsPerBlock: number }) {
  const dir = tempDir('medchain-bench-floor-');
  try {
    const db = new Database(join(dir.path, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 10000');
    db.pragma('cache_size = -65536');
    db.exec(`
      CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE idx (name TEXT NOT NULL, term TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (name, term, key)) WITHOUT ROWID;
    `);
    const upsert = db.prepare('INSERT INTO state (key, value, height, idx) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, height = excluded.height, idx = excluded.idx');
    const indexInsert = db.prepare('INSERT OR IGNORE INTO idx (name, term, key) VALUES (?, ?, ?)');
    // Value sizes as measured on a drug ledger (PERFORMANCE.md, "what a drug event costs in bytes").
    const text = (bytes: number, seed: number) => `{"v":"${String(seed).padStart(bytes - 8, 'x')}"}`;
    const packKey = (i: number) => `drug/code/sgtin:06901234560012.${String(i).padStart(7, '0')}`;
    const packValue = text(430, 1);

    db.transaction(() => {
      for (let i = 0; i < options.packs; i++) upsert.run(packKey(i), packValue, 1, 0);
    })();

    let height = 2;
    let nextPack = 0;
    let eventSeq = 0;
    const run = (rowsOf: (event: number, packs: number[]) => Array<[string, string] | [string, string, string]>): FloorPattern => {
      // Rows built first, so the clock measures SQLite only.
      const blocks: Array<Array<[string, string] | [string, string, string]>> = [];
      let block: Array<[string, string] | [string, string, string]> = [];
      let rowCount = 0;
      for (let e = 0; e < options.events; e++) {
        const packs = Array.from({ length: options.epcsPerEvent }, () => nextPack++ % options.packs);
        const rows = rowsOf(eventSeq++, packs);
        rowCount += rows.length;
        block.push(...rows);
        if ((e + 1) % options.eventsPerBlock === 0) {
          blocks.push(block);
          block = [];
        }
      }
      if (block.length) blocks.push(block);
      const started = performance.now();
      for (const rows of blocks) {
        const h = height++;
        db.transaction(() => {
          for (const row of rows) {
            if (row.length === 3) indexInsert.run(row[0], row[1], row[2]);
            else upsert.run(row[0], row[1], h, 0);
          }
        })();
      }
      const seconds = (performance.now() - started) / 1000;
      return {
        rowsPerEvent: round(rowCount / options.events, 1),
        events: options.events,
        seconds: round(seconds, 2),
        rowsPerSecond: Math.round(rowCount / seconds),
        eventsPerSecond: Math.round(options.events / seconds),
      };
    };

    const time = (event: number) => new Date(Date.UTC(2026, 0, 1) + event * 1000).toISOString();
    const digest = (event: number) => event.toString(16).padStart(64, '0');
    const eventRow = (event: number): [string, string] => [`drug/ev/${time(event)}/${digest(event)}`, text(700, event)];
    const currentLayout = run((event, packs) => {
      const rows: Array<[string, string] | [string, string, string]> = [];
      for (const p of packs) rows.push([packKey(p), text(430, event)]);
      for (const p of packs) rows.push([`drug/custody/sgtin:06901234560012.${String(p).padStart(7, '0')}/${time(event)}/${digest(event)}`, text(230, event)]);
      const [eventKey, eventValue] = eventRow(event);
      rows.push([eventKey, eventValue], [`drug/ship/${digest(event)}`, text(390, event)], [`drug/stock/huakang-pharma/06901234560012/L${event % 10}`, text(120, event)]);
      for (const term of [`step:shipping`, `inst:huakang-pharma`, `loc:urn:epc:id:sgln:6901234.00000.0`]) rows.push(['drugEvents', term, eventKey]);
      return rows;
    });
    const packRowsAndEvent = run((event, packs) => [...packs.map((p): [string, string] => [packKey(p), text(430, event)]), eventRow(event)]);
    const eventOnly = run((event) => [eventRow(event)]);
    // What the tables hold at the end (a check that every pattern wrote what it claims).
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const rowsAtEnd = { state: count('state'), idx: count('idx') };
    db.close();
    return { packs: options.packs, epcsPerEvent: options.epcsPerEvent, eventsPerBlock: options.eventsPerBlock, currentLayout, packRowsAndEvent, eventOnly, rowsAtEnd };
  } finally {
    dir.remove();
  }
}
