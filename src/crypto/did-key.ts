import { base58 } from '@scure/base';

/**
 * W3C `did:key` identifiers (multibase base58btc of a multicodec-prefixed public key).
 * People, institutions' nodes and devices are all named by the did:key of their Ed25519 signing key.
 */

const ED25519_PUB = Uint8Array.of(0xed, 0x01); // multicodec ed25519-pub, varint-encoded
const X25519_PUB = Uint8Array.of(0xec, 0x01); // multicodec x25519-pub

export type DidKeyType = 'Ed25519' | 'X25519';

export function didKeyFromPublicKey(publicKey: Uint8Array, type: DidKeyType = 'Ed25519'): string {
  if (publicKey.length !== 32) throw new TypeError('public key must be 32 bytes');
  const prefix = type === 'Ed25519' ? ED25519_PUB : X25519_PUB;
  const bytes = new Uint8Array(prefix.length + publicKey.length);
  bytes.set(prefix, 0);
  bytes.set(publicKey, prefix.length);
  return `did:key:z${base58.encode(bytes)}`;
}

/** Parses a did:key; throws TypeError for anything that is not a well-formed Ed25519 or X25519 did:key. */
export function publicKeyFromDidKey(did: string): { type: DidKeyType; publicKey: Buffer } {
  if (typeof did !== 'string' || !did.startsWith('did:key:z')) throw new TypeError('not a base58btc did:key');
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(did.slice('did:key:z'.length));
  } catch {
    throw new TypeError('did:key is not valid base58btc');
  }
  if (bytes.length !== 34) throw new TypeError('did:key has the wrong length');
  const type: DidKeyType | undefined =
    bytes[0] === 0xed && bytes[1] === 0x01 ? 'Ed25519' : bytes[0] === 0xec && bytes[1] === 0x01 ? 'X25519' : undefined;
  if (!type) throw new TypeError('did:key is neither Ed25519 nor X25519');
  return { type, publicKey: Buffer.from(bytes.subarray(2)) };
}

/** The Ed25519 public key of a did:key, or undefined when it is malformed or of another type. */
export function ed25519KeyOfDid(did: string): Buffer | undefined {
  try {
    const parsed = publicKeyFromDidKey(did);
    return parsed.type === 'Ed25519' ? parsed.publicKey : undefined;
  } catch {
    return undefined;
  }
}
