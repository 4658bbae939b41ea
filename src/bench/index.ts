import { runConsentBench } from './consent-bench.js';
import { runLedgerBench } from './ledger-bench.js';
import { runRecordsBench } from './records-bench.js';
import { runDrugsBench } from './drugs-bench.js';
import { runOversightBench } from './oversight-bench.js';
import { machineInfo, type Log } from './util.js';

export const BENCH_SUITES = ['ledger', 'consent', 'records', 'drugs', 'oversight'] as const;
export type BenchSuite = (typeof BENCH_SUITES)[number] | 'all';

/** Runs benchmark suites and returns one JSON-serializable object of measured figures. */
export async function runBench(suite: BenchSuite, options: { quick: boolean; log: Log }) {
  const started = new Date().toISOString();
  const suites = suite === 'all' ? BENCH_SUITES : [suite];
  const results: Record<string, unknown> = {};
  for (const s of suites) {
    options.log(`== ${s}${options.quick ? ' (quick)' : ''}`);
    if (s === 'ledger') results[s] = await runLedgerBench(options);
    if (s === 'consent') results[s] = await runConsentBench(options);
    if (s === 'records') results[s] = await runRecordsBench(options);
    if (s === 'drugs') results[s] = await runDrugsBench(options);
    if (s === 'oversight') results[s] = await runOversightBench(options);
  }
  return { started, quick: options.quick, machine: machineInfo(), results };
}
