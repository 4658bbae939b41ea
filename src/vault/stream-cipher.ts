import { createCipheriv, createDecipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { IntegrityError } from './errors.js';

/**
 * Chunked AES-256-GCM for records of any size (a genome or a CT series as well as a lab result), in constant memory.
 *
 * Format: a 16-byte header `"MCV1" | chunkSize (u32 BE) | nonce prefix (7 bytes) | 0x00`, then chunks of
 * `ciphertext || 16-byte tag`. Chunk i uses nonce `prefix | i (u32 BE) | last (0x00 or 0x01)` and the header as
 * associated data. Every chunk but the last holds exactly `chunkSize` bytes of plaintext and is followed by more
 * ciphertext; the last (0..chunkSize bytes) carries the last flag. So any change, truncation, reordering or
 * extension of the ciphertext fails authentication (the STREAM construction of Hoang, Reyhanitabar, Rogaway, Vizár).
 */

const MAGIC = Buffer.from('MCV1', 'ascii');
const HEADER_BYTES = 16;
const TAG_BYTES = 16;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MAX_CHUNKS = 2 ** 32 - 1;

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0, 0, 7);
  n.writeUInt32BE(index, 7);
  n[11] = last ? 1 : 0;
  return n;
}

function checkKey(key: Uint8Array): void {
  if (key.length !== 32) throw new TypeError('data key must be 32 bytes (AES-256)');
}

/** Collects incoming buffers without repeated concatenation; takes exactly n bytes from the front. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }
  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.parts[0]!;
      const used = Math.min(head.length, n - filled);
      head.copy(out, filled, 0, used);
      filled += used;
      if (used === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(used);
    }
    this.length -= n;
    return out;
  }
}

/** Encrypts a stream. After 'finish', `sha256()` is the hex SHA-256 of all ciphertext bytes written out. */
export class EncryptStream extends Transform {
  private readonly header: Buffer;
  private readonly prefix: Buffer;
  private readonly queue = new ByteQueue();
  private readonly hash: Hash = createHash('sha256');
  private index = 0;
  private digest: string | undefined;
  plaintextBytes = 0;
  ciphertextBytes = 0;

  private readonly key: Buffer;

  constructor(
    key: Uint8Array,
    private readonly chunkSize = DEFAULT_CHUNK_SIZE,
  ) {
    super();
    checkKey(key);
    // Own copy: callers may zero their key as soon as the stream exists.
    this.key = Buffer.from(key);
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 2 ** 24) throw new RangeError('chunk size must be 1 B to 16 MiB');
    this.prefix = randomBytes(7);
    this.header = Buffer.concat([MAGIC, Buffer.alloc(4), this.prefix, Buffer.alloc(1)]);
    this.header.writeUInt32BE(chunkSize, 4);
    this.emitBytes(this.header);
  }

  private emitBytes(b: Buffer): void {
    this.hash.update(b);
    this.ciphertextBytes += b.length;
    this.push(b);
  }

  private sealChunk(plain: Buffer, last: boolean): void {
    if (this.index > MAX_CHUNKS) throw new RangeError('stream too long for its chunk size');
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.index++, last));
    cipher.setAAD(this.header);
    this.emitBytes(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.plaintextBytes += chunk.length;
      this.queue.push(chunk);
      // Seal a full chunk only once more plaintext is known to follow, so the last chunk is always flagged.
      while (this.queue.length > this.chunkSize) this.sealChunk(this.queue.take(this.chunkSize), false);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.sealChunk(this.queue.take(this.queue.length), true);
      this.digest = this.hash.digest('hex');
      this.key.fill(0);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  /** Hex SHA-256 of the ciphertext; available once the stream has finished. */
  sha256(): string {
    if (!this.digest) throw new Error('the stream has not finished');
    return this.digest;
  }
}

/** Decrypts a stream made by EncryptStream; emits IntegrityError on any change to the ciphertext. */
export class DecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private header: Buffer | undefined;
  private prefix: Buffer | undefined;
  private chunkSize = 0;
  private index = 0;

  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    super();
    checkKey(key);
    this.key = Buffer.from(key);
  }

  private open(sealed: Buffer, last: boolean): Buffer {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix!, this.index++, last));
      decipher.setAAD(this.header!);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new IntegrityError(`encrypted chunk ${this.index - 1} does not authenticate (changed, reordered or truncated)`);
    }
  }

  private readHeader(): void {
    const header = this.queue.take(HEADER_BYTES);
    if (!header.subarray(0, 4).equals(MAGIC) || header[15] !== 0) throw new IntegrityError('not a MedChain encrypted stream');
    this.chunkSize = header.readUInt32BE(4);
    if (this.chunkSize < 1 || this.chunkSize > 2 ** 24) throw new IntegrityError('invalid chunk size in header');
    this.header = header;
    this.prefix = header.subarray(8, 15);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.queue.push(chunk);
      if (!this.header && this.queue.length >= HEADER_BYTES) this.readHeader();
      if (this.header) {
        const sealedSize = this.chunkSize + TAG_BYTES;
        // A full chunk is not the last one only if more bytes follow it.
        while (this.queue.length > sealedSize) this.push(this.open(this.queue.take(sealedSize), false));
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.header) throw new IntegrityError('encrypted stream is truncated (no header)');
      if (this.queue.length < TAG_BYTES) throw new IntegrityError('encrypted stream is truncated');
      this.push(this.open(this.queue.take(this.queue.length), true));
      this.key.fill(0);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

/** Encrypts a file to another file in constant memory; returns the ciphertext's SHA-256 and sizes. */
export async function encryptFile(
  source: string,
  target: string,
  key: Uint8Array,
  chunkSize = DEFAULT_CHUNK_SIZE,
): Promise<{ sha256: string; plaintextBytes: number; ciphertextBytes: number }> {
  const enc = new EncryptStream(key, chunkSize);
  await pipeline(createReadStream(source, { highWaterMark: chunkSize }), enc, createWriteStream(target, { mode: 0o600 }));
  return { sha256: enc.sha256(), plaintextBytes: enc.plaintextBytes, ciphertextBytes: enc.ciphertextBytes };
}

/** Decrypts a file; rejects with IntegrityError (and leaves a partial target to be discarded) on tampering. */
export async function decryptFile(source: string, target: string, key: Uint8Array): Promise<void> {
  await pipeline(createReadStream(source, { highWaterMark: DEFAULT_CHUNK_SIZE + TAG_BYTES }), new DecryptStream(key), createWriteStream(target, { mode: 0o600 }));
}

/** Whole-buffer helpers for small records (same format as the streams). */
export async function encryptBuffer(plain: Uint8Array, key: Uint8Array, chunkSize = DEFAULT_CHUNK_SIZE): Promise<{ ciphertext: Buffer; sha256: string }> {
  const enc = new EncryptStream(key, chunkSize);
  const out: Buffer[] = [];
  enc.on('data', (b: Buffer) => out.push(b));
  enc.end(Buffer.from(plain));
  await new Promise<void>((resolve, reject) => {
    enc.on('end', resolve);
    enc.on('error', reject);
  });
  return { ciphertext: Buffer.concat(out), sha256: enc.sha256() };
}

export async function decryptBuffer(ciphertext: Uint8Array, key: Uint8Array): Promise<Buffer> {
  const dec = new DecryptStream(key);
  const out: Buffer[] = [];
  dec.on('data', (b: Buffer) => out.push(b));
  dec.end(Buffer.from(ciphertext));
  await new Promise<void>((resolve, reject) => {
    dec.on('end', resolve);
    dec.on('error', reject);
  });
  return Buffer.concat(out);
}
