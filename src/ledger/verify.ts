import { proposalHeaderOf, verifyCheckpoint, type BlockHeader, type BlockProposal, type Checkpoint } from './block.js';
import { CodedError } from './errors.js';
import { BlockExecutor, type Personality } from './executor.js';
import type { SignatureVerifier } from './signature-pool.js';
import { headOf, SqliteStore, type Head } from './sqlite-store.js';
import { parseStoredTx, signatureBytes, txSigningMessage, type ParsedTx, type TxLimits } from './tx.js';

/**
 * An fsck for the ledger: replays every block from genesis into a fresh in-memory store with the same
 * executor, and checks that every stored byte is what replay produces — block headers and hashes, tx bodies,
 * ids and signatures, Merkle roots and hash links, results, and finally every row of world state, key
 * history and indexes. Reports the first height at which anything differs.
 */

export interface VerifyOptions {
  path: string;
  personality: Personality;
  verifier: SignatureVerifier;
  limits: TxLimits;
  onProgress?: (height: number, target: number) => void;
}

export interface VerifyReport {
  ok: boolean;
  chain: string;
  /** Highest block in the store. */
  headHeight: number;
  blocks: number;
  txs: number;
  firstBadHeight?: number;
  problem?: string;
  durationMs: number;
}

/** Blocks loaded (and their signatures being checked) ahead of the one being replayed. */
const PREFETCH_BLOCKS = 3;

class Mismatch extends Error {
  constructor(
    /** -1 when the damage cannot be attributed to a height (e.g. SQLite structure outside any row). */
    readonly height: number,
    message: string,
  ) {
    super(message);
  }
}

export async function verifyLedger(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const stored = new SqliteStore({ path: options.path, indexes: options.personality.indexes, readonly: true, ...(options.personality.stateLayout !== undefined ? { stateLayout: options.personality.stateLayout } : {}) });
  // Replay under the stored database's own history policy (fixed when it was created).
  const replay = new SqliteStore({ path: ':memory:', indexes: options.personality.indexes, synchronous: 'off', historyExempt: stored.historyExempt });
  // One read transaction: a node that keeps committing while we verify does not change what we see.
  stored.db.exec('BEGIN');
  const chain = stored.getMeta('chain') ?? '';
  // Read without parsing the header: a damaged head header must be reported as a mismatch, not thrown.
  const headRow = stored.db.prepare('SELECT MAX(height) AS height FROM blocks').get() as { height: number | null };
  const storedHead = headRow.height === null ? undefined : { height: headRow.height };
  let blocks = 0;
  let txCount = 0;
  try {
    if (!storedHead) throw new Mismatch(0, 'the store holds no blocks');
    const genesisText = stored.getMeta('genesis');
    if (!genesisText) throw new Mismatch(0, 'the store holds no genesis document');
    const executor = new BlockExecutor(replay, options.personality, chain);

    const block0 = readBlock(stored, 0);
    if (!block0) throw new Mismatch(0, 'block 0 is missing');
    const genesis = executor.executeGenesis(safeParse(genesisText, 0), safeParse<BlockHeader>(block0.headerText, 0).time);
    compareBlock(0, genesis.hash, genesis.header, block0);
    replay.commitBlock(genesis);
    blocks++;

    let head: Head = headOf(0, genesis.hash, genesis.header);
    // Signature checks for the next blocks run in the worker pool while this one executes.
    const ahead: Array<LoadedBlock | { failed: Error }> = [];
    let nextToLoad = 1;
    const fill = () => {
      while (ahead.length < PREFETCH_BLOCKS && nextToLoad <= storedHead.height) ahead.push(prefetch(stored, nextToLoad++, options));
    };
    for (let height = 1; height <= storedHead.height; height++) {
      fill();
      const loaded = ahead.shift()!;
      if ('failed' in loaded) throw loaded.failed;
      const { block, proposal, stored: rows } = loaded.parsed;
      fill();
      const signatures = await loaded.signatures;
      try {
        executor.checkProposal(proposal, head);
      } catch (err) {
        throw new Mismatch(height, (err as Error).message);
      }
      const executed = executor.execute(proposal, head, signatures);
      executed.txs.forEach((tx, i) => {
        if (tx.result !== rows[i]!.result) throw new Mismatch(height, `stored result of tx ${i} differs from replay`);
        if (tx.sigOk !== rows[i]!.sigOk) throw new Mismatch(height, `stored signature flag of tx ${i} differs from replay`);
      });
      compareBlock(height, executed.hash, executed.header, block);
      // The replay store needs tx ids (duplicate checks), not their bodies: already compared above.
      replay.commitBlock({ ...executed, txs: executed.txs.map((t) => ({ ...t, body: '', result: '' })) });
      head = headOf(height, executed.hash, executed.header);
      blocks++;
      txCount += executed.txs.length;
      options.onProgress?.(height, storedHead.height);
    }
    const orphanTxs = stored.db.prepare('SELECT MIN(height) AS h FROM txs WHERE height > ?').get(storedHead.height) as { h: number | null };
    if (orphanTxs.h !== null) throw new Mismatch(orphanTxs.h, 'transactions stored beyond the head block');
    try {
      compareTables(stored, replay);
    } catch (err) {
      if (err instanceof Mismatch) throw err;
      throw new Mismatch(-1, `cannot read world state: ${(err as Error).message}`);
    }
    checkTxIdIndex(stored);
    checkCheckpoints(stored);
    checkSqliteIntegrity(stored);
    return { ok: true, chain, headHeight: storedHead.height, blocks, txs: txCount, durationMs: performance.now() - started };
  } catch (err) {
    if (!(err instanceof Mismatch)) throw err;
    return {
      ok: false,
      chain,
      headHeight: storedHead?.height ?? -1,
      blocks,
      txs: txCount,
      firstBadHeight: err.height,
      problem: err.message,
      durationMs: performance.now() - started,
    };
  } finally {
    if (stored.db.inTransaction) stored.db.exec('COMMIT');
    stored.close();
    replay.close();
  }
}

function readBlock(store: SqliteStore, height: number): ReturnType<SqliteStore['getBlock']> {
  try {
    return store.getBlock(height);
  } catch {
    throw new Mismatch(height, 'stored block header is not valid JSON');
  }
}

function safeParse<T>(text: string, height: number): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Mismatch(height, 'stored data is not valid JSON');
  }
}

function compareBlock(height: number, hash: string, header: BlockHeader, stored: { hash: string; headerText: string }): void {
  if (JSON.stringify(header) !== stored.headerText) throw new Mismatch(height, 'stored block header differs from replay');
  if (hash !== stored.hash) throw new Mismatch(height, 'stored block hash differs from replay');
}

interface LoadedBlock {
  parsed: { block: { hash: string; headerText: string }; proposal: BlockProposal; stored: Array<{ result: string; sigOk: boolean }> };
  signatures: Promise<boolean[]>;
}

/** Loads a block ahead of time; a problem in it is reported only when replay reaches it. */
function prefetch(store: SqliteStore, height: number, options: VerifyOptions): LoadedBlock | { failed: Error } {
  try {
    return loadBlock(store, height, options);
  } catch (err) {
    return { failed: err instanceof Mismatch ? err : new Mismatch(height, `cannot read block ${height}: ${(err as Error).message}`) };
  }
}

function loadBlock(store: SqliteStore, height: number, options: VerifyOptions): LoadedBlock {
  const block = store.getBlock(height);
  if (!block) throw new Mismatch(height, `block ${height} is missing`);
  const header = safeParse<BlockHeader>(block.headerText, height);
  const rows = store.blockTxs(height);
  const txs: ParsedTx[] = rows.map((row, i) => {
    if (row.index !== i) throw new Mismatch(height, `tx ${i} is missing`);
    let tx: ParsedTx;
    try {
      tx = parseStoredTx(row.body, options.limits);
    } catch (err) {
      throw new Mismatch(height, `tx ${i} does not parse: ${err instanceof CodedError ? err.message : 'invalid'}`);
    }
    if (tx.id !== row.id) throw new Mismatch(height, `tx ${i} id does not match its contents`);
    return tx;
  });
  const proposalHeader = proposalHeaderOf(header);
  const signatures = options.verifier.verifyMany(
    txs.map((tx) => ({ publicKey: tx.signerPublicKey, message: txSigningMessage(tx.envelopeBytes), signature: signatureBytes(tx.signed) })),
  );
  return { parsed: { block, proposal: { header: proposalHeader, proposerSig: header.proposerSig, txs }, stored: rows }, signatures };
}

const TABLE_COLUMNS = { state: ['key', 'value', 'height', 'idx'], history: ['key', 'height', 'idx', 'value'], idx: ['name', 'term', 'key'] } as const;

/** Row-by-row comparison of derived tables; a difference names the height that last wrote the key. */
function compareTables(stored: SqliteStore, replay: SqliteStore): void {
  for (const table of ['state', 'history', 'idx'] as const) {
    const columns = TABLE_COLUMNS[table];
    const a = stored.iterateTable(table);
    const b = replay.iterateTable(table);
    for (;;) {
      const x = a.next();
      const y = b.next();
      if (x.done && y.done) break;
      const rowA = x.done ? undefined : x.value;
      const rowB = y.done ? undefined : y.value;
      if (!rowA || !rowB || columns.some((c) => rowA[c] !== rowB[c])) {
        a.return?.();
        b.return?.();
        const { height, key } = locateDifference(table, stored, replay, rowA, rowB);
        throw new Mismatch(height, `${table} row differs from replay (key ${key})`);
      }
    }
  }
}

/**
 * The one secondary index (tx id -> position) is not read by replay, so check it against the table: every row
 * (read in primary-key order, i.e. from the table itself) must be found through the index with the same
 * position, and the index must hold no extra entries.
 */
function checkTxIdIndex(stored: SqliteStore): void {
  const lookup = stored.db.prepare<[Buffer, number, number], { one: number }>(
    'SELECT 1 AS one FROM txs INDEXED BY txs_by_id WHERE id = ? AND height = ? AND idx = ?',
  );
  const rows = stored.db.prepare('SELECT height, idx, id FROM txs ORDER BY height, idx').iterate() as IterableIterator<{ height: number; idx: number; id: Buffer }>;
  let count = 0;
  for (const row of rows) {
    count++;
    if (!lookup.get(row.id, row.height, row.idx)) {
      rows.return?.();
      throw new Mismatch(row.height, `tx ${row.idx} is missing from the tx id index`);
    }
  }
  const indexed = stored.db.prepare('SELECT COUNT(*) AS c FROM txs INDEXED BY txs_by_id WHERE id IS NOT NULL').get() as { c: number };
  if (indexed.c !== count) throw new Mismatch(-1, `the tx id index holds ${indexed.c} entries for ${count} txs`);
}

/** Every stored checkpoint must be correctly signed and state exactly what the chain holds at its height. */
function checkCheckpoints(stored: SqliteStore): void {
  const rows = stored.db.prepare('SELECT height, body FROM checkpoints ORDER BY height').all() as Array<{ height: number; body: string }>;
  for (const row of rows) {
    let c: Checkpoint;
    try {
      c = JSON.parse(row.body) as Checkpoint;
    } catch {
      throw new Mismatch(row.height, 'stored checkpoint is not valid JSON');
    }
    const block = stored.getBlock(row.height);
    const ok =
      c.height === row.height &&
      verifyCheckpoint(c) &&
      block !== undefined &&
      c.chain === block.header.chain &&
      c.blockHash === block.hash &&
      c.stateHash === block.header.stateHash;
    if (!ok) throw new Mismatch(row.height, 'stored checkpoint does not match the chain or its signature');
  }
}

/** SQLite's own structural check: catches damage outside any row (free pages, b-tree structure). */
function checkSqliteIntegrity(stored: SqliteStore): void {
  const rows = stored.db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  const problems = rows.map((r) => r.integrity_check).filter((p) => p !== 'ok');
  if (problems.length > 0) throw new Mismatch(-1, `SQLite integrity check: ${problems.slice(0, 3).join('; ')}`);
}

const PRIMARY_KEYS = { state: ['key'], history: ['key', 'height', 'idx'], idx: ['name', 'term', 'key'] } as const;

/** The row of `table` with the primary key of `row`, or undefined. */
function rowByKey(store: SqliteStore, table: 'state' | 'history' | 'idx', row: Record<string, unknown>): Record<string, unknown> | undefined {
  const cols = PRIMARY_KEYS[table];
  return store.db.prepare(`SELECT * FROM ${table} WHERE ${cols.map((c) => `${c} = ?`).join(' AND ')}`).get(...cols.map((c) => row[c])) as
    | Record<string, unknown>
    | undefined;
}

/**
 * Names the height at which a derived-table difference arose. The two tables are walked in primary-key order, so
 * when one side lacks a row, the other side's current row belongs to a *neighbouring* key, and blaming it would
 * name an unrelated height. Instead each side's row is looked up in the other table: a replayed row that the store
 * lacks or holds differently is dated by replay (trusted); a stored row that replay lacks entirely is dated by its
 * own claim (its height column, or for an index row the version of its key).
 */
function locateDifference(
  table: 'state' | 'history' | 'idx',
  stored: SqliteStore,
  replay: SqliteStore,
  a: Record<string, unknown> | undefined,
  b: Record<string, unknown> | undefined,
): { height: number; key: string } {
  const columns = TABLE_COLUMNS[table];
  const same = (x: Record<string, unknown> | undefined, y: Record<string, unknown>) => x !== undefined && columns.every((c) => x[c] === y[c]);
  const heightOf = (row: Record<string, unknown>, source: SqliteStore): number | undefined => {
    if (typeof row['height'] === 'number') return row['height'];
    const key = row['key'];
    if (typeof key !== 'string') return undefined;
    return source.getVersioned(key)?.height ?? source.history(key, 1)[0]?.height;
  };
  const found: Array<{ height: number; key: string }> = [];
  if (b && !same(rowByKey(stored, table, b), b)) {
    const h = heightOf(b, replay);
    if (h !== undefined) found.push({ height: h, key: String(b['key']) });
  }
  if (a) {
    const replayed = rowByKey(replay, table, a);
    if (!same(replayed, a)) {
      const h = replayed ? heightOf(replayed, replay) : (heightOf(a, stored) ?? heightOf(a, replay));
      if (h !== undefined) found.push({ height: h, key: String(a['key']) });
    }
  }
  if (found.length === 0) return { height: 0, key: String((a ?? b)?.['key']) };
  return found.reduce((x, y) => (y.height < x.height ? y : x));
}
