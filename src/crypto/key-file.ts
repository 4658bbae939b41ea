import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { fromBase64Url, toBase64Url } from './encoding.js';
import { ed25519FromSeed, generateEd25519 } from './ed25519.js';
import { generateX25519, x25519FromPrivate } from './x25519.js';
import { didKeyFromPublicKey } from './did-key.js';
import type { KeyFile } from './key-file-format.js';

/** A person's, node's or device's key material: an Ed25519 signing key and an X25519 key-agreement key. */
export interface Identity {
  did: string;
  label?: string;
  signing: { seed: Buffer; publicKey: Buffer };
  agreement: { privateKey: Buffer; publicKey: Buffer };
}

export function generateIdentity(label?: string): Identity {
  const signing = generateEd25519();
  return { did: didKeyFromPublicKey(signing.publicKey), label, signing, agreement: generateX25519() };
}

/** Rebuilds an identity from its two private keys (used by key files and deterministic demo keys). */
export function identityFromSecrets(seed: Uint8Array, agreementPrivate: Uint8Array, label?: string): Identity {
  const signing = ed25519FromSeed(seed);
  return { did: didKeyFromPublicKey(signing.publicKey), label, signing, agreement: x25519FromPrivate(agreementPrivate) };
}

export type { KeyFile } from './key-file-format.js';

export class KeyFileError extends Error {
  constructor(
    readonly code: 'KEY_FILE_INVALID' | 'KEY_FILE_PASSPHRASE',
    message: string,
  ) {
    super(message);
    this.name = 'KeyFileError';
  }
}

const DEFAULT_KDF = { N: 1 << 15, r: 8, p: 1 };

function scrypt(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function associatedData(file: Pick<KeyFile, 'did' | 'agreementPublicKey'>): Buffer {
  return Buffer.from(`medchain-key/v1|${file.did}|${file.agreementPublicKey}`, 'utf8');
}

export async function encryptIdentity(
  identity: Identity,
  passphrase: string,
  kdf: { N: number; r: number; p: number } = DEFAULT_KDF,
): Promise<KeyFile> {
  if (passphrase.length === 0) throw new KeyFileError('KEY_FILE_PASSPHRASE', 'passphrase must not be empty');
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await scrypt(passphrase, salt, kdf);
  const header = { did: identity.did, agreementPublicKey: toBase64Url(identity.agreement.publicKey) };
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(header));
  const ciphertext = Buffer.concat([
    cipher.update(Buffer.concat([identity.signing.seed, identity.agreement.privateKey])),
    cipher.final(),
  ]);
  return {
    format: 'medchain-key',
    version: 1,
    ...header,
    ...(identity.label ? { label: identity.label } : {}),
    kdf: { name: 'scrypt', salt: toBase64Url(salt), ...kdf },
    cipher: { name: 'aes-256-gcm', iv: toBase64Url(iv), tag: toBase64Url(cipher.getAuthTag()) },
    ciphertext: toBase64Url(ciphertext),
  };
}

export async function decryptIdentity(file: KeyFile, passphrase: string): Promise<Identity> {
  if (file?.format !== 'medchain-key' || file.version !== 1 || file.kdf?.name !== 'scrypt' || file.cipher?.name !== 'aes-256-gcm') {
    throw new KeyFileError('KEY_FILE_INVALID', 'not a MedChain v1 key file');
  }
  let plain: Buffer;
  try {
    const key = await scrypt(passphrase, fromBase64Url(file.kdf.salt), file.kdf);
    const decipher = createDecipheriv('aes-256-gcm', key, fromBase64Url(file.cipher.iv, 12));
    decipher.setAAD(associatedData(file));
    decipher.setAuthTag(fromBase64Url(file.cipher.tag, 16));
    plain = Buffer.concat([decipher.update(fromBase64Url(file.ciphertext)), decipher.final()]);
  } catch {
    throw new KeyFileError('KEY_FILE_PASSPHRASE', 'wrong passphrase or damaged key file');
  }
  if (plain.length !== 64) throw new KeyFileError('KEY_FILE_INVALID', 'key file holds the wrong amount of key material');
  const identity = identityFromSecrets(plain.subarray(0, 32), plain.subarray(32), file.label);
  if (identity.did !== file.did) throw new KeyFileError('KEY_FILE_INVALID', 'key file did does not match its key');
  return identity;
}

export async function writeKeyFile(path: string, identity: Identity, passphrase: string): Promise<void> {
  const file = await encryptIdentity(identity, passphrase);
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

export async function readKeyFile(path: string, passphrase: string): Promise<Identity> {
  let file: KeyFile;
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as KeyFile;
  } catch (err) {
    throw new KeyFileError('KEY_FILE_INVALID', `cannot read key file ${path}: ${(err as Error).message}`);
  }
  return decryptIdentity(file, passphrase);
}
