import type { Command } from 'commander';
import { BENCH_SUITES, runBench, type BenchSuite } from '../../bench/index.js';
import { CodedError } from '../../ledger/index.js';
import { fail, print } from '../output.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(`run a benchmark suite (${[...BENCH_SUITES, 'all'].join(', ')}); figures in docs/PERFORMANCE.md`)
    .argument('<suite>')
    .option('--quick', 'smaller workloads (about a minute)')
    .option('--json', 'print one JSON object of the measured figures (progress goes to stderr)')
    .action(async (suite: string, opts: { quick?: boolean; json?: boolean }) => {
      try {
        if (![...BENCH_SUITES, 'all'].includes(suite)) throw new CodedError('USAGE', `unknown suite ${suite}; one of ${[...BENCH_SUITES, 'all'].join(', ')}`);
        const result = await runBench(suite as BenchSuite, { quick: !!opts.quick, log: (m) => process.stderr.write(`${m}\n`) });
        if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
        else print(result);
        process.exit(0);
      } catch (err) {
        fail(err);
      }
    });
}
