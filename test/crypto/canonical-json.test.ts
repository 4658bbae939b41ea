import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/crypto/index.js';
import { prng } from '../helpers/ledger-fixtures.js';

/**
 * canonicalJson against the `canonicalize` library (RFC 8785's reference behaviour here, and what MedChain used
 * before): the same text for every JSON value, so no hash or signature of an existing ledger changes. The RFC's own
 * examples are in crypto.test.ts.
 */

const ALPHABET = ['a', 'Z', '0', '9', '_', '-', ' ', '"', '\\', '/', '\n', '\u0001', '\u007f', 'é', '€', '医', '链', '\ud83d\ude00', '\ufb33', '\u2028'];

function randomString(next: () => number): string {
  let s = '';
  const n = Math.floor(next() * 8);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

function randomNumber(next: () => number): number {
  switch (Math.floor(next() * 6)) {
    case 0:
      return Math.floor(next() * 2000) - 1000;
    case 1:
      return (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20);
    case 2:
      return Number.MAX_SAFE_INTEGER - Math.floor(next() * 3);
    case 3:
      return -0;
    case 4:
      return new Float64Array(new Uint32Array([Math.floor(next() * 2 ** 32), Math.floor(next() * 0x7fefffff)]).buffer)[0]!;
    default:
      return 1764000000000 + Math.floor(next() * 1e9);
  }
}

function randomValue(next: () => number, depth: number): unknown {
  const kind = Math.floor(next() * (depth > 4 ? 5 : 8));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
    case 3:
      return randomNumber(next);
    case 4:
      return randomString(next);
    case 5:
      return Array.from({ length: Math.floor(next() * 5) }, () => randomValue(next, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      const n = Math.floor(next() * 6);
      for (let i = 0; i < n; i++) {
        // integer-like keys too: JS iterates them first, in numeric order, which is not JCS order
        const key = next() < 0.2 ? String(Math.floor(next() * 200)) : randomString(next);
        object[key] = randomValue(next, depth + 1);
      }
      return object;
    }
  }
}

describe('canonicalJson', () => {
  it('produces the same text as the canonicalize library for 20,000 random JSON values', () => {
    const next = prng(20261202);
    for (let i = 0; i < 20_000; i++) {
      const value = randomValue(next, 0);
      expect(canonicalJson(value), `case ${i}: ${JSON.stringify(value)}`).toBe(canonicalize(value));
      // and for the same value read back from its canonical text (how txs and state are usually serialized)
      const reparsed = JSON.parse(canonicalJson(value)) as unknown;
      expect(canonicalJson(reparsed), `case ${i} reparsed`).toBe(canonicalJson(value));
    }
  });

  it('orders integer-like keys as strings, not as JS iterates them', () => {
    expect(canonicalJson({ 10: 'a', 9: 'b', b: 1, a: 2 })).toBe('{"10":"a","9":"b","a":2,"b":1}');
  });

  it('follows JSON for what it omits: undefined members skipped, undefined array items as null', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('uses toJSON (dates and buffers as JSON.stringify does)', () => {
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson(Buffer.from([1, 2]))).toBe('{"data":[1,2],"type":"Buffer"}');
  });

  it('refuses lone surrogates in values and keys, BigInt, non-finite numbers', () => {
    expect(() => canonicalJson('a\ud800')).toThrow(TypeError);
    expect(() => canonicalJson({ ['\udc00']: 1 })).toThrow(TypeError);
    expect(() => canonicalJson([1n])).toThrow(TypeError);
    expect(() => canonicalJson({ x: Number.NEGATIVE_INFINITY })).toThrow(TypeError);
    expect(() => canonicalJson([Number.NaN])).toThrow(TypeError);
  });

  it('refuses circular values with an error, not a stack overflow', () => {
    const a: Record<string, unknown> = {};
    a.self = a;
    expect(() => canonicalJson(a)).toThrow(/circular/);
  });
});
