import { cpus, totalmem } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function machineInfo() {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * What to undo if the benchmark is interrupted (SIGINT, SIGTERM): its temporary directories, which hold ledgers
 * of up to tens of GB, and processes it started. Run synchronously, newest first, then the process exits.
 */
const onInterrupt = new Set<() => void>();
let interruptHandlersInstalled = false;

function installInterruptCleanup(): void {
  if (interruptHandlersInstalled) return;
  interruptHandlersInstalled = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      for (const undo of [...onInterrupt].reverse()) {
        try {
          undo();
        } catch {
          // best effort: the others still run
        }
      }
      process.stderr.write(`bench: interrupted (${signal}); temporary files removed\n`);
      process.exit(code);
    });
  }
}

/** Registers `undo` to run if the benchmark is interrupted; returns the function that unregisters it. */
export function undoOnInterrupt(undo: () => void): () => void {
  installInterruptCleanup();
  onInterrupt.add(undo);
  return () => onInterrupt.delete(undo);
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(path, { recursive: true, force: true });
  const forget = undoOnInterrupt(remove);
  return {
    path,
    remove: () => {
      forget();
      remove();
    },
  };
}

export type Log = (message: string) => void;
