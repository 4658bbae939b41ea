import { join } from 'node:path';
import type { Command } from 'commander';
import { createContractRuntime } from '../../contracts/index.js';
import { verifyLedger, WorkerSignatureVerifier } from '../../ledger/index.js';
import { LEDGER_FILE, readGenesis, readSettings } from '../../node/index.js';
import { fail, print } from '../output.js';
import { createProgress } from '../progress.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('re-check every signature, Merkle root, hash link and the world state by replay (exit 1 and the first bad height if not intact)')
    .requiredOption('--data <dir>', 'data directory (the node should be stopped, or use a copy)')
    .option('--json', 'print the report as one JSON object')
    .action(async (opts: { data: string; json?: boolean }) => {
      try {
        readSettings(opts.data);
        const genesis = readGenesis(opts.data);
        const verifier = new WorkerSignatureVerifier();
        let bar: ReturnType<typeof createProgress> | undefined;
        const report = await verifyLedger({
          path: join(opts.data, LEDGER_FILE),
          personality: createContractRuntime(),
          verifier,
          limits: genesis.limits,
          onProgress: (height, target) => {
            bar ??= createProgress('verify', target, opts.json);
            bar.update(height, target);
          },
        }).finally(() => verifier.close());
        bar?.stop();
        if (opts.json) print(report);
        else if (report.ok) {
          process.stdout.write(`ledger intact: ${report.blocks} blocks, ${report.txs} txs, head ${report.headHeight} (${Math.round(report.durationMs)} ms)\n`);
        } else {
          const where = report.firstBadHeight === -1 ? 'outside any block' : `at height ${report.firstBadHeight}`;
          process.stdout.write(`LEDGER DAMAGED ${where}: ${report.problem}\n`);
        }
        process.exitCode = report.ok ? 0 : 1;
      } catch (err) {
        fail(err);
      }
    });
}
