import type { Command } from 'commander';
import { clusterDown, clusterStatus, clusterUp } from '../../network/local-cluster.js';
import { fail, print } from '../output.js';

/** `medchain cluster up|down|status`: a demo consortium of N institution nodes on a local 3-server nats cluster. */
export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('run the demo consortium as one node per institution on a local nats cluster');
  cluster
    .command('up')
    .description('start a 3-server nats cluster (JetStream) and N institution nodes on 127.0.0.1')
    .option('--dir <dir>', 'cluster directory (nats stores, node data dirs, logs)', './cluster')
    .option('--nodes <n>', 'number of institution nodes (the first N demo institutions)', (v) => Number.parseInt(v, 10), 3)
    .option('--api-port <n>', 'API port of the first node; the others follow', (v) => Number.parseInt(v, 10))
    .option('--nats-port <n>', 'client port of the first nats-server (default 4222); routes at +10', (v) => Number.parseInt(v, 10))
    .action(async (opts: { dir: string; nodes: number; apiPort?: number; natsPort?: number }) => {
      try {
        const file = await clusterUp({
          dir: opts.dir,
          nodes: opts.nodes,
          apiPort: opts.apiPort,
          natsPort: opts.natsPort,
          // The node processes run this same CLI (built JS, or the sources under tsx in tests).
          cli: { command: process.execPath, args: [...process.execArgv, process.argv[1]!] },
          log: (line) => process.stderr.write(`${line}\n`),
        });
        print({ up: opts.dir, nats: file.nats.servers.map((s) => `nats://127.0.0.1:${s.clientPort}`), nodes: file.nodes.map((n) => ({ institution: n.institution, url: n.url })) });
      } catch (err) {
        fail(err);
      }
    });
  cluster
    .command('down')
    .description('stop the nodes and nats-servers started by "cluster up" (data is kept)')
    .option('--dir <dir>', 'cluster directory', './cluster')
    .action(async (opts: { dir: string }) => {
      try {
        print(await clusterDown(opts.dir));
      } catch (err) {
        fail(err);
      }
    });
  cluster
    .command('status')
    .description('nats-servers and nodes of the local cluster: running, height, caught up')
    .option('--dir <dir>', 'cluster directory', './cluster')
    .action(async (opts: { dir: string }) => {
      try {
        print(await clusterStatus(opts.dir));
      } catch (err) {
        fail(err);
      }
    });
}
