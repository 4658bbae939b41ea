/** Small, strict converters between the encodings used on the wire (hex for hashes, base64url for signatures). */

const HEX = /^(?:[0-9a-f]{2})*$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses lowercase hex; throws on anything else so that two spellings never denote one value. */
export function fromHex(text: string, expectedBytes?: number): Buffer {
  if (!HEX.test(text)) throw new TypeError('not lowercase hex');
  const out = Buffer.from(text, 'hex');
  if (expectedBytes !== undefined && out.length !== expectedBytes) {
    throw new TypeError(`expected ${expectedBytes} bytes, got ${out.length}`);
  }
  return out;
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Parses unpadded base64url, rejecting non-canonical encodings (re-encoding must round-trip). */
export function fromBase64Url(text: string, expectedBytes?: number): Buffer {
  if (!B64URL.test(text)) throw new TypeError('not base64url');
  const out = Buffer.from(text, 'base64url');
  if (out.toString('base64url') !== text) throw new TypeError('non-canonical base64url');
  if (expectedBytes !== undefined && out.length !== expectedBytes) {
    throw new TypeError(`expected ${expectedBytes} bytes, got ${out.length}`);
  }
  return out;
}
