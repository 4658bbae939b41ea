import { createPrivateKey, createPublicKey, diffieHellman, randomBytes } from 'node:crypto';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface X25519KeyPair {
  privateKey: Buffer;
  publicKey: Buffer;
}

function privateKeyObject(privateKey: Uint8Array) {
  if (privateKey.length !== 32) throw new TypeError('X25519 private key must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Uint8Array) {
  if (publicKey.length !== 32) throw new TypeError('X25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

export function x25519FromPrivate(privateKey: Uint8Array): X25519KeyPair {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' });
  return { privateKey: Buffer.from(privateKey), publicKey: Buffer.from(spki.subarray(SPKI_PREFIX.length)) };
}

export function generateX25519(): X25519KeyPair {
  return x25519FromPrivate(randomBytes(32));
}

/** RFC 7748 X25519 shared secret. Throws on an all-zero result (a small-order peer key). */
export function x25519SharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Buffer {
  const secret = diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: publicKeyObject(peerPublicKey) });
  if (secret.every((b) => b === 0)) throw new Error('X25519 produced an all-zero shared secret');
  return secret;
}
