import { describe, expect, it } from 'vitest';
import { canonicalJson, Ed25519Signer, ed25519Verify, generateIdentity, generateX25519, didKeyFromPublicKey, sha256Hex } from '../../src/crypto/index.js';
import { CodedError, checkValidityWindow, parseSignedTx, signTx, txSigningMessage, type SignedTx } from '../../src/ledger/index.js';
import { parseStoredTx } from '../../src/ledger/tx.js';

const limits = { maxTxBytes: 4096, maxValidityMs: 3_600_000 };
const me = generateIdentity();
const signer = new Ed25519Signer(me.signing.seed);
const T = 1_767_196_800_000;
const draft = { chain: 'test-chain', contract: 'identity', method: 'rotateKey', args: { newKey: 'did:key:z6Mkx', n: [1, 2, { b: 'é', a: null }] } };
const good = (): SignedTx => signTx({ ...draft, nonce: 'n-1', notBefore: T, notAfter: T + 60_000 }, me.did, signer);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err, 'errors crossing the ledger boundary are CodedErrors').toBeInstanceOf(CodedError);
    return (err as CodedError).code;
  }
}

describe('transaction id and signature', () => {
  it('the id is the SHA-256 of the RFC 8785 envelope, and the signature covers exactly those bytes', () => {
    const signed = good();
    const parsed = parseSignedTx(signed, limits);
    const canonical = canonicalJson(signed.tx);
    // Spelled out: JCS sorts keys by UTF-16 code units and writes no whitespace.
    expect(canonical).toBe(
      `{"args":{"n":[1,2,{"a":null,"b":"é"}],"newKey":"did:key:z6Mkx"},"chain":"test-chain","contract":"identity","method":"rotateKey","nonce":"n-1","notAfter":${T + 60_000},"notBefore":${T},"signer":"${me.did}"}`,
    );
    expect(parsed.envelopeBytes.toString('utf8')).toBe(canonical);
    expect(parsed.id).toBe(sha256Hex(canonical));
    expect(parsed.storedBytes.toString('utf8')).toBe(canonicalJson(signed));
    expect(parsed.signerPublicKey.equals(me.signing.publicKey)).toBe(true);
    const sig = Buffer.from(signed.sig, 'base64url');
    expect(ed25519Verify(me.signing.publicKey, txSigningMessage(parsed.envelopeBytes), sig)).toBe(true);
    // Domain separation: the bare envelope bytes are not what is signed.
    expect(ed25519Verify(me.signing.publicKey, parsed.envelopeBytes, sig)).toBe(false);
  });

  it('non-canonical but equal JSON input yields the same id and the same stored bytes', () => {
    const signed = good();
    const reference = parseSignedTx(signed, limits);
    const spellings = [
      // keys in reverse order, at every level
      JSON.parse(JSON.stringify({ tx: Object.fromEntries(Object.entries(signed.tx).reverse()), sig: signed.sig })),
      // whitespace, escapes and number spellings that JSON.parse maps to the same values
      JSON.parse(
        JSON.stringify(signed, null, 2)
          .replace('"é"', '"\\u00e9"')
          .replace(`"notBefore": ${T}`, `"notBefore": ${T / 1000}e3`)
          .replace('"n": [\n', '"n" :\t[ 1.0, 2E0,\n')
          .replace(/\[ 1\.0, 2E0,\n\s*1,\n\s*2,/, '[ 1.0, 2E0,'),
      ),
    ];
    for (const input of spellings) {
      const parsed = parseSignedTx(input, limits);
      expect(parsed.id).toBe(reference.id);
      expect(parsed.storedBytes.equals(reference.storedBytes)).toBe(true);
    }
  });

  it('any change to the envelope changes the id; the signature is not part of the id', () => {
    const signed = good();
    const id = parseSignedTx(signed, limits).id;
    const variants: SignedTx[] = [
      signTx({ ...draft, nonce: 'n-2', notBefore: T, notAfter: T + 60_000 }, me.did, signer),
      signTx({ ...draft, nonce: 'n-1', notBefore: T, notAfter: T + 60_001 }, me.did, signer),
      signTx({ ...draft, args: { ...draft.args, n: [1, 2] }, nonce: 'n-1', notBefore: T, notAfter: T + 60_000 }, me.did, signer),
      signTx({ ...draft, chain: 'other-chain', nonce: 'n-1', notBefore: T, notAfter: T + 60_000 }, me.did, signer),
    ];
    for (const v of variants) expect(parseSignedTx(v, limits).id).not.toBe(id);
    const other = good();
    other.sig = signTx({ ...draft, nonce: 'zzz' }, me.did, signer).sig;
    expect(parseSignedTx(other, limits).id).toBe(id);
  });

  it('signTx fills a fresh nonce and a validity window ending 11 minutes after a start 60 s in the past', () => {
    const a = signTx(draft, me.did, signer, T);
    const b = signTx(draft, me.did, signer, T);
    expect(a.tx.notBefore).toBe(T - 60_000);
    expect(a.tx.notAfter).toBe(T - 60_000 + 11 * 60_000);
    expect(a.tx.nonce).not.toBe(b.tx.nonce);
    expect(parseSignedTx(a, limits).id).not.toBe(parseSignedTx(b, limits).id);
  });
});

describe('malformed transactions', () => {
  const base = good();
  const withTx = (patch: Record<string, unknown>) => ({ sig: base.sig, tx: { ...base.tx, ...patch } });
  const without = (field: string) => {
    const tx: Record<string, unknown> = { ...base.tx };
    delete tx[field];
    return { sig: base.sig, tx };
  };
  const x25519Did = didKeyFromPublicKey(generateX25519().publicKey, 'X25519');
  const cases: Array<[string, unknown]> = [
    ['null', null],
    ['a string', JSON.stringify(base)],
    ['a number', 42],
    ['an array', [base.tx, base.sig]],
    ['an empty object', {}],
    ['no tx', { sig: base.sig }],
    ['no sig', { tx: base.tx }],
    ['an extra top-level field', { ...base, id: 'x' }],
    ['an extra envelope field', withTx({ fee: 1 })],
    ...(['chain', 'contract', 'method', 'args', 'signer', 'nonce', 'notBefore', 'notAfter'] as const).map(
      (f): [string, unknown] => [`no ${f}`, without(f)],
    ),
    ['args undefined', withTx({ args: undefined })],
    ['chain a number', withTx({ chain: 7 })],
    ['chain empty', withTx({ chain: '' })],
    ['chain too long', withTx({ chain: 'c'.repeat(129) })],
    ['contract upper case', withTx({ contract: 'Identity' })],
    ['contract too long', withTx({ contract: 'a'.repeat(65) })],
    ['method with a dash', withTx({ method: 'rotate-key' })],
    ['method starting with a digit', withTx({ method: '1rotate' })],
    ['nonce empty', withTx({ nonce: '' })],
    ['nonce too long', withTx({ nonce: 'n'.repeat(65) })],
    ['nonce a number', withTx({ nonce: 1 })],
    ['notBefore a string', withTx({ notBefore: String(T) })],
    ['notBefore fractional', withTx({ notBefore: T + 0.5 })],
    ['notBefore negative', withTx({ notBefore: -1 })],
    ['notAfter null', withTx({ notAfter: null })],
    ['notAfter before notBefore', withTx({ notBefore: T, notAfter: T - 1 })],
    ['signer a number', withTx({ signer: 1 })],
    ['signer not a did', withTx({ signer: 'alice' })],
    ['signer a did:web', withTx({ signer: 'did:web:example.org' })],
    ['signer an X25519 did:key', withTx({ signer: x25519Did })],
    ['signer a did:key with a non-base58 character', withTx({ signer: `${me.did.slice(0, -1)}0` })],
    ['signer a truncated did:key', withTx({ signer: me.did.slice(0, -2) })],
    ['sig a number', { ...base, sig: 1 }],
    ['sig too short', { ...base, sig: base.sig.slice(1) }],
    ['sig too long', { ...base, sig: `${base.sig}A` }],
    ['sig with standard base64 characters', { ...base, sig: `+/${base.sig.slice(2)}` }],
    ['sig with padding', { ...base, sig: `${base.sig.slice(0, -2)}==` }],
    ['sig in hex', { ...base, sig: Buffer.from(base.sig, 'base64url').toString('hex').slice(0, 86) }],
  ];

  for (const [what, input] of cases) {
    it(`refuses ${what} with TX_MALFORMED`, () => {
      expect(codeOf(() => parseSignedTx(input, limits))).toBe('TX_MALFORMED');
    });
  }

  it('refuses a signature whose base64url is not canonical (unused trailing bits set) with TX_MALFORMED', () => {
    // 64 bytes are 86 base64url characters whose last 4 bits are unused; two spellings must not denote one signature.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(base.sig.at(-1)!);
    const variant = `${base.sig.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(variant, 'base64url').equals(Buffer.from(base.sig, 'base64url'))).toBe(true);
    expect(codeOf(() => parseSignedTx({ ...base, sig: variant }, limits))).toBe('TX_MALFORMED');
  });

  it('executes exactly what it stores: values without a JSON form never reach a contract', () => {
    // A Date, -0 and undefined members have JSON spellings that differ from the in-memory values; the parsed tx
    // must carry the values a peer replaying the stored bytes will see.
    const tx = { ...base.tx, args: { when: new Date(0), zero: -0, gone: undefined } };
    const parsed = parseSignedTx({ sig: base.sig, tx }, limits);
    expect(parsed.signed.tx).toEqual(JSON.parse(parsed.envelopeBytes.toString('utf8')));
    expect(Object.is((parsed.signed.tx.args as { zero: number }).zero, 0)).toBe(true);
    expect('gone' in (parsed.signed.tx.args as object)).toBe(false);
    expect(parseStoredTx(parsed.storedBytes.toString('utf8'), limits).signed).toEqual(parsed.signed);
  });
});

describe('limits', () => {
  it('measures the size in UTF-8 bytes of the stored form, refusing one byte over the limit with TX_TOO_LARGE', () => {
    const signed = signTx({ ...draft, args: { note: '医'.repeat(300) }, nonce: 'n', notBefore: T, notAfter: T + 1 }, me.did, signer);
    const bytes = parseSignedTx(signed, limits).storedBytes.length;
    expect(bytes).toBe(Buffer.byteLength(canonicalJson(signed), 'utf8'));
    expect(bytes).toBeGreaterThan(canonicalJson(signed).length + 500); // 3 bytes per character, not 1
    expect(parseSignedTx(signed, { ...limits, maxTxBytes: bytes }).id).toMatch(/^[0-9a-f]{64}$/);
    expect(codeOf(() => parseSignedTx(signed, { ...limits, maxTxBytes: bytes - 1 }))).toBe('TX_TOO_LARGE');
    expect(codeOf(() => parseSignedTx(signTx({ ...draft, args: { pad: 'x'.repeat(5000) } }, me.did, signer), limits))).toBe('TX_TOO_LARGE');
  });

  it('accepts a validity window of exactly the maximum and refuses one ms more with TX_VALIDITY_TOO_LONG', () => {
    const at = (notAfter: number) => signTx({ ...draft, notBefore: T, notAfter }, me.did, signer);
    expect(() => parseSignedTx(at(T + limits.maxValidityMs), limits)).not.toThrow();
    expect(codeOf(() => parseSignedTx(at(T + limits.maxValidityMs + 1), limits))).toBe('TX_VALIDITY_TOO_LONG');
    expect(codeOf(() => parseSignedTx(signTx({ ...draft, notBefore: 0, notAfter: T }, me.did, signer), limits))).toBe('TX_VALIDITY_TOO_LONG');
  });

  it('checkValidityWindow is inclusive at both ends and names which end was missed', () => {
    const { tx } = signTx({ ...draft, notBefore: 100, notAfter: 200 }, me.did, signer);
    expect(codeOf(() => checkValidityWindow(tx, 99))).toBe('TX_NOT_YET_VALID');
    expect(codeOf(() => checkValidityWindow(tx, 0))).toBe('TX_NOT_YET_VALID');
    expect(codeOf(() => checkValidityWindow(tx, 100))).toBeUndefined();
    expect(codeOf(() => checkValidityWindow(tx, 150))).toBeUndefined();
    expect(codeOf(() => checkValidityWindow(tx, 200))).toBeUndefined();
    expect(codeOf(() => checkValidityWindow(tx, 201))).toBe('TX_EXPIRED');
    const instant = signTx({ ...draft, notBefore: 500, notAfter: 500 }, me.did, signer).tx;
    expect(codeOf(() => checkValidityWindow(instant, 500))).toBeUndefined();
    expect(codeOf(() => checkValidityWindow(instant, 501))).toBe('TX_EXPIRED');
  });
});

describe('stored transactions', () => {
  it('parse back to the same id, envelope bytes and signer', () => {
    const parsed = parseSignedTx(good(), limits);
    const again = parseStoredTx(parsed.storedBytes.toString('utf8'), limits);
    expect(again.id).toBe(parsed.id);
    expect(again.envelopeBytes.equals(parsed.envelopeBytes)).toBe(true);
    expect(again.signerPublicKey.equals(parsed.signerPublicKey)).toBe(true);
  });

  it('a changed byte changes the id or makes the body unparseable; non-canonical forms are refused', () => {
    const body = parseSignedTx(good(), limits).storedBytes.toString('utf8');
    const id = parseStoredTx(body, limits).id;
    const envelopeStart = body.indexOf('"tx":') + 5;
    for (let i = envelopeStart; i < body.length - 1; i++) {
      const c = body.charCodeAt(i);
      const changed = body.slice(0, i) + String.fromCharCode(c === 0x30 ? 0x31 : c === 0x22 ? 0x27 : c ^ 0x01) + body.slice(i + 1);
      let outcome: string;
      try {
        outcome = parseStoredTx(changed, limits).id;
      } catch (err) {
        outcome = (err as CodedError).code;
      }
      expect(outcome, `byte ${i}`).not.toBe(id);
    }
    const reordered = `{"tx":${body.slice(envelopeStart, -1)},"sig":"${body.slice(8, 94)}"}`;
    expect(codeOf(() => parseStoredTx(reordered, limits))).toBe('TX_MALFORMED');
    expect(codeOf(() => parseStoredTx(` ${body}`, limits))).toBe('TX_MALFORMED');
    expect(codeOf(() => parseStoredTx(body.replace('"tx":{', '"tx": {'), limits))).toBe('TX_MALFORMED');
    expect(codeOf(() => parseStoredTx(body.slice(0, -1), limits))).toBe('TX_MALFORMED');
  });
});
