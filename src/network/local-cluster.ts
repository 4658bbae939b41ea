import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { DEMO_INSTITUTIONS, DEMO_PASSPHRASE, demoGenesis, demoHandle, demoIdentity, seedDemo } from '../demo/index.js';
import { CodedError } from '../ledger/index.js';
import { createNode, DEFAULT_SETTINGS, isInitialized, sharedCoreWorkers, writeDataDir, type NodeSettings } from '../node/index.js';
import { natsServerAvailable, planNatsCluster, spawnNatsServer, whenListening, writeNatsConfigs, type NatsClusterSpec } from './nats-cluster.js';

/**
 * `medchain cluster up|down|status`: a demo consortium on this machine — a 3-server nats cluster (JetStream)
 * and one node process per institution, each with its own data dir, key, vault and API port. Everything runs
 * detached so the command returns; the pids and ports are kept in `DIR/cluster.json`.
 */

export interface ClusterNode {
  institution: string;
  dataDir: string;
  port: number;
  url: string;
  pid?: number;
  logFile: string;
}

export interface ClusterFile {
  nats: NatsClusterSpec;
  natsPids: number[];
  nodes: ClusterNode[];
}

export interface ClusterUpOptions {
  dir: string;
  nodes: number;
  /** API port of the first institution; the others follow. */
  apiPort?: number;
  /** Client port of the first nats-server; the others follow, cluster routes start at natsPort + 10. */
  natsPort?: number;
  /** How to run this CLI again (for the node processes): executable and arguments before the command. */
  cli: { command: string; args: string[] };
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function clusterFile(dir: string): string {
  return join(dir, 'cluster.json');
}

export function readClusterFile(dir: string): ClusterFile {
  if (!existsSync(clusterFile(dir))) throw new CodedError('NOT_INITIALIZED', `no cluster in ${dir} (run "medchain cluster up --dir ${dir}")`);
  return JSON.parse(readFileSync(clusterFile(dir), 'utf8')) as ClusterFile;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Installs nats-server through the project's own script when it is missing. */
export function ensureNatsServer(log: (line: string) => void): void {
  if (natsServerAvailable()) return;
  log('nats-server is missing: installing the system packages (scripts/system-deps.sh)');
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'system-deps.sh')], { stdio: 'inherit' });
  if (r.status !== 0 || !natsServerAvailable()) throw new CodedError('DEPENDENCY_MISSING', 'nats-server could not be installed (Debian package nats-server)');
}

async function waitForNode(node: ClusterNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${node.url}/v1/status`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (!isAlive(node.pid)) {
      const tail = existsSync(node.logFile) ? readFileSync(node.logFile, 'utf8').split('\n').slice(-8).join('\n') : '';
      throw new CodedError('NODE_FAILED', `the node of ${node.institution} exited during start:\n${tail}`);
    }
    if (Date.now() > deadline) throw new CodedError('NODE_FAILED', `the node of ${node.institution} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Writes the demo consortium's ledger data (staff, patients, devices, governance) through the lead hospital's
 * node, in this process, before the node processes start: the other nodes receive it from the block stream.
 * Clinical records are not seeded here: each would belong in its custodian's own vault (see docs/OPERATIONS.md).
 */
async function seedThroughLead(lead: ClusterNode, servers: string[], log: (line: string) => void): Promise<void> {
  const node = await createNode({
    dataDir: lead.dataDir,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(lead.institution)),
    institution: lead.institution,
    logger: pino({ level: 'warn' }),
    sequencer: { kind: 'jetstream', servers },
  });
  try {
    await node.whenCaughtUp();
    if (node.ledger.head().height > 0) return; // seeded before
    log('seeding the demo consortium (staff, patients, devices, governance) through the lead hospital');
    const { people } = await seedDemo(node);
    mkdirSync(join(lead.dataDir, 'demo'), { recursive: true });
    writeFileSync(join(lead.dataDir, 'demo', 'people.json'), JSON.stringify(people, null, 2) + '\n');
  } finally {
    await node.close();
  }
}

export async function clusterUp(options: ClusterUpOptions): Promise<ClusterFile> {
  const log = options.log ?? (() => undefined);
  const dir = resolve(options.dir);
  const count = options.nodes;
  if (!Number.isInteger(count) || count < 1 || count > DEMO_INSTITUTIONS.length) {
    throw new CodedError('USAGE', `--nodes must be between 1 and ${DEMO_INSTITUTIONS.length}`);
  }
  if (existsSync(clusterFile(dir))) {
    const old = readClusterFile(dir);
    if (old.natsPids.some(isAlive) || old.nodes.some((n) => isAlive(n.pid))) {
      throw new CodedError('CLUSTER_RUNNING', `a cluster is already running from ${dir}; run "medchain cluster down --dir ${dir}" first`);
    }
  }
  ensureNatsServer(log);
  const natsPort = options.natsPort ?? 4222;
  const apiPort = options.apiPort ?? DEMO_INSTITUTIONS[0]!.port;
  const nats = planNatsCluster(join(dir, 'nats'), [0, 1, 2].map((i) => [natsPort + i, natsPort + 10 + i] as [number, number]));
  writeNatsConfigs(nats);
  const file: ClusterFile = { nats, natsPids: [], nodes: [] };
  const save = () => writeFileSync(clusterFile(dir), JSON.stringify(file, null, 2) + '\n');
  const natsChildren = nats.servers.map((s) => spawnNatsServer(s, true));
  file.natsPids = natsChildren.map((c) => c.pid!);
  save();
  await Promise.all(nats.servers.map((s, i) => whenListening(natsChildren[i]!, s)));
  const servers = nats.servers.map((s) => `nats://127.0.0.1:${s.clientPort}`);
  log(`nats cluster: ${servers.join(' ')}`);

  file.nodes = DEMO_INSTITUTIONS.slice(0, count).map((inst, i) => {
    const dataDir = join(dir, 'nodes', inst.id);
    return { institution: inst.id, dataDir, port: apiPort + i, url: `http://127.0.0.1:${apiPort + i}`, logFile: join(dir, 'nodes', `${inst.id}.log`) };
  });
  // The ledger's demo endpoints name the default ports; with --api-port the nodes answer elsewhere.
  const exchangeEndpoints = Object.fromEntries(file.nodes.map((n) => [n.institution, n.url]));
  for (const n of file.nodes) {
    const settings: NodeSettings = {
      ...DEFAULT_SETTINGS,
      institution: n.institution,
      port: n.port,
      sequencer: { kind: 'jetstream', servers },
      demo: true,
      exchangeEndpoints,
      // All of them on this machine's cores.
      signatureWorkers: sharedCoreWorkers(count),
    };
    if (isInitialized(n.dataDir)) {
      // Ports may differ from the last run: node.json follows the cluster.
      const current = JSON.parse(readFileSync(join(n.dataDir, 'node.json'), 'utf8')) as NodeSettings;
      writeFileSync(join(n.dataDir, 'node.json'), JSON.stringify({ ...current, port: n.port, sequencer: settings.sequencer, exchangeEndpoints, signatureWorkers: settings.signatureWorkers }, null, 2) + '\n');
    } else {
      await writeDataDir(n.dataDir, demoGenesis(), settings, demoIdentity(demoHandle.node(n.institution)), DEMO_PASSPHRASE);
    }
  }
  await seedThroughLead(file.nodes[0]!, servers, log);

  for (const n of file.nodes) {
    const out = openSync(n.logFile, 'a');
    const child = spawn(options.cli.command, [...options.cli.args, 'start', '--data', n.dataDir], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env },
    });
    closeSync(out);
    child.unref();
    n.pid = child.pid;
  }
  save();
  await Promise.all(file.nodes.map((n) => waitForNode(n, options.readyTimeoutMs ?? 60_000)));
  for (const n of file.nodes) log(`${n.institution}: ${n.url}`);
  return file;
}

async function stopPid(pid: number | undefined, timeoutMs: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid!, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) process.kill(pid!, 'SIGKILL');
}

/** Stops the node processes, then the nats-servers; data stays in DIR for the next `up`. */
export async function clusterDown(dir: string): Promise<{ stoppedNodes: number; stoppedNats: number }> {
  const file = readClusterFile(resolve(dir));
  const nodes = file.nodes.filter((n) => isAlive(n.pid));
  await Promise.all(nodes.map((n) => stopPid(n.pid, 10_000)));
  const nats = file.natsPids.filter(isAlive);
  await Promise.all(nats.map((pid) => stopPid(pid, 10_000)));
  return { stoppedNodes: nodes.length, stoppedNats: nats.length };
}

export interface ClusterStatus {
  nats: Array<{ name: string; url: string; running: boolean }>;
  nodes: Array<{ institution: string; url: string; running: boolean; height?: number; caughtUp?: boolean; error?: string }>;
}

export async function clusterStatus(dir: string): Promise<ClusterStatus> {
  const file = readClusterFile(resolve(dir));
  const nodes = await Promise.all(
    file.nodes.map(async (n) => {
      const base = { institution: n.institution, url: n.url, running: isAlive(n.pid) };
      try {
        const res = await fetch(`${n.url}/v1/status`);
        const s = (await res.json()) as { head: { height: number }; sequencerStatus?: { caughtUp?: boolean } };
        return { ...base, height: s.head.height, caughtUp: s.sequencerStatus?.caughtUp };
      } catch (err) {
        return { ...base, error: (err as Error).message };
      }
    }),
  );
  return {
    nats: file.nats.servers.map((s, i) => ({ name: s.name, url: `nats://127.0.0.1:${s.clientPort}`, running: isAlive(file.natsPids[i]) })),
    nodes,
  };
}
