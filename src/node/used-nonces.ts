import Database from 'better-sqlite3';

/**
 * The nonces of signed requests a node accepted (user requests to its API, other nodes' record release requests),
 * kept in the node's data dir (`nonces.db`) until each request can no longer pass its own freshness check. Being on
 * disk, a request accepted before a restart (or a crash) is still refused as a replay after it, without refusing the
 * requests that were merely in flight across the restart, as an in-memory set must.
 *
 * Committed in WAL mode with `synchronous = NORMAL`: a claim survives the process (a kill included) once `claim`
 * returned; a power cut can lose the last claims before a checkpoint, which only a request captured in that moment
 * and replayed within its expiry (minutes) could exploit.
 */
export class UsedNonces {
  private readonly db: Database.Database;
  private readonly claimStmt: Database.Statement<[string, number, number]>;
  private readonly purge: Database.Statement<[number]>;
  private readonly count: Database.Statement<[], { n: number }>;
  /** Expired rows are deleted at most this often (one indexed range delete), not on every claim. */
  private static readonly PURGE_INTERVAL_MS = 1000;
  private purgedAt = -Infinity;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS used_nonces (key TEXT PRIMARY KEY, expires INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS used_nonces_by_expiry ON used_nonces (expires);`);
    // Inserts a new key, or takes over one that has expired (its request could no longer pass its freshness check, so
    // this is a new request reusing the nonce): one row changed exactly when the claim succeeds.
    this.claimStmt = this.db.prepare(
      'INSERT INTO used_nonces (key, expires) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE used_nonces.expires <= ?',
    );
    this.purge = this.db.prepare('DELETE FROM used_nonces WHERE expires <= ?');
    this.count = this.db.prepare('SELECT count(*) AS n FROM used_nonces');
  }

  /** Records `key` until `expiresAt` (ms); false if it is already recorded (and not yet expired). */
  claim(key: string, expiresAt: number, now: number): boolean {
    if (now - this.purgedAt >= UsedNonces.PURGE_INTERVAL_MS) {
      this.purge.run(now);
      this.purgedAt = now;
    }
    return this.claimStmt.run(key, expiresAt, now).changes === 1;
  }

  get size(): number {
    return this.count.get()!.n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

