import { spawn, type ChildProcess } from 'node:child_process';
import { undoOnInterrupt } from './util.js';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_INSTITUTIONS, DEMO_PASSPHRASE, demoGenesis, demoHandle, demoIdentity } from '../demo/index.js';
import { DEFAULT_SETTINGS, writeDataDir, type NodeSettings } from '../node/index.js';
import { freeLocalPort } from '../network/nats-cluster.js';

/**
 * Institution nodes as separate `medchain start` processes, for the cluster benchmark: each has its own JS thread,
 * signature workers, SQLite database and API port, as on separate machines (but sharing this machine's cores).
 * The benchmark talks to them over their HTTP API only.
 */

export interface NodeProcessHandle {
  institution: string;
  url: string;
  logFile: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** How to run this CLI again in a child process (the same way this process was started). */
function cliCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: [...process.execArgv, process.argv[1]!] };
}

/**
 * Writes a demo data dir for the `index`-th demo institution, ordering on the given nats servers, on a free port
 * unless one is given; `exchangeEndpoints` tells it where the other nodes of this run answer, `signatureWorkers` how
 * many signature threads it runs (default: one per core).
 */
export async function writePeerDataDir(
  dataDir: string,
  index: number,
  servers: string[],
  options: { port?: number; exchangeEndpoints?: Record<string, string>; signatureWorkers?: number } = {},
): Promise<{ institution: string; port: number }> {
  const institution = DEMO_INSTITUTIONS[index]!.id;
  const port = options.port ?? (await freeLocalPort());
  const settings: NodeSettings = {
    ...DEFAULT_SETTINGS,
    institution,
    port,
    sequencer: { kind: 'jetstream', servers },
    demo: true,
    ...(options.exchangeEndpoints ? { exchangeEndpoints: options.exchangeEndpoints } : {}),
    ...(options.signatureWorkers !== undefined ? { signatureWorkers: options.signatureWorkers } : {}),
  };
  await writeDataDir(dataDir, demoGenesis(), settings, demoIdentity(demoHandle.node(institution)), DEMO_PASSPHRASE);
  return { institution, port };
}

/** Starts `medchain start --data DIR` and resolves once its API answers (after it has caught up). */
export async function startPeerProcess(dataDir: string, institution: string, port: number, timeoutMs = 600_000): Promise<NodeProcessHandle> {
  const { command, args } = cliCommand();
  const logFile = join(dataDir, 'node.log');
  const out = openSync(logFile, 'a');
  const child = spawn(command, [...args, 'start', '--data', dataDir], { stdio: ['ignore', out, out], env: { ...process.env, MEDCHAIN_LOG_LEVEL: 'warn' } });
  closeSync(out);
  // An interrupted benchmark must not leave node processes behind (they hold its temporary directory).
  const forget = undoOnInterrupt(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      forget();
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the node of ${institution} exited during start:\n${tail(logFile)}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet (still catching up)
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the node of ${institution} did not answer within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { institution, url, logFile, child, exited };
}

export async function stopPeerProcess(peer: NodeProcessHandle): Promise<void> {
  if (peer.child.exitCode !== null) return;
  peer.child.kill('SIGTERM');
  const killer = setTimeout(() => peer.child.kill('SIGKILL'), 15_000);
  await peer.exited;
  clearTimeout(killer);
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc (Linux). */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0; // exited
  }
}

export function tail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
}

export interface PeerStatus {
  head: { height: number; hash: string; stateHash: string };
  pendingTxs: number;
  sequencerStatus?: Record<string, unknown>;
  storage?: Record<string, unknown>;
}

export async function peerStatus(url: string): Promise<PeerStatus> {
  const res = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as PeerStatus;
}

export interface BatchReceipt {
  height?: number;
  code?: string;
}

/** Submits txs through POST /v1/txs/batch; resolves with one receipt or error body per tx, in order. */
export async function submitBatch(url: string, txs: unknown[]): Promise<BatchReceipt[]> {
  const res = await fetch(`${url}/v1/txs/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ txs }),
    signal: AbortSignal.timeout(120_000),
  });
  const body = (await res.json()) as { receipts?: BatchReceipt[]; code?: string };
  if (!res.ok || !body.receipts) return txs.map(() => ({ code: body.code ?? `HTTP_${res.status}` }));
  return body.receipts;
}

/** Submits one tx through POST /v1/txs; resolves with its receipt (height) or its error code. */
export async function submitOne(url: string, tx: unknown): Promise<BatchReceipt> {
  const res = await fetch(`${url}/v1/txs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tx),
    signal: AbortSignal.timeout(120_000),
  });
  const body = (await res.json()) as { height?: number; code?: string; result?: { status: string; code?: string } };
  if (!res.ok) return { code: body.code ?? `HTTP_${res.status}` };
  return body.result?.status === 'ok' ? { height: body.height! } : { code: body.result?.code ?? 'TX_FAILED', height: body.height! };
}
