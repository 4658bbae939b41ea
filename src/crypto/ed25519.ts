import { createPrivateKey, createPublicKey, sign, randomBytes, type KeyObject } from 'node:crypto';
import sodium from 'sodium-native';

// DER prefixes that wrap a raw 32-byte Ed25519 seed / public key as PKCS#8 / SPKI (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519KeyPair {
  /** 32-byte private seed (RFC 8032 "secret key"). */
  seed: Buffer;
  /** 32-byte public key. */
  publicKey: Buffer;
}

export function ed25519PrivateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new TypeError('Ed25519 seed must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

export function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== 32) throw new TypeError('Ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  const spki = createPublicKey(ed25519PrivateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return { seed: Buffer.from(seed), publicKey: Buffer.from(spki.subarray(SPKI_PREFIX.length)) };
}

export function generateEd25519(): Ed25519KeyPair {
  return ed25519FromSeed(randomBytes(32));
}

/**
 * A signer bound to one key. Holds the parsed KeyObject so repeated signing skips DER parsing.
 */
export class Ed25519Signer {
  readonly publicKey: Buffer;
  readonly #key: KeyObject;

  constructor(seed: Uint8Array) {
    this.#key = ed25519PrivateKeyObject(seed);
    this.publicKey = ed25519FromSeed(seed).publicKey;
  }

  sign(message: Uint8Array): Buffer {
    return sign(null, message, this.#key);
  }
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Buffer {
  return sign(null, message, ed25519PrivateKeyObject(seed));
}

/**
 * Verifies an Ed25519 signature with libsodium (`crypto_sign_verify_detached`); returns false (never throws) for
 * malformed keys or signatures. Every check whose outcome peers must agree on (tx, proposal, checkpoint and relayed
 * user-request signatures, here and on the signature workers) goes through libsodium, so all peers apply one set of
 * rules to edge cases (small-order points, non-canonical encodings) — and it costs about half of node:crypto's
 * verify here (PERFORMANCE.md).
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return sodium.crypto_sign_verify_detached(asBuffer(signature), asBuffer(message), asBuffer(publicKey));
  } catch {
    return false;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
