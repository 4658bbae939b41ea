import Database from 'better-sqlite3';
import { CodedError } from './errors.js';
import type { BlockHeader, Checkpoint } from './block.js';
import { clampLimit, type IndexSpec, type RangeOptions, type StateEntry, type StateReader } from './state.js';
import { BackgroundCheckpointer, WalSyncer } from './wal-durability.js';

/**
 * The block store and world state of one peer, in one SQLite database (WAL).
 * A block, its txs, its state writes, key history and index updates are committed in one SQLite transaction.
 */

export interface StoredTx {
  height: number;
  index: number;
  id: string;
  /** Canonical JSON of the signed tx, exactly as sequenced. */
  body: string;
  /** Canonical JSON of the execution result. */
  result: string;
  /**
   * Whether the signature verified. Only such txs occupy their id: the id does not cover the signature, so a
   * forged copy must not be able to burn the genuine tx's id (it is recorded, as TX_BAD_SIGNATURE, and ignored).
   */
  sigOk: boolean;
}

/** One state write of a tx: the value after the tx, or null for a deletion. */
export interface StateWrite {
  key: string;
  txIndex: number;
  value: string | null;
}

export interface BlockCommit {
  header: BlockHeader;
  hash: string;
  txs: StoredTx[];
  /** All writes of the block in (txIndex, key) order; the last write of a key is its new value. */
  writes: StateWrite[];
}

export interface Head {
  height: number;
  hash: string;
  stateHash: string;
  time: number;
  /** The head block's position in the sequencer's order (BlockHeader.slot). */
  slot: number;
}

/** Bumped whenever the tables change; a database of another version is refused rather than misread. */
// 2: block headers carry the proposal's slot, the proposal no longer names the previous block (pipelined
// proposals); `history` holds only versions that are no longer current.
// 3: `txs_ids_by_height`, so a block's tx ids (for an inclusion proof) come from a few small index pages, not from
// the table's leaf cells, which carry up to ~1 KiB of each tx body.
const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, hash TEXT NOT NULL, header TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
  height INTEGER NOT NULL, idx INTEGER NOT NULL, id BLOB NOT NULL, body TEXT NOT NULL, result TEXT NOT NULL,
  sig_ok INTEGER NOT NULL, PRIMARY KEY (height, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS txs_by_id ON txs(id);
CREATE INDEX IF NOT EXISTS txs_ids_by_height ON txs(height, idx, id);
CREATE TABLE IF NOT EXISTS state (
  key TEXT PRIMARY KEY, value TEXT NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
  key TEXT NOT NULL, height INTEGER NOT NULL, idx INTEGER NOT NULL, value TEXT,
  PRIMARY KEY (key, height, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx (
  name TEXT NOT NULL, term TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (name, term, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
  height INTEGER NOT NULL, signer TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (height, signer)) WITHOUT ROWID;
`;

/** Upper bound for a prefix scan: every printable-ASCII key with the prefix sorts below prefix + '\x7f'. */
function prefixEnd(prefix: string): string {
  return prefix + '\x7f';
}

export interface SqliteStoreOptions {
  /** File path, or ':memory:' (used by verify's replay and by tests). */
  path: string;
  /** Declared by the contracts; maintained on every commit. */
  indexes: readonly IndexSpec[];
  /**
   * 'full' (default): `sync()` resolves once every block committed before it is on disk (the log is fsynced off
   * the JS thread, see wal-durability.ts); 'normal': durable at checkpoints only (SQLite's NORMAL: a power cut may
   * lose the last commits); 'off': never synced (scratch databases).
   */
  synchronous?: 'full' | 'normal' | 'off';
  readonly?: boolean;
  /**
   * Key prefixes whose past values the `history` table does not keep (the personality's `historyExempt`: rows whose
   * history is elsewhere, e.g. write-once rows or rows whose changes are all recorded as events). Taken when the
   * database is created and recorded in `meta`; an existing database keeps the policy it was created with (one
   * created before this option keeps every version). History is derived data — not part of any hash — so peers
   * with different policies still agree on every block and state hash.
   */
  historyExempt?: readonly string[];
  /**
   * The version of the state layout the personality writes (`drugs@2`: the contracts whose layout changed). Recorded
   * when the database is created; a database written under another layout is refused (STORE_INCOMPATIBLE), since
   * replaying its blocks would not reach the state hashes they record. Absent: not checked.
   */
  stateLayout?: string;
  /**
   * SQLite's page cache for this connection, MiB (default 64). The ledger's pages a verification or a commit reads
   * come from here before the OS: on a large ledger whose hot pages (code rows, custody steps, index leaves) outgrow
   * what the OS keeps cached, a larger cache keeps them in the node's own memory.
   */
  cacheMiB?: number;
}

/** SQLite page cache of a store unless configured (MiB). */
export const DEFAULT_CACHE_MIB = 64;

export class SqliteStore implements StateReader {
  readonly db: Database.Database;
  readonly indexes: ReadonlyMap<string, IndexSpec>;
  private readonly stmts;
  /**
   * Write-through cache of committed values (null = absent). Most txs read the same few keys (the signer's key
   * record, staff record and institution); this store is the only writer, so the cache is exact.
   */
  private readonly cache = new Map<string, string | null>();
  private static readonly CACHE_LIMIT = 50_000;
  /** This database's history policy (see SqliteStoreOptions.historyExempt). */
  readonly historyExempt: readonly string[];

  private readonly walSyncer: WalSyncer | undefined;
  private readonly checkpointer: BackgroundCheckpointer | undefined;

  constructor(options: SqliteStoreOptions) {
    this.db = new Database(options.path, { readonly: options.readonly ?? false });
    const mode = options.synchronous ?? 'full';
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      // FULL durability is ours (sync()), so SQLite itself never waits for the disk inside COMMIT.
      this.db.pragma(`synchronous = ${mode === 'off' ? 'OFF' : 'NORMAL'}`);
    }
    const onDisk = !options.readonly && options.path !== ':memory:' && options.path !== '';
    if (onDisk && mode === 'full') this.walSyncer = new WalSyncer(`${options.path}-wal`);
    if (onDisk && mode !== 'off') {
      this.checkpointer = new BackgroundCheckpointer(options.path, (message) => this.onCheckpointError?.(message));
      // Still checkpoint on this thread past ~40 MiB of log: bounds the log if the worker falls behind.
      this.db.pragma('wal_autocheckpoint = 10000');
    }
    const created = this.checkSchemaVersion(options.readonly ?? false);
    if (created) {
      this.db.prepare("INSERT OR REPLACE INTO meta (k, v) VALUES ('historyExempt', ?)").run(JSON.stringify([...(options.historyExempt ?? [])].sort()));
      if (options.stateLayout) this.db.prepare("INSERT OR REPLACE INTO meta (k, v) VALUES ('stateLayout', ?)").run(options.stateLayout);
    } else if (options.stateLayout !== undefined) this.checkStateLayout(options.stateLayout);
    this.historyExempt = readHistoryPolicy(this.db);
    this.db.pragma(`cache_size = -${Math.round((options.cacheMiB ?? DEFAULT_CACHE_MIB) * 1024)}`);
    this.indexes = new Map(options.indexes.map((s) => [s.name, s]));
    const db = this.db;
    this.stmts = {
      getMeta: db.prepare<[string], { v: string }>('SELECT v FROM meta WHERE k = ?'),
      setMeta: db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v'),
      headBlock: db.prepare<[], { height: number; hash: string; header: string }>(
        'SELECT height, hash, header FROM blocks ORDER BY height DESC LIMIT 1',
      ),
      getBlock: db.prepare<[number], { height: number; hash: string; header: string }>(
        'SELECT height, hash, header FROM blocks WHERE height = ?',
      ),
      insertBlock: db.prepare('INSERT INTO blocks (height, hash, header) VALUES (?, ?, ?)'),
      insertTx: db.prepare('INSERT INTO txs (height, idx, id, body, result, sig_ok) VALUES (?, ?, ?, ?, ?, ?)'),
      txById: db.prepare<[Buffer], TxRow>(
        'SELECT height, idx, id, body, result, sig_ok FROM txs WHERE id = ? ORDER BY sig_ok DESC, height, idx LIMIT 1',
      ),
      hasTx: db.prepare<[Buffer], { one: number }>('SELECT 1 AS one FROM txs WHERE id = ? AND sig_ok = 1 LIMIT 1'),
      txIdsOfBlock: db.prepare<[number], { id: Buffer }>('SELECT id FROM txs WHERE height = ? ORDER BY idx'),
      txsOfBlock: db.prepare<[number], TxRow>(
        'SELECT height, idx, id, body, result, sig_ok FROM txs WHERE height = ? ORDER BY idx',
      ),
      getState: db.prepare<[string], { value: string }>('SELECT value FROM state WHERE key = ?'),
      getStateVersioned: db.prepare<[string], { value: string; height: number; idx: number }>(
        'SELECT value, height, idx FROM state WHERE key = ?',
      ),
      rangeFrom: db.prepare<[string, string, number], StateEntry>(
        'SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key LIMIT ?',
      ),
      rangeAfter: db.prepare<[string, string, number], StateEntry>(
        'SELECT key, value FROM state WHERE key > ? AND key < ? ORDER BY key LIMIT ?',
      ),
      upsertState: db.prepare(
        'INSERT INTO state (key, value, height, idx) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, height = excluded.height, idx = excluded.idx',
      ),
      deleteState: db.prepare('DELETE FROM state WHERE key = ?'),
      insertHistory: db.prepare('INSERT INTO history (key, height, idx, value) VALUES (?, ?, ?, ?)'),
      // The current version (state) first, then the superseded ones and deletions (history).
      historyOf: db.prepare<[string, string, number], { height: number; idx: number; value: string | null }>(
        'SELECT height, idx, value FROM state WHERE key = ? UNION ALL SELECT height, idx, value FROM history WHERE key = ? ORDER BY height DESC, idx DESC LIMIT ?',
      ),
      // Moves the committed version of a key into history before it is overwritten or deleted.
      supersede: db.prepare('INSERT INTO history (key, height, idx, value) SELECT key, height, idx, value FROM state WHERE key = ?'),
      indexLookup: db.prepare<[string, string, string, number], StateEntry>(
        'SELECT s.key AS key, s.value AS value FROM idx i JOIN state s ON s.key = i.key WHERE i.name = ? AND i.term = ? AND i.key > ? ORDER BY i.key LIMIT ?',
      ),
      indexDelete: db.prepare('DELETE FROM idx WHERE name = ? AND term = ? AND key = ?'),
      indexInsert: db.prepare('INSERT OR IGNORE INTO idx (name, term, key) VALUES (?, ?, ?)'),
      insertCheckpoint: db.prepare('INSERT OR REPLACE INTO checkpoints (height, signer, body) VALUES (?, ?, ?)'),
      checkpointsFrom: db.prepare<[number, number], { body: string }>(
        'SELECT body FROM checkpoints WHERE height <= ? ORDER BY height DESC LIMIT ?',
      ),
    };
  }

  /**
   * Creates the schema in a new database (answering true); refuses one written by an incompatible version with a
   * clear error.
   */
  private checkSchemaVersion(readonly: boolean): boolean {
    const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    const version = hasMeta ? (this.db.prepare("SELECT v FROM meta WHERE k = 'schemaVersion'").get() as { v: string } | undefined)?.v : undefined;
    const isEmpty = !hasMeta || this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'blocks'").get() === undefined;
    if (isEmpty && !readonly) {
      this.db.exec(SCHEMA);
      this.db.prepare("INSERT OR REPLACE INTO meta (k, v) VALUES ('schemaVersion', ?)").run(String(SCHEMA_VERSION));
      return true;
    }
    if (version !== String(SCHEMA_VERSION)) {
      this.db.close();
      throw new CodedError(
        'STORE_INCOMPATIBLE',
        `the ledger database has schema version ${version ?? 'none'}, this MedChain needs ${SCHEMA_VERSION}; re-create the data directory (medchain init)`,
      );
    }
    return false;
  }

  /** Refuses a database whose contracts wrote another state layout (one from before layouts were recorded is ''). */
  private checkStateLayout(expected: string): void {
    const stored = (this.db.prepare("SELECT v FROM meta WHERE k = 'stateLayout'").get() as { v: string } | undefined)?.v ?? '';
    if (stored === expected) return;
    this.db.close();
    throw new CodedError(
      'STORE_INCOMPATIBLE',
      `the ledger database was written under contract state layout '${stored || 'initial'}', this MedChain writes '${expected || 'initial'}'; re-create the data directory (medchain init)`,
    );
  }

  /** Whether the history table keeps the past values of `key`. */
  keepsHistory(key: string): boolean {
    for (const prefix of this.historyExempt) if (key.startsWith(prefix)) return false;
    return true;
  }

  /** Called with the message of a failed background checkpoint (the node logs it; the next one retries). */
  onCheckpointError: ((message: string) => void) | undefined;

  /**
   * Resolves once every block committed before the call is durable (fsync of the log on libuv's thread pool;
   * concurrent calls share one). Immediate unless the store was opened with `synchronous: 'full'`.
   */
  sync(): Promise<void> {
    return this.walSyncer?.sync() ?? Promise.resolve();
  }

  /** The log fsyncs so far (count, average, recent moving average and maximum, ms); undefined unless 'full'. */
  syncStatus(): ReturnType<WalSyncer['status']> | undefined {
    return this.walSyncer?.status();
  }

  /**
   * Closes the database — at once when nothing runs beside it (read-only, in memory, 'off'), else after the syncs
   * under way (pending receipts) and the checkpoint worker.
   */
  close(): Promise<void> {
    if (!this.walSyncer && !this.checkpointer) {
      if (this.db.open) this.db.close();
      return Promise.resolve();
    }
    return (async () => {
      await this.walSyncer?.close();
      await this.checkpointer?.close();
      if (this.db.open) this.db.close();
    })();
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.v;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  head(): Head | undefined {
    const row = this.stmts.headBlock.get();
    if (!row) return undefined;
    const header = JSON.parse(row.header) as BlockHeader;
    return headOf(row.height, row.hash, header);
  }

  getBlock(height: number): { hash: string; header: BlockHeader; headerText: string } | undefined {
    const row = this.stmts.getBlock.get(height);
    return row ? { hash: row.hash, header: JSON.parse(row.header) as BlockHeader, headerText: row.header } : undefined;
  }

  /** The ids of a block's txs in order (for inclusion proofs, without reading bodies). */
  blockTxIds(height: number): Buffer[] {
    return this.stmts.txIdsOfBlock.all(height).map((r) => r.id);
  }

  blockTxs(height: number): StoredTx[] {
    return this.stmts.txsOfBlock.all(height).map(toStoredTx);
  }

  getTx(id: string): StoredTx | undefined {
    const row = this.stmts.txById.get(Buffer.from(id, 'hex'));
    return row ? toStoredTx(row) : undefined;
  }

  hasTx(id: string): boolean {
    return this.stmts.hasTx.get(Buffer.from(id, 'hex')) !== undefined;
  }

  getRaw(key: string): string | undefined {
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const value = this.stmts.getState.get(key)?.value;
    if (this.cache.size >= SqliteStore.CACHE_LIMIT) this.cache.clear();
    this.cache.set(key, value ?? null);
    return value;
  }

  getVersioned(key: string): { value: string; height: number; index: number } | undefined {
    const row = this.stmts.getStateVersioned.get(key);
    return row ? { value: row.value, height: row.height, index: row.idx } : undefined;
  }

  rangeRaw(prefix: string, options: RangeOptions = {}): StateEntry[] {
    const limit = clampLimit(options.limit);
    if (options.after !== undefined && options.after >= prefix) {
      return this.stmts.rangeAfter.all(options.after, prefixEnd(prefix), limit);
    }
    return this.stmts.rangeFrom.all(prefix, prefixEnd(prefix), limit);
  }

  indexRaw(index: string, term: string, options: RangeOptions = {}): StateEntry[] {
    return this.stmts.indexLookup.all(index, term, options.after ?? '', clampLimit(options.limit));
  }

  /** Every version of a key, newest first, the current one included (null = deleted at that version). */
  history(key: string, limit = 100): Array<{ height: number; index: number; value: string | null }> {
    return this.stmts.historyOf.all(key, key, limit).map((r) => ({ height: r.height, index: r.idx, value: r.value }));
  }

  /**
   * Drops the cache of committed values: after an enclosing transaction (several blocks committed together) rolled
   * back, it may hold values that were never committed.
   */
  forgetCachedValues(): void {
    this.cache.clear();
  }

  /**
   * Commits one block atomically: header, txs, state, history and indexes (inside an enclosing transaction, as a
   * savepoint of it).
   */
  commitBlock(commit: BlockCommit): void {
    const { header } = commit;
    this.db.transaction(() => {
      this.stmts.insertBlock.run(header.height, commit.hash, JSON.stringify(header));
      for (const tx of commit.txs) {
        this.stmts.insertTx.run(header.height, tx.index, Buffer.from(tx.id, 'hex'), tx.body, tx.result, tx.sigOk ? 1 : 0);
      }
      // History keeps the versions that are no longer current: the committed one a write supersedes, earlier writes
      // of the same key in this block, and deletions. The current version lives only in `state`, so a key written
      // once (most are) costs one row, not two.
      const finalWrites = new Map<string, StateWrite>();
      for (const w of commit.writes) {
        if (this.keepsHistory(w.key)) {
          const earlier = finalWrites.get(w.key);
          if (earlier) this.stmts.insertHistory.run(w.key, header.height, earlier.txIndex, earlier.value);
          // A key the cache knows to be absent has no committed version to move (new keys are most writes).
          else if (this.cache.get(w.key) !== null) this.stmts.supersede.run(w.key);
        }
        finalWrites.set(w.key, w);
      }
      for (const w of finalWrites.values()) {
        this.updateIndexes(w.key, w.value);
        if (w.value === null) {
          if (this.keepsHistory(w.key)) this.stmts.insertHistory.run(w.key, header.height, w.txIndex, null);
          this.stmts.deleteState.run(w.key);
        } else this.stmts.upsertState.run(w.key, w.value, header.height, w.txIndex);
      }
    })();
    // Only after the transaction committed: a failed commit must leave the cache as the database is.
    for (const w of commit.writes) if (this.cache.has(w.key)) this.cache.set(w.key, w.value);
    this.checkpointer?.request();
  }

  /**
   * Replaces the index rows of `key`, called before the state row is overwritten: the old terms come from the
   * old value, so the idx table needs no secondary index (every row of it is covered by its primary key, which
   * verify compares row by row).
   */
  private updateIndexes(key: string, value: string | null): void {
    let old: string | null | undefined;
    for (const spec of this.indexes.values()) {
      if (!key.startsWith(spec.prefix)) continue;
      if (old === undefined) old = this.getRaw(key) ?? null;
      const oldTerms = old === null ? new Set<string>() : new Set(spec.terms(JSON.parse(old)));
      const newTerms = value === null ? new Set<string>() : new Set(spec.terms(JSON.parse(value)));
      for (const term of oldTerms) if (!newTerms.has(term)) this.stmts.indexDelete.run(spec.name, term, key);
      for (const term of newTerms) if (!oldTerms.has(term)) this.stmts.indexInsert.run(spec.name, term, key);
    }
  }

  saveCheckpoint(c: Checkpoint): void {
    this.stmts.insertCheckpoint.run(c.height, c.signer, JSON.stringify(c));
  }

  checkpoints(upToHeight = Number.MAX_SAFE_INTEGER, limit = 100): Checkpoint[] {
    return this.stmts.checkpointsFrom.all(upToHeight, limit).map((r) => JSON.parse(r.body) as Checkpoint);
  }

  /** Iterates a whole table in primary-key order (verify compares replayed and stored tables with it). */
  iterateTable(table: 'state' | 'history' | 'idx'): IterableIterator<Record<string, unknown>> {
    const order = { state: 'key', history: 'key, height, idx', idx: 'name, term, key' }[table];
    return this.db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).iterate() as IterableIterator<Record<string, unknown>>;
  }
}

/** The head a block makes (what the next block is checked against). */
export function headOf(height: number, hash: string, header: BlockHeader): Head {
  return { height, hash, stateHash: header.stateHash, time: header.time, slot: header.slot };
}

function readHistoryPolicy(db: Database.Database): string[] {
  const row = db.prepare("SELECT v FROM meta WHERE k = 'historyExempt'").get() as { v: string } | undefined;
  if (!row) return [];
  const parsed = JSON.parse(row.v) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new CodedError('STORE_INCOMPATIBLE', 'the ledger database has an unreadable history policy');
  }
  return parsed as string[];
}

type TxRow = { height: number; idx: number; id: Buffer; body: string; result: string; sig_ok: number };

function toStoredTx(row: TxRow): StoredTx {
  return { height: row.height, index: row.idx, id: row.id.toString('hex'), body: row.body, result: row.result, sigOk: row.sig_ok === 1 };
}
