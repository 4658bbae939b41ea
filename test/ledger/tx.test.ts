import { describe, expect, it } from 'vitest';
import { canonicalJson, Ed25519Signer, generateIdentity, sha256Hex } from '../../src/crypto/index.js';
import { checkValidityWindow, parseSignedTx, signTx, txSigningMessage } from '../../src/ledger/index.js';
import { parseStoredTx } from '../../src/ledger/tx.js';

const limits = { maxTxBytes: 4096, maxValidityMs: 3_600_000 };
const me = generateIdentity();
const signer = new Ed25519Signer(me.signing.seed);
const draft = { chain: 'test-chain', contract: 'identity', method: 'rotateKey', args: { newKey: 'did:key:z6Mkx' } };

describe('transaction envelope', () => {
  it('id is the SHA-256 of the canonical envelope, and the signature covers exactly those bytes', () => {
    const signed = signTx(draft, me.did, signer, 1_000_000);
    const parsed = parseSignedTx(signed, limits);
    expect(parsed.id).toBe(sha256Hex(canonicalJson(signed.tx)));
    expect(parsed.envelopeBytes.toString()).toBe(canonicalJson(signed.tx));
    expect(parsed.storedBytes.toString()).toBe(canonicalJson(signed));
    expect(txSigningMessage(parsed.envelopeBytes).toString().startsWith('medchain/tx/v1\n')).toBe(true);
  });

  it('the same envelope with keys in another order has the same id', () => {
    const signed = signTx(draft, me.did, signer);
    const reordered = JSON.parse(JSON.stringify({ sig: signed.sig, tx: Object.fromEntries(Object.entries(signed.tx).reverse()) }));
    expect(parseSignedTx(reordered, limits).id).toBe(parseSignedTx(signed, limits).id);
  });

  it('a stored tx parses to the same id and bytes, and a changed byte changes the id', () => {
    const parsed = parseSignedTx(signTx(draft, me.did, signer), limits);
    const body = parsed.storedBytes.toString();
    expect(parseStoredTx(body, limits).id).toBe(parsed.id);
    expect(parseStoredTx(body.replace('rotateKey', 'rotateKez'), limits).id).not.toBe(parsed.id);
    expect(() => parseStoredTx(` ${body}`, limits)).toThrow(expect.objectContaining({ code: 'TX_MALFORMED' }));
  });

  it('refuses malformed shapes with TX_MALFORMED', () => {
    const good = signTx(draft, me.did, signer);
    const bad: unknown[] = [
      null,
      'text',
      { tx: good.tx },
      { sig: good.sig },
      { ...good, extra: 1 },
      { ...good, tx: { ...good.tx, extra: 1 } },
      { ...good, tx: { ...good.tx, nonce: '' } },
      { ...good, tx: { ...good.tx, notBefore: 1.5 } },
      { ...good, tx: { ...good.tx, notBefore: '1' } },
      { ...good, tx: { ...good.tx, contract: 'Identity' } },
      { ...good, tx: { ...good.tx, signer: 'did:web:example.org' } },
      { ...good, tx: { ...good.tx, signer: 'did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc' } },
      { ...good, sig: good.sig.slice(1) },
      { ...good, sig: `${good.sig.slice(0, -1)}+` },
      { ...good, tx: { ...good.tx, notBefore: 10, notAfter: 5 } },
    ];
    for (const input of bad) expect(() => parseSignedTx(input, limits), JSON.stringify(input)).toThrow(expect.objectContaining({ code: 'TX_MALFORMED' }));
  });

  it('enforces the size limit and the longest validity window', () => {
    expect(() => parseSignedTx(signTx({ ...draft, args: { pad: 'x'.repeat(5000) } }, me.did, signer), limits)).toThrow(
      expect.objectContaining({ code: 'TX_TOO_LARGE' }),
    );
    expect(() => parseSignedTx(signTx({ ...draft, notBefore: 0, notAfter: 3_600_001 }, me.did, signer), limits)).toThrow(
      expect.objectContaining({ code: 'TX_VALIDITY_TOO_LONG' }),
    );
  });

  it('checks the validity window inclusively at both ends', () => {
    const { tx } = signTx({ ...draft, notBefore: 100, notAfter: 200 }, me.did, signer);
    expect(() => checkValidityWindow(tx, 99)).toThrow(expect.objectContaining({ code: 'TX_NOT_YET_VALID' }));
    expect(() => checkValidityWindow(tx, 100)).not.toThrow();
    expect(() => checkValidityWindow(tx, 200)).not.toThrow();
    expect(() => checkValidityWindow(tx, 201)).toThrow(expect.objectContaining({ code: 'TX_EXPIRED' }));
  });
});
