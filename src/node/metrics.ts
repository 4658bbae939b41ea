import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExecutedBlock, Ledger } from '../ledger/index.js';

/** Prometheus metrics of one node, in a registry of its own (no process-global state). */
export function createMetrics(ledger: Ledger): { registry: Registry; observeCommit(ms: number): void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'medchain_process_' });
  const height = new Gauge({ name: 'medchain_block_height', help: 'Height of the committed head', registers: [registry] });
  const txs = new Counter({ name: 'medchain_txs_committed_total', help: 'Transactions committed, by status', labelNames: ['status'], registers: [registry] });
  const blocks = new Counter({ name: 'medchain_blocks_committed_total', help: 'Blocks committed', registers: [registry] });
  const blockSize = new Histogram({
    name: 'medchain_block_txs',
    help: 'Transactions per block',
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
    registers: [registry],
  });
  const pending = new Gauge({ name: 'medchain_txs_pending', help: 'Admitted transactions awaiting commit', registers: [registry] });
  const faults = new Counter({ name: 'medchain_faults_total', help: 'Sequencing or commit failures', registers: [registry] });
  const commitLatency = new Histogram({
    name: 'medchain_submit_to_commit_seconds',
    help: 'Time from submission to durable commit',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  height.set(ledger.head().height);
  ledger.on('block', (b: ExecutedBlock) => {
    height.set(b.header.height);
    blocks.inc();
    blockSize.observe(b.txs.length);
    let ok = 0;
    for (const r of b.results) if (r.status === 'ok') ok++;
    if (ok > 0) txs.inc({ status: 'ok' }, ok);
    if (b.results.length - ok > 0) txs.inc({ status: 'error' }, b.results.length - ok);
    pending.set(ledger.pendingCount());
  });
  ledger.on('fault', () => faults.inc());
  return { registry, observeCommit: (ms) => commitLatency.observe(ms / 1000) };
}
