import type { Command } from 'commander';
import { fail, print } from '../output.js';
import { actingIdentity, actorOptions, callSigned, type ActorOptions } from './records.js';

/**
 * Regulator oversight from the command line: access statistics and anomalies (no patient data), signed as the
 * acting regulator or auditor (`--key FILE`, or `--as reg-luo-bin@qingshan-health-commission` in the demo).
 */

type WindowOptions = ActorOptions & { from?: string; to?: string };

const query = (opts: WindowOptions, extra: Record<string, string | undefined> = {}) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ from: opts.from, to: opts.to, ...extra })) if (v !== undefined) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
};

export function registerOversight(program: Command): void {
  const oversight = program.command('oversight').description('access statistics and anomalies for the regulator and auditors (no patient data)');
  const window = (cmd: Command) =>
    actorOptions(cmd).option('--from <day>', 'first UTC+8 day, YYYY-MM-DD (default: 29 days before --to)').option('--to <day>', 'last UTC+8 day (default: today)');

  window(oversight.command('stats').description('access-log counts per day, by requesting institution, purpose and outcome')).action(async (opts: WindowOptions) => {
    try {
      print(await callSigned(opts.url, await actingIdentity(opts), 'GET', `/v1/oversight/access-stats${query(opts)}`));
    } catch (err) {
      fail(err);
    }
  });

  window(oversight.command('anomalies').description('break-the-glass accesses, users reading unusually many patients in a day, bursts of denied attempts'))
    .option('--limit <n>', 'at most this many of each kind')
    .action(async (opts: WindowOptions & { limit?: string }) => {
      try {
        print(await callSigned(opts.url, await actingIdentity(opts), 'GET', `/v1/oversight/anomalies${query(opts, { limit: opts.limit })}`));
      } catch (err) {
        fail(err);
      }
    });
}
