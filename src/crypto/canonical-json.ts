/**
 * RFC 8785 (JSON Canonicalization Scheme) serialization. Everything that is hashed or signed in MedChain goes
 * through here, so that every peer and every client produces byte-identical input for SHA-256 and Ed25519.
 *
 * JCS defines its string and number forms as ECMAScript's `JSON.stringify` (RFC 8785 §3.2.2.2, §3.2.2.3), so
 * those come from the engine (a string with nothing to escape is quoted directly: what JSON.stringify would
 * return); what is ours is the order of object members (sorted by UTF-16 code units, which is
 * how JS compares strings) and the refusals: NaN, ±Infinity, BigInt, lone surrogates. This replaced the
 * `canonicalize` library on the hot path — it was the largest single item of a node's CPU profile (9.6 % of the
 * main thread under the cluster benchmark) because it scans every string in JS and tracks every object in a Set;
 * the library remains the reference its output is tested against (test/crypto/canonical-json.test.ts).
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value, 0);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

/** UTF-8 bytes of {@link canonicalJson}. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/** Deeper than this is refused: no ledger value nests so far, and a cycle would otherwise overflow the stack. */
const MAX_DEPTH = 500;

/** The JCS text of a value, or undefined for what JSON omits (undefined, functions, symbols). */
function serialize(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${value} is not allowed`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('a BigInt is not allowed');
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new TypeError('value is nested too deeply, or circular');
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return serialize(toJSON.call(value), depth + 1);
  if (Array.isArray(value)) {
    // Parts joined once: a flat string (`+=` would leave a rope of every piece, kept alive with the result).
    const items = new Array<string>(value.length);
    for (let i = 0; i < value.length; i++) items[i] = serialize(value[i], depth + 1) ?? 'null';
    return `[${items.join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (!isSorted(keys)) keys.sort();
  const members: string[] = [];
  for (const key of keys) {
    const member = serialize(record[key], depth + 1);
    if (member === undefined) continue;
    members.push(`${quote(key)}:${member}`);
  }
  return `{${members.join(',')}}`;
}

/** What JSON.stringify escapes (quote, backslash, controls) and what JCS refuses alone (surrogates). */
const NEEDS_ESCAPING = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A string literal as JCS writes it: most ledger strings (ids, codes, names) need no escaping at all. */
function quote(text: string): string {
  if (!NEEDS_ESCAPING.test(text)) return `"${text}"`;
  if (!text.isWellFormed()) throw new TypeError('a lone surrogate is not allowed');
  return JSON.stringify(text);
}

/** Objects parsed from canonical text (most of what is serialized) already have their keys in order. */
function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}
