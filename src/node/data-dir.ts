import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { assertGenesis, type Genesis } from '../contracts/identity/index.js';
import { readKeyFile, writeKeyFile, type Identity } from '../crypto/index.js';
import { CodedError } from '../ledger/index.js';
import type { SequencerConfig } from './node.js';

/**
 * A node's data directory:
 *   node.json          settings (institution, listen address, sequencer, key file)
 *   genesis.json       the consortium's genesis document (identical on every node)
 *   keys/node.key.json the node's key, encrypted with the operator's passphrase
 *   ledger.db          blocks, txs and world state (SQLite, WAL)
 */
export interface NodeSettings {
  institution: string;
  host: string;
  port: number;
  keyFile: string;
  sequencer: SequencerConfig;
  checkpointInterval: number;
  /** Demo data dirs use the documented demo passphrase and can act as demo people. */
  demo?: boolean;
  /**
   * Where other institutions' nodes answer for record exchange (institution id -> base URL), overriding the
   * endpoints registered on the ledger: for a node that reaches its peers by other addresses (a private network,
   * a tunnel, or a local cluster on other ports).
   */
  exchangeEndpoints?: Record<string, string>;
  /**
   * Threads that check tx signatures (default: one per core; 0 checks them on the node's own thread). Several nodes
   * on one machine (a demo cluster, the benchmark) share its cores: `sharedCoreWorkers` gives each its share.
   */
  signatureWorkers?: number;
  /** SQLite's page cache for the ledger, MiB (default 64): more keeps a large ledger's hot pages in memory. */
  sqliteCacheMiB?: number;
}

/** Signature threads for each of `nodes` nodes sharing this machine's cores (at least one each). */
export function sharedCoreWorkers(nodes: number): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, nodes)));
}

export const DEFAULT_SETTINGS: Omit<NodeSettings, 'institution'> = {
  host: '127.0.0.1',
  port: 8080,
  keyFile: 'keys/node.key.json',
  sequencer: { kind: 'solo', maxTxsPerBlock: 2000, maxWaitMs: 5 },
  checkpointInterval: 10,
};

export function isInitialized(dataDir: string): boolean {
  return existsSync(join(dataDir, 'node.json'));
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new CodedError('CONFIG_INVALID', `cannot read ${what} at ${path}: ${(err as Error).message}`);
  }
}

export function readSettings(dataDir: string): NodeSettings {
  if (!isInitialized(dataDir)) {
    throw new CodedError('NOT_INITIALIZED', `${dataDir} is not a MedChain data directory; run "medchain init --data ${dataDir}" first`);
  }
  const settings = { ...DEFAULT_SETTINGS, ...readJson<NodeSettings>(join(dataDir, 'node.json'), 'node settings') };
  const workers = settings.signatureWorkers;
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 256)) {
    throw new CodedError('CONFIG_INVALID', `node.json: signatureWorkers must be a whole number from 0 to 256, not ${JSON.stringify(workers)}`);
  }
  const cache = settings.sqliteCacheMiB;
  if (cache !== undefined && !(Number.isInteger(cache) && cache >= 1 && cache <= MAX_SQLITE_CACHE_MIB)) {
    throw new CodedError('CONFIG_INVALID', `node.json: sqliteCacheMiB must be a whole number from 1 to ${MAX_SQLITE_CACHE_MIB}, not ${JSON.stringify(cache)}`);
  }
  return settings;
}

/** Largest SQLite page cache a node.json may ask for (MiB): 1 TiB, far above any machine's memory. */
export const MAX_SQLITE_CACHE_MIB = 1024 * 1024;

export function readGenesis(dataDir: string): Genesis {
  const genesis = readJson<unknown>(join(dataDir, 'genesis.json'), 'genesis');
  try {
    assertGenesis(genesis);
  } catch (err) {
    throw new CodedError('CONFIG_INVALID', `genesis.json is invalid: ${(err as Error).message}`);
  }
  return genesis;
}

export async function readNodeIdentity(dataDir: string, settings: NodeSettings, passphrase: string): Promise<Identity> {
  return readKeyFile(join(dataDir, settings.keyFile), passphrase);
}

/** Writes a new data directory. Refuses to overwrite an initialized one. */
export async function writeDataDir(
  dataDir: string,
  genesis: Genesis,
  settings: NodeSettings,
  nodeIdentity: Identity,
  passphrase: string,
): Promise<void> {
  if (isInitialized(dataDir)) throw new CodedError('ALREADY_INITIALIZED', `${dataDir} already holds a MedChain node`);
  const inst = genesis.institutions.find((i) => i.id === settings.institution);
  if (inst && inst.nodeKey !== nodeIdentity.did) {
    throw new CodedError('CONFIG_INVALID', `the key ${nodeIdentity.did} is not the node key of ${settings.institution} in genesis`);
  }
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dataDir, 'genesis.json'), JSON.stringify(genesis, null, 2) + '\n');
  await writeKeyFile(join(dataDir, settings.keyFile), nodeIdentity, passphrase);
  writeFileSync(join(dataDir, 'node.json'), JSON.stringify(settings, null, 2) + '\n');
}
