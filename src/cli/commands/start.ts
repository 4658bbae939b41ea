import type { Command } from 'commander';
import pino from 'pino';
import { buildApi } from '../../api/index.js';
import { createNode, isInitialized, readGenesis, readNodeIdentity, readSettings } from '../../node/index.js';
import { fail } from '../output.js';
import { resolvePassphrase } from '../passphrase.js';
import { initDemo } from './init.js';
import { demoHostedInstitutions, type DemoPerson } from '../../demo/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StartOptions {
  data: string;
  port?: number;
  host?: string;
  initDemo?: boolean;
  passphraseFile?: string;
}

/** Opens the node in `data` and serves its API until SIGINT/SIGTERM, then shuts down cleanly. */
export async function startNode(opts: StartOptions): Promise<void> {
  const logger = pino({ level: process.env['MEDCHAIN_LOG_LEVEL'] ?? 'info' });
  if (!isInitialized(opts.data)) {
    if (!opts.initDemo) throw Object.assign(new Error(`${opts.data} is not initialized; run "medchain init --data ${opts.data} --demo"`), { code: 'NOT_INITIALIZED' });
    logger.info({ data: opts.data }, 'first run: creating the demo consortium');
    await initDemo(opts.data);
  }
  const settings = readSettings(opts.data);
  const genesis = readGenesis(opts.data);
  const identity = await readNodeIdentity(opts.data, settings, resolvePassphrase(opts, settings.demo));
  const node = await createNode({
    dataDir: opts.data,
    genesis,
    identity,
    institution: settings.institution,
    sequencer: settings.sequencer,
    checkpointInterval: settings.checkpointInterval,
    ...(settings.signatureWorkers !== undefined ? { signatureWorkers: settings.signatureWorkers } : {}),
    ...(settings.sqliteCacheMiB !== undefined ? { sqliteCacheMiB: settings.sqliteCacheMiB } : {}),
    logger,
    ...(settings.exchangeEndpoints ? { exchangeEndpoints: settings.exchangeEndpoints } : {}),
    // The embedded demo node holds every demo institution's vault; a real node (and each node of a demo
    // cluster, `medchain cluster up`) holds only its own.
    ...(settings.demo && settings.sequencer.kind === 'solo' ? { hostedInstitutions: demoHostedInstitutions() } : {}),
  });
  if (settings.sequencer.kind !== 'solo') {
    // A node that was down, or a new member syncing from genesis, serves its API only once it has caught up.
    logger.info({ height: node.status().head.height }, 'catching up from the block stream');
    await node.whenCaughtUp();
  }
  // DEMO ONLY: the demo people the web application lets one sign in as (written by `medchain init --demo`).
  const peopleFile = join(opts.data, 'demo', 'people.json');
  const demoPeople = settings.demo && existsSync(peopleFile) ? (JSON.parse(readFileSync(peopleFile, 'utf8')) as DemoPerson[]) : undefined;
  const app = await buildApi(node, { logger: false, ...(demoPeople ? { demoPeople } : {}) });
  const host = opts.host ?? settings.host;
  const port = opts.port ?? settings.port;
  try {
    await app.listen({ host, port });
  } catch (err) {
    await node.close();
    throw err;
  }
  const head = node.status().head;
  logger.info({ url: `http://${host}:${port}`, institution: settings.institution, height: head.height }, 'MedChain node is serving');
  process.stdout.write(`MedChain ${genesis.consortium.name} — ${settings.institution}\n  API   http://${host}:${port}/v1/status\n  Docs  http://${host}:${port}/docs\n  Web   http://${host}:${port}/\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await app.close();
    await node.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start a node and serve its API')
    .requiredOption('--data <dir>', 'data directory')
    .option('--port <n>', 'API port (default from node.json, 8080)', (v) => Number.parseInt(v, 10))
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .option('--init-demo', 'create the demo consortium in --data if it is empty')
    .option('--passphrase-file <file>', 'file holding the node key passphrase (else MEDCHAIN_PASSPHRASE)')
    .action(async (opts: StartOptions) => {
      try {
        await startNode(opts);
      } catch (err) {
        fail(err);
      }
    });
}
