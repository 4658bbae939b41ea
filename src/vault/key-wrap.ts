import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { fromBase64Url, generateX25519, toBase64Url, x25519SharedSecret } from '../crypto/index.js';
import { IntegrityError } from './errors.js';

/**
 * Wrapping a record's data key for one recipient (the custodian institution, the patient, a grantee):
 * ephemeral-static X25519, HKDF-SHA256 over the shared secret bound to both public keys and a context string,
 * then AES-256-GCM. The same shape as HPKE base mode with DHKEM(X25519, HKDF-SHA256) and AES-256-GCM, built from
 * node:crypto primitives. A fresh ephemeral key per wrap means the same data key wrapped twice never repeats.
 */
export interface WrappedKey {
  alg: 'X25519-HKDF-SHA256-A256GCM';
  /** Recipient's X25519 public key (base64url), so a holder can find the wrap meant for them. */
  recipient: string;
  /** Ephemeral public key. */
  epk: string;
  iv: string;
  ciphertext: string;
  tag: string;
}

const INFO_PREFIX = 'medchain/key-wrap/v1\n';

function kek(shared: Buffer, epk: Buffer, recipient: Buffer, context: string): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([epk, recipient]), Buffer.from(INFO_PREFIX + context, 'utf8'), 32));
}

/**
 * Wraps `dataKey` for the holder of `recipientPublicKey`. `context` (e.g. the record id) is bound into the key
 * derivation and the AEAD, so a wrap cannot be moved to another record.
 */
export function wrapKey(dataKey: Uint8Array, recipientPublicKey: Uint8Array, context: string): WrappedKey {
  const eph = generateX25519();
  const shared = x25519SharedSecret(eph.privateKey, recipientPublicKey);
  const key = kek(shared, eph.publicKey, Buffer.from(recipientPublicKey), context);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return {
    alg: 'X25519-HKDF-SHA256-A256GCM',
    recipient: toBase64Url(recipientPublicKey),
    epk: toBase64Url(eph.publicKey),
    iv: toBase64Url(iv),
    ciphertext: toBase64Url(ciphertext),
    tag: toBase64Url(cipher.getAuthTag()),
  };
}

/** Recovers the data key; throws IntegrityError when the wrap, the context or the recipient key does not match. */
export function unwrapKey(wrapped: WrappedKey, recipientPrivateKey: Uint8Array, recipientPublicKey: Uint8Array, context: string): Buffer {
  if (wrapped.alg !== 'X25519-HKDF-SHA256-A256GCM') throw new IntegrityError(`unsupported key wrap ${String(wrapped.alg)}`);
  try {
    const epk = fromBase64Url(wrapped.epk, 32);
    const shared = x25519SharedSecret(recipientPrivateKey, epk);
    const key = kek(shared, epk, Buffer.from(recipientPublicKey), context);
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64Url(wrapped.iv, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(fromBase64Url(wrapped.tag, 16));
    return Buffer.concat([decipher.update(fromBase64Url(wrapped.ciphertext)), decipher.final()]);
  } catch {
    throw new IntegrityError('the wrapped key does not open with this key and context');
  }
}

/** Re-wraps a data key from one holder to another (e.g. the custodian to a consented doctor). */
export function rewrapKey(
  wrapped: WrappedKey,
  holder: { privateKey: Uint8Array; publicKey: Uint8Array },
  newRecipientPublicKey: Uint8Array,
  context: string,
): WrappedKey {
  const dataKey = unwrapKey(wrapped, holder.privateKey, holder.publicKey, context);
  try {
    return wrapKey(dataKey, newRecipientPublicKey, context);
  } finally {
    dataKey.fill(0);
  }
}
