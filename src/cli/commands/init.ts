import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { Command } from 'commander';
import { assertGenesis, type Genesis } from '../../contracts/identity/index.js';
import { readKeyFile } from '../../crypto/index.js';
import { DEMO_INSTITUTIONS, DEMO_PASSPHRASE, demoGenesis, demoHandle, demoHostedInstitutions, demoIdentity, seedDemo, seedDemoDrugs, seedDemoRecords } from '../../demo/index.js';
import { CodedError } from '../../ledger/index.js';
import { createNode, DEFAULT_SETTINGS, readGenesis, writeDataDir, type NodeSettings } from '../../node/index.js';
import { fail, print } from '../output.js';
import { resolvePassphrase } from '../passphrase.js';
import { createProgress } from '../progress.js';

/**
 * Creates the demo consortium's lead-hospital node in `dataDir` and fills it with demo data
 * (staff, 60 synthetic patients with their FHIR records in the vaults, consents and accesses, devices, governance votes).
 */
export async function initDemo(dataDir: string, options: { port?: number; quiet?: boolean } = {}): Promise<void> {
  const lead = DEMO_INSTITUTIONS[0]!;
  const settings: NodeSettings = { ...DEFAULT_SETTINGS, institution: lead.id, port: options.port ?? lead.port, demo: true };
  const genesis = demoGenesis();
  await writeDataDir(dataDir, genesis, settings, demoIdentity(demoHandle.node(lead.id)), DEMO_PASSPHRASE);
  const node = await createNode({
    dataDir,
    genesis,
    identity: demoIdentity(demoHandle.node(lead.id)),
    institution: lead.id,
    logger: pino({ level: 'warn' }),
    synchronous: 'normal',
    hostedInstitutions: demoHostedInstitutions(),
  });
  const bars = new Map<string, ReturnType<typeof createProgress>>();
  try {
    const progress = (step: string, done: number, total: number) => {
      let bar = bars.get(step);
      if (!bar) {
        bar = createProgress(`demo ${step}`, total, options.quiet);
        bars.set(step, bar);
      }
      bar.update(done, total);
      if (done === total) bar.stop();
    };
    const { people } = await seedDemo(node, progress);
    await seedDemoRecords(node, people, progress);
    await seedDemoDrugs(node, people, progress);
    // Synthetic personal data stays off the ledger, beside it, as an institution's own records would.
    mkdirSync(join(dataDir, 'demo'), { recursive: true });
    writeFileSync(join(dataDir, 'demo', 'people.json'), JSON.stringify(people, null, 2) + '\n');
  } finally {
    await node.close();
  }
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a node data directory (--demo: the demo consortium with demo data)')
    .requiredOption('--data <dir>', 'data directory')
    .option('--demo', 'create the demo county medical alliance and fill it with demo data')
    .option('--genesis <file>', 'genesis.json of the consortium this node joins')
    .option('--institution <id>', 'the institution this node serves')
    .option('--key <file>', "the node's key file (see `medchain keys generate`)")
    .option('--port <n>', 'API port', (v) => Number.parseInt(v, 10))
    .option('--passphrase-file <file>', 'file holding the key passphrase (else MEDCHAIN_PASSPHRASE)')
    .action(async (opts: { data: string; demo?: boolean; genesis?: string; institution?: string; key?: string; port?: number; passphraseFile?: string }) => {
      try {
        if (opts.demo) {
          await initDemo(opts.data, { port: opts.port });
          print({ initialized: opts.data, consortium: demoGenesis().consortium.name, demo: true });
          return;
        }
        if (!opts.genesis || !opts.institution || !opts.key) {
          throw new CodedError('USAGE', 'give --demo, or all of --genesis, --institution and --key');
        }
        const genesis = JSON.parse(readFileSync(opts.genesis, 'utf8')) as Genesis;
        assertGenesis(genesis);
        if (!genesis.institutions.some((i) => i.id === opts.institution)) {
          throw new CodedError('CONFIG_INVALID', `institution ${opts.institution} is not in the genesis document`);
        }
        const passphrase = resolvePassphrase(opts);
        const identity = await readKeyFile(opts.key, passphrase);
        const settings: NodeSettings = { ...DEFAULT_SETTINGS, institution: opts.institution, ...(opts.port ? { port: opts.port } : {}) };
        await writeDataDir(opts.data, genesis, settings, identity, passphrase);
        copyFileSync(opts.genesis, join(opts.data, 'genesis.json'));
        readGenesis(opts.data);
        print({ initialized: opts.data, institution: opts.institution, node: identity.did });
      } catch (err) {
        fail(err);
      }
    });
}
