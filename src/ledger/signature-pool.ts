import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { ed25519Verify } from '../crypto/index.js';

/**
 * Ed25519 verification is the most expensive step of admitting and replaying txs (~55 µs each with libsodium).
 * This pool spreads it over worker threads so both cores work; results are pure functions of the input,
 * so offloading never affects determinism.
 *
 * The worker body is a small self-contained script, evaluated from a string so the same code runs from TypeScript
 * sources (tests, tsx) and from the compiled dist/. It loads libsodium (sodium-native) by its resolved path and
 * applies exactly the checks of `ed25519Verify`, which every peer uses for the same signatures.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const sodium = require(${JSON.stringify(createRequire(import.meta.url).resolve('sodium-native'))});
parentPort.on('message', ({ id, items }) => {
  const out = new Uint8Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const [pub, msg, sig] = items[i];
    try {
      const p = Buffer.from(pub.buffer, pub.byteOffset, pub.byteLength), s = Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength);
      out[i] = p.length === 32 && s.length === 64 && sodium.crypto_sign_verify_detached(s, Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength), p) ? 1 : 0;
    } catch { out[i] = 0; }
  }
  parentPort.postMessage({ id, out }, [out.buffer]);
});
`;

export interface SignatureCheck {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export interface SignatureVerifier {
  verify(check: SignatureCheck): Promise<boolean>;
  verifyMany(checks: SignatureCheck[]): Promise<boolean[]>;
  close(): Promise<void>;
}

/** Verifies on the calling thread (small deployments, tests, and a fallback when workers = 0). */
export class InlineSignatureVerifier implements SignatureVerifier {
  async verify(c: SignatureCheck): Promise<boolean> {
    return ed25519Verify(c.publicKey, c.message, c.signature);
  }
  async verifyMany(checks: SignatureCheck[]): Promise<boolean[]> {
    return checks.map((c) => ed25519Verify(c.publicKey, c.message, c.signature));
  }
  async close(): Promise<void> {}
}

interface Pending {
  resolve: (out: Uint8Array) => void;
  reject: (err: Error) => void;
}

export class WorkerSignatureVerifier implements SignatureVerifier {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextId = 0;
  private queue: Array<{ check: SignatureCheck; resolve: (ok: boolean) => void; reject: (e: Error) => void }> = [];
  private flushScheduled = false;
  private closed = false;

  constructor(
    size = Math.max(1, availableParallelism()),
    private readonly batchSize = 128,
  ) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.unref();
      worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
        const p = this.pending.get(id);
        this.pending.delete(id);
        this.load[i]!--;
        p?.resolve(out);
      });
      worker.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  verify(check: SignatureCheck): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('signature verifier is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ check, resolve, reject });
      if (this.queue.length >= this.batchSize) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  async verifyMany(checks: SignatureCheck[]): Promise<boolean[]> {
    return Promise.all(checks.map((c) => this.verify(c)));
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      const items = batch.map((b) => [b.check.publicKey, b.check.message, b.check.signature]);
      this.send(items).then(
        (out) => batch.forEach((b, i) => b.resolve(out[i] === 1)),
        (err: Error) => batch.forEach((b) => b.reject(err)),
      );
    }
  }

  private send(items: unknown[]): Promise<Uint8Array> {
    let target = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.load[i]! < this.load[target]!) target = i;
    const id = this.nextId++;
    this.load[target]!++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[target]!.postMessage({ id, items });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
