/** Byte encodings used on the wire: base64url (keys, signatures, nonces), hex (hashes), UTF-8. */
import { base58, base64urlnopad, hex } from '@scure/base';

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const toHex = (bytes: Uint8Array): string => hex.encode(bytes);
export const fromHex = (text: string): Uint8Array => hex.decode(text);
export const toBase64Url = (bytes: Uint8Array): string => base64urlnopad.encode(bytes);
export const fromBase64Url = (text: string): Uint8Array => base64urlnopad.decode(text);

/** did:key of an Ed25519 public key (multicodec 0xed01, base58btc), as src/crypto/did-key.ts makes it. */
export function didKeyOfEd25519(publicKey: Uint8Array): string {
  const bytes = new Uint8Array(34);
  bytes.set([0xed, 0x01], 0);
  bytes.set(publicKey, 2);
  return `did:key:z${base58.encode(bytes)}`;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
