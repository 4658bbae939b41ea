import Database from 'better-sqlite3';
import { join } from 'node:path';
import { drugKeys, eventIdOf } from '../contracts/drugs/model.js';
import { DEFAULT_CACHE_MIB } from '../ledger/index.js';
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

/** A state row (key, value) or an index row (name, term, key). */
type Row = [string, string] | [string, string, string];

export function measureStoreFloor(options: { packs: number; events: number; epcsPerEvent: number; eventsPerBlock: number }) {
  const dir = tempDir('medchain-bench-floor-');
  try {
    const db = new Database(join(dir.path, 'floor.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 10000');
    db.pragma(`cache_size = -${DEFAULT_CACHE_MIB * 1024}`);
    db.exec(`
      CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE idx (name TEXT NOT NULL, term TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (name, term, key)) WITHOUT ROWID;
    `);
    const upsert = db.prepare('INSERT INTO state (key, value, height, idx) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, height = excluded.height, idx = excluded.idx');
    const indexInsert = db.prepare('INSERT OR IGNORE INTO idx (name, term, key) VALUES (?, ?, ?)');
    // Value sizes as measured on a drug ledger (PERFORMANCE.md, "what a drug event costs in bytes").
    const text = (bytes: number, seed: number) => `{"v":"${String(seed).padStart(bytes - 8, 'x')}"}`;
    // Keys as the drugs contract builds them.
    const code = (i: number) => `sgtin:06901234560012.${String(i).padStart(7, '0')}`;
    const packKey = (i: number) => drugKeys.code(code(i));
    const packValue = text(430, 1);

    db.transaction(() => {
      for (let i = 0; i < options.packs; i++) upsert.run(packKey(i), packValue, 1, 0);
    })();

    let height = 2;
    let nextPack = 0;
    let eventSeq = 0;
    const run = (rowsOf: (event: number, packs: number[]) => Row[]): FloorPattern => {
      // Rows built first, so the clock measures SQLite only.
      const blocks: Row[][] = [];
      let block: Row[] = [];
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
    const eventId = (event: number) => eventIdOf(event.toString(16).padStart(64, '0'));
    const eventRow = (event: number): [string, string] => [drugKeys.event(time(event), eventId(event)), text(700, event)];
    const currentLayout = run((event, packs) => {
      const rows: Row[] = [];
      for (const p of packs) rows.push([packKey(p), text(430, event)]);
      for (const p of packs) rows.push([drugKeys.custody(code(p), time(event), eventId(event)), text(230, event)]);
      const [eventKey, eventValue] = eventRow(event);
      rows.push([eventKey, eventValue], [drugKeys.shipment(eventId(event)), text(390, event)], [drugKeys.stock('huakang-pharma', '06901234560012', `L${event % 10}`), text(120, event)]);
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
