import { closeSync, fdatasync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Durability of a WAL-mode SQLite database without blocking the JS thread on disk I/O.
 *
 * SQLite's `synchronous = FULL` fsyncs the write-ahead log inside COMMIT, and its automatic checkpoint copies the
 * log into the database file (and fsyncs that) inside the COMMIT that crosses the threshold: both on the calling
 * thread, which for a node is the thread that also executes blocks, answers the API and reads the block stream.
 * Measured with three writers on one disk (`scripts/sqlite-io-probe.mjs`, PERFORMANCE.md), a 300-row block spent
 * ~12 ms inserting rows, then ~19 ms in COMMIT and ~28 ms checkpointing on average (p99 36 and 52 ms; an earlier
 * run on a busier machine: 31 and 38 ms, p99s near 200 ms). Instead the store commits with `synchronous = NORMAL` (the log is written,
 * not flushed), and
 * - `WalSyncer.sync()` flushes the log (fdatasync) on libuv's thread pool; concurrent calls share one that started
 *   after them. The ledger tells a submitter "committed" only once the sync covering its block resolved, so a receipt
 *   still means the block is on disk (a power cut may lose later, unacknowledged blocks, which a replicated node
 *   takes again from the stream);
 * - `BackgroundCheckpointer` runs passive checkpoints on a worker thread with its own connection after commits.
 *   SQLite lets a checkpoint run beside a writer; the writer's own automatic checkpoint stays on at a higher
 *   threshold, which bounds the log if the worker falls behind.
 */

/** Coalescing fdatasync of one file (the `-wal` of a database). */
export class WalSyncer {
  private fd: number | undefined;
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private readonly stats = { fsyncs: 0, totalMs: 0, maxMs: 0, recentMs: 0 };

  constructor(private readonly walPath: string) {}

  /** How many fsyncs ran and how long they took (a receipt waits for one: a slow disk shows here first). */
  status(): { fsyncs: number; avgMs: number; recentMs: number; maxMs: number } {
    const { fsyncs, totalMs, maxMs, recentMs } = this.stats;
    const r = (n: number) => Math.round(n * 10) / 10;
    return { fsyncs, avgMs: r(fsyncs ? totalMs / fsyncs : 0), recentMs: r(recentMs), maxMs: r(maxMs) };
  }

  /** Resolves once everything written to the file before this call is on disk. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    if (!this.inFlight) return (this.inFlight = this.fsyncOnce());
    // The fsync running now may have started before our write: wait for the next one, shared by every caller
    // that arrives meanwhile.
    this.queued ??= this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return (this.inFlight ??= this.fsyncOnce());
      });
    return this.queued;
  }

  private fsyncOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let fd: number;
      try {
        fd = this.fd ??= openSync(this.walPath, 'r');
      } catch (err) {
        this.inFlight = undefined;
        reject(err as Error);
        return;
      }
      const started = performance.now();
      // fdatasync, as SQLite itself syncs its log: the data and the file size, but not the modification time, so
      // once the log has reached its working size (it is reused from the start after each checkpoint) a sync needs
      // no file-system journal commit — which on one disk shared by several nodes waits for the others' writes
      // (measured: fsync maxima of 0.6–2.5 s under the cluster benchmark's load).
      fdatasync(fd, (err) => {
        const ms = performance.now() - started;
        this.stats.fsyncs++;
        this.stats.totalMs += ms;
        this.stats.maxMs = Math.max(this.stats.maxMs, ms);
        this.stats.recentMs = this.stats.fsyncs === 1 ? ms : 0.9 * this.stats.recentMs + 0.1 * ms;
        this.inFlight = undefined;
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** Waits for the syncs under way, then releases the file. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([this.inFlight, this.queued]);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.postMessage('closed'); return; }
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (err) { parentPort.postMessage({ error: String(err && err.message || err) }); }
});
`;

/**
 * Requests within this many ms share one checkpoint: at dozens of small blocks a second, one per block would fsync
 * twice per block and copy a page that several blocks changed once for each of them.
 */
const COALESCE_MS = 250;

/** Passive checkpoints of a WAL database on a worker thread, asked for after commits (coalesced over 250 ms). */
export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private closing: Promise<void> | undefined;
  /** The coalescing window under way: requests meanwhile are covered by the checkpoint at its end. */
  private timer: NodeJS.Timeout | undefined;

  constructor(path: string, onError: (message: string) => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CHECKPOINT_WORKER, { eval: true, workerData: { path, driver } });
    this.worker.unref();
    this.worker.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'error' in m) onError(String((m as { error: unknown }).error));
    });
    this.worker.on('error', (err) => onError(err.message));
  }

  /** Asks for a checkpoint soon; returns at once (one postMessage per window, not per block). */
  request(): void {
    if (this.closing || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closing) this.worker.postMessage('checkpoint');
    }, COALESCE_MS);
    this.timer.unref();
  }

  close(): Promise<void> {
    clearTimeout(this.timer);
    this.closing ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        void this.worker.terminate().finally(resolve);
      };
      const onMessage = (m: unknown) => m === 'closed' && done();
      const timer = setTimeout(done, 2000);
      this.worker.on('message', onMessage);
      this.worker.postMessage('close');
    });
    return this.closing;
  }
}
