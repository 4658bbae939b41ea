import { createHash, createHmac } from 'node:crypto';
import sodium from 'sodium-native';

/**
 * Inputs up to this size are hashed in one libsodium call (no hash object is created, ~2× faster for the short
 * inputs the ledger hashes by the thousand per block: tx envelopes, Merkle nodes); larger ones stream through
 * OpenSSL. Both are SHA-256: the digest is the same either way.
 */
const ONE_SHOT_MAX_BYTES = 64 * 1024;

/** SHA-256 of one byte string in a single libsodium call. */
export function sha256OneShot(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32);
  sodium.crypto_hash_sha256(out, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return out;
}

/** SHA-256 of the concatenation of the given byte strings (or UTF-8 strings). */
export function sha256(...parts: Array<Uint8Array | string>): Buffer {
  if (parts.length === 1) {
    const only = typeof parts[0] === 'string' ? Buffer.from(parts[0], 'utf8') : parts[0]!;
    if (only.length <= ONE_SHOT_MAX_BYTES) return sha256OneShot(only);
  }
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

export function sha256Hex(...parts: Array<Uint8Array | string>): string {
  return sha256(...parts).toString('hex');
}

export function hmacSha256(key: Uint8Array, ...parts: Array<Uint8Array | string>): Buffer {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}
