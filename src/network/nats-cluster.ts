import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';

/**
 * Runs a local nats-server cluster (JetStream on, every server on 127.0.0.1) for `medchain cluster up`, the
 * fault tests and the cluster benchmark. The consensus is NATS's own (Raft inside JetStream); this module only
 * writes the server configs and starts, kills and restarts the `nats-server` processes.
 */

export interface NatsServerSpec {
  name: string;
  clientPort: number;
  clusterPort: number;
  /** JetStream store directory (kept across restarts of this server). */
  storeDir: string;
  configFile: string;
  logFile: string;
}

export interface NatsClusterSpec {
  clusterName: string;
  servers: NatsServerSpec[];
}

/** Largest message a server accepts; a block is cut before its wire form reaches `maxBlockBytes` (below this). */
export const NATS_MAX_PAYLOAD = 8 * 1024 * 1024;

export function natsServerBinary(): string {
  return process.env['NATS_SERVER_BIN'] ?? 'nats-server';
}

export function natsServerAvailable(): boolean {
  const probe = spawnSync(natsServerBinary(), ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Lays out `size` servers under `dir` with the given ports ([client, cluster] pairs). */
export function planNatsCluster(dir: string, ports: Array<[number, number]>, clusterName = 'medchain'): NatsClusterSpec {
  const servers = ports.map(([clientPort, clusterPort], i) => {
    const name = `nats-${i + 1}`;
    return {
      name,
      clientPort,
      clusterPort,
      storeDir: join(dir, name, 'jetstream'),
      configFile: join(dir, name, 'nats.conf'),
      logFile: join(dir, name, 'nats.log'),
    };
  });
  return { clusterName, servers };
}

/** The nats-server configuration of one member (the format of `nats-server -c`). */
export function natsConfig(spec: NatsClusterSpec, server: NatsServerSpec): string {
  const routes = spec.servers.filter((s) => s !== server).map((s) => `    nats-route://127.0.0.1:${s.clusterPort}`);
  return [
    `server_name: ${JSON.stringify(server.name)}`,
    `listen: "127.0.0.1:${server.clientPort}"`,
    `max_payload: ${NATS_MAX_PAYLOAD}`,
    `jetstream {`,
    `  store_dir: ${JSON.stringify(server.storeDir)}`,
    `  max_memory_store: 268435456`,
    `}`,
    `cluster {`,
    `  name: ${JSON.stringify(spec.clusterName)}`,
    `  listen: "127.0.0.1:${server.clusterPort}"`,
    `  routes: [`,
    ...routes,
    `  ]`,
    `}`,
    '',
  ].join('\n');
}

export function writeNatsConfigs(spec: NatsClusterSpec): void {
  for (const server of spec.servers) {
    mkdirSync(server.storeDir, { recursive: true });
    writeFileSync(server.configFile, natsConfig(spec, server));
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The caller no longer waits (the process meant to listen has exited): stop polling.
    if (signal?.aborted) throw signal.reason;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = netConnect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Resolves once a server just spawned accepts connections; rejects at once, with the end of its log, if it exits
 * first (a port taken meanwhile, a bad config), rather than after the port wait's timeout with no reason given.
 */
export async function whenListening(child: ChildProcess, server: NatsServerSpec, timeoutMs = 10_000): Promise<void> {
  const stop = new AbortController();
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    const log = existsSync(server.logFile) ? readFileSync(server.logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
    stop.abort(new Error(`nats-server ${server.name} exited at start (${signal ?? `exit code ${code}`}); the end of ${server.logFile}:\n${log}`));
  };
  child.once('exit', onExit);
  try {
    await waitForPort(server.clientPort, timeoutMs, stop.signal);
  } finally {
    child.off('exit', onExit);
  }
}

/** Starts one server; `detached` leaves it running after this process exits (for `cluster up`). */
export function spawnNatsServer(server: NatsServerSpec, detached = false): ChildProcess {
  const log = openSync(server.logFile, 'a');
  const child = spawn(natsServerBinary(), ['-c', server.configFile], { stdio: ['ignore', log, log], detached });
  closeSync(log);
  if (detached) child.unref();
  return child;
}

/** A running cluster owned by this process (tests, benchmarks). */
export class NatsCluster {
  private readonly children = new Map<string, ChildProcess>();

  private constructor(readonly spec: NatsClusterSpec) {}

  static async start(spec: NatsClusterSpec): Promise<NatsCluster> {
    writeNatsConfigs(spec);
    const cluster = new NatsCluster(spec);
    try {
      for (const s of spec.servers) cluster.children.set(s.name, spawnNatsServer(s));
      await Promise.all(spec.servers.map((s) => whenListening(cluster.children.get(s.name)!, s)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** Client URLs of every server (a client connects to any and fails over to the others). */
  urls(): string[] {
    return this.spec.servers.map((s) => `nats://127.0.0.1:${s.clientPort}`);
  }

  /** Process ids of the running servers (the benchmark reads their CPU time). */
  pids(): number[] {
    return [...this.children.values()].map((c) => c.pid!).filter((pid) => pid !== undefined);
  }

  isRunning(index: number): boolean {
    return this.children.has(this.spec.servers[index]!.name);
  }

  /** Stops one server with a signal (SIGKILL for a crash) and waits for it to exit. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const server = this.spec.servers[index]!;
    const child = this.children.get(server.name);
    if (!child) return;
    this.children.delete(server.name);
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Starts a stopped server again with its old store: it rejoins the cluster and catches up. */
  async restart(index: number): Promise<void> {
    const server = this.spec.servers[index]!;
    if (this.children.has(server.name)) return;
    const child = spawnNatsServer(server);
    this.children.set(server.name, child);
    await whenListening(child, server);
  }

  async stop(): Promise<void> {
    await Promise.all(this.spec.servers.map((_, i) => this.kill(i, 'SIGTERM')));
  }
}

/** A TCP port free on 127.0.0.1 right now (for local clusters in tests and benchmarks). */
export async function freeLocalPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
