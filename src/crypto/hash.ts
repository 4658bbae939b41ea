import { createHash, createHmac } from 'node:crypto';

/** SHA-256 of the concatenation of the given byte strings (or UTF-8 strings). */
export function sha256(...parts: Array<Uint8Array | string>): Buffer {
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
