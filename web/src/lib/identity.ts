import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import canonicalize from 'canonicalize';
import { userRequestMessage } from '../../../src/contracts/user-request-message.js';
import { TX_SIGNING_DOMAIN } from '../../../src/ledger/tx-signing.js';
import type { KeyFile } from '../../../src/crypto/key-file-format.js';
import { concatBytes, didKeyOfEd25519, fromBase64Url, toBase64Url, toHex, utf8 } from './encoding.js';

ed.hashes.sha512 = sha512;

/**
 * A person's signing key, held only in this browser tab. Requests to the signed records API and ledger txs
 * are signed here with the formats the node verifies (src/api/user-auth.ts, src/ledger/tx.ts); the message
 * texts come from the same pure modules the server uses.
 */
export class BrowserIdentity {
  readonly did: string;
  readonly #seed: Uint8Array;

  constructor(seed: Uint8Array) {
    if (seed.length !== 32) throw new Error('an Ed25519 seed is 32 bytes');
    this.#seed = seed.slice();
    this.did = didKeyOfEd25519(ed.getPublicKey(this.#seed));
  }

  sign(message: Uint8Array): Uint8Array {
    return ed.sign(message, this.#seed);
  }

  /** The seed, base64url, to keep the session across a page reload (sessionStorage of this tab only). */
  exportSeed(): string {
    return toBase64Url(this.#seed);
  }

  /** `Authorization: MedChain did, ts, nonce, sig` over method, path+query, time, nonce and body hash. */
  authorization(method: string, url: string, body?: string, now = Date.now()): string {
    const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
    const bodySha256 = toHex(sha256(utf8(body ?? '')));
    const fields = { did: this.did, method, url, ts: now, nonce, bodySha256 };
    const sig = toBase64Url(this.sign(utf8(userRequestMessage(fields))));
    return `MedChain did="${this.did}", ts="${now}", nonce="${nonce}", sig="${sig}"`;
  }

  /** A signed tx envelope {sig, tx} (RFC 8785 canonical JSON, domain-separated Ed25519). */
  signTx(chain: string, contract: string, method: string, args: unknown, now = Date.now()): { tx: TxEnvelope; sig: string } {
    const notBefore = now - 60_000;
    const nonce = `web-${now.toString(36)}-${toBase64Url(crypto.getRandomValues(new Uint8Array(9)))}`;
    const tx: TxEnvelope = { chain, contract, method, args, signer: this.did, nonce, notBefore, notAfter: notBefore + 11 * 60_000 };
    const text = canonicalize(tx);
    if (text === undefined) throw new Error('the transaction has no JSON form');
    return { tx, sig: toBase64Url(this.sign(concatBytes(utf8(TX_SIGNING_DOMAIN), utf8(text)))) };
  }
}

export interface TxEnvelope {
  chain: string;
  contract: string;
  method: string;
  args: unknown;
  signer: string;
  nonce: string;
  notBefore: number;
  notAfter: number;
}

/** Key file v1 (src/crypto/key-file.ts): scrypt → AES-256-GCM over seed ‖ X25519 key; the header is AAD. */
export type { KeyFile } from '../../../src/crypto/key-file-format.js';

export class KeyFileError extends Error {
  constructor(readonly code: 'KEY_FILE_INVALID' | 'KEY_FILE_PASSPHRASE') {
    super(code);
  }
}

export function parseKeyFile(text: string): KeyFile {
  let file: KeyFile;
  try {
    file = JSON.parse(text) as KeyFile;
  } catch {
    throw new KeyFileError('KEY_FILE_INVALID');
  }
  if (file?.format !== 'medchain-key' || file.version !== 1 || file.kdf?.name !== 'scrypt' || file.cipher?.name !== 'aes-256-gcm') {
    throw new KeyFileError('KEY_FILE_INVALID');
  }
  return file;
}

/** Decrypts a key file in the browser (scrypt from @noble/hashes, AES-GCM from WebCrypto). */
export async function decryptKeyFile(file: KeyFile, passphrase: string): Promise<BrowserIdentity> {
  const { N, r, p } = file.kdf;
  if (N > 1 << 20 || r > 16 || p > 4) throw new KeyFileError('KEY_FILE_INVALID');
  let plain: Uint8Array;
  try {
    const keyBytes = await scryptAsync(utf8(passphrase.normalize('NFC')), fromBase64Url(file.kdf.salt), { N, r, p, dkLen: 32, maxmem: 256 * N * r + 1024 });
    // WebCrypto wants ArrayBuffer-backed views: copy into fresh ones.
    const own = (b: Uint8Array) => new Uint8Array(b);
    const key = await crypto.subtle.importKey('raw', own(keyBytes), 'AES-GCM', false, ['decrypt']);
    const sealed = own(concatBytes(fromBase64Url(file.ciphertext), fromBase64Url(file.cipher.tag)));
    const aad = own(utf8(`medchain-key/v1|${file.did}|${file.agreementPublicKey}`));
    plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: own(fromBase64Url(file.cipher.iv)), additionalData: aad, tagLength: 128 }, key, sealed));
  } catch {
    throw new KeyFileError('KEY_FILE_PASSPHRASE');
  }
  if (plain.length !== 64) throw new KeyFileError('KEY_FILE_INVALID');
  const identity = new BrowserIdentity(plain.subarray(0, 32));
  if (identity.did !== file.did) throw new KeyFileError('KEY_FILE_INVALID');
  return identity;
}
