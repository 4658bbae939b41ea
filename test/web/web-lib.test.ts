import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { toFhirConsent } from '../../src/contracts/consent/fhir.js';
import type { StoredConsent } from '../../src/contracts/consent/model.js';
import { userRequestMessage } from '../../src/contracts/delegation.js';
import { ed25519Verify, encryptIdentity, fromBase64Url, generateIdentity, sha256Hex } from '../../src/crypto/index.js';
import { demoIdentity } from '../../src/demo/index.js';
import { inclusionProof, merkleRoot, parseSignedTx, txSigningMessage, verifyInclusion as serverVerify } from '../../src/ledger/index.js';
import { toHex } from '../../web/src/lib/encoding.js';
import { BrowserIdentity, decryptKeyFile, KeyFileError } from '../../web/src/lib/identity.js';
import { verifyInclusion, verifyTxProof } from '../../web/src/lib/merkle.js';
import { en } from '../../web/src/i18n/en.js';
import { zh } from '../../web/src/i18n/zh.js';
import { termsOfFhirConsent } from '../../web/src/pages/patient/consent-wording.js';

/** The browser's crypto and formats, checked against the node's own implementations. */

const browserOf = (seed: Uint8Array) => new BrowserIdentity(seed);

describe('browser signing agrees with the node', () => {
  it('derives the same did:key as the node for a key', () => {
    const id = demoIdentity('patient:1');
    expect(browserOf(id.signing.seed).did).toBe(id.did);
  });

  it('signs request headers the node verifies (method, URL, time, nonce, body hash)', () => {
    const id = demoIdentity('dr-wang-li@qingshan-county-hospital');
    const body = JSON.stringify({ kind: 'correction', details: '地址写错了' });
    const header = browserOf(id.signing.seed).authorization('POST', '/v1/records/obs-1/requests', body, 1_767_225_600_000);
    const p = Object.fromEntries([...header.matchAll(/([a-z]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(p['did']).toBe(id.did);
    const message = userRequestMessage({ did: id.did, method: 'POST', url: '/v1/records/obs-1/requests', ts: Number(p['ts']), nonce: p['nonce']!, bodySha256: sha256Hex(body) });
    expect(ed25519Verify(id.signing.publicKey, Buffer.from(message), fromBase64Url(p['sig']!))).toBe(true);
    // A different URL or body does not verify with that signature.
    const other = userRequestMessage({ did: id.did, method: 'POST', url: '/v1/records/obs-2/requests', ts: Number(p['ts']), nonce: p['nonce']!, bodySha256: sha256Hex(body) });
    expect(ed25519Verify(id.signing.publicKey, Buffer.from(other), fromBase64Url(p['sig']!))).toBe(false);
  });

  it('signs txs the ledger parses and verifies (RFC 8785 envelope, domain-separated)', () => {
    const id = demoIdentity('patient:1');
    const args = { patientId: 'P' + 'A'.repeat(26), provision: 'permit', actor: { kind: 'institution', id: 'hexi-health-centre' }, purposes: ['TREAT'], scope: {}, excludeFields: ['Patient.address'], period: {} };
    const signed = browserOf(id.signing.seed).signTx('qingshan-county-alliance', 'consent', 'grant', args);
    const parsed = parseSignedTx(signed, { maxTxBytes: 64 * 1024, maxValidityMs: 24 * 3600_000 });
    expect(parsed.signed.tx.signer).toBe(id.did);
    expect(ed25519Verify(parsed.signerPublicKey, txSigningMessage(parsed.envelopeBytes), fromBase64Url(signed.sig))).toBe(true);
  });
});

describe('key files decrypt in the browser', () => {
  const kdf = { N: 1 << 10, r: 8, p: 1 }; // small N: the format, not the cost, is under test

  it('opens a file the CLI wrote, and refuses a wrong passphrase or a swapped header', async () => {
    const id = generateIdentity('me');
    const file = await encryptIdentity(id, 'correct horse', kdf);
    expect((await decryptKeyFile(file, 'correct horse')).did).toBe(id.did);
    await expect(decryptKeyFile(file, 'wrong')).rejects.toMatchObject({ code: 'KEY_FILE_PASSPHRASE' });
    const other = generateIdentity();
    await expect(decryptKeyFile({ ...file, did: other.did }, 'correct horse')).rejects.toBeInstanceOf(KeyFileError);
  });
});

describe('RFC 6962 proofs verify in the browser as on the node', () => {
  it('agrees with the node on every leaf of trees of many sizes, and rejects tampering', () => {
    for (const size of [1, 2, 3, 5, 8, 13, 31]) {
      const leaves = Array.from({ length: size }, () => randomBytes(32));
      const root = merkleRoot(leaves);
      for (let i = 0; i < size; i++) {
        const path = inclusionProof(leaves, i);
        expect(verifyInclusion(leaves[i]!, i, size, path, root)).toBe(true);
        expect(serverVerify(leaves[i]!, i, size, path, root)).toBe(true);
        if (size > 1) expect(verifyInclusion(leaves[(i + 1) % size]!, i, size, path, root)).toBe(false);
      }
    }
    const leaves = Array.from({ length: 6 }, () => randomBytes(32));
    const proof = { txId: toHex(leaves[4]!), height: 1, index: 4, treeSize: 6, path: inclusionProof(leaves, 4).map((b) => toHex(b)), txRoot: '' };
    expect(verifyTxProof(proof, toHex(merkleRoot(leaves)))).toBe(true);
    expect(verifyTxProof(proof, toHex(merkleRoot(leaves.slice(0, 5))))).toBe(false);
  });
});

describe('interface text', () => {
  const keys = (o: object, prefix = ''): string[] =>
    Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));
  const values = (o: object): string[] => Object.values(o).flatMap((v) => (typeof v === 'object' ? values(v as object) : [String(v)]));

  it('has every key in both languages, none empty, and no Chinese left in English', () => {
    expect(keys(en).sort()).toEqual(keys(zh).sort());
    expect(values(zh).every((v) => v.length > 0)).toBe(true);
    expect(values(en).filter((v) => /[\u4e00-\u9fff]/.test(v))).toEqual([]);
  });

  it('reads a FHIR Consent back into the terms the patient granted', () => {
    const stored: StoredConsent = {
      id: 'c1',
      patient: 'P' + 'B'.repeat(26),
      grantedBy: 'did:key:z6Mk',
      provision: 'permit',
      actor: { kind: 'user', did: 'did:key:z6MkDoctor' },
      purposes: ['TREAT', 'ETREAT'],
      scope: { resourceTypes: ['Observation', 'Patient'] },
      excludeFields: ['Patient.address'],
      period: { start: 1_767_225_600_000, end: 1_798_761_599_999 },
      grantedAt: 1_767_225_600_000,
      status: 'active',
    };
    expect(termsOfFhirConsent(toFhirConsent(stored))).toEqual({
      provision: 'permit',
      actor: { kind: 'user', did: 'did:key:z6MkDoctor' },
      purposes: ['TREAT', 'ETREAT'],
      resourceTypes: ['Observation', 'Patient'],
      excludeFields: ['Patient.address'],
      end: 1_798_761_599_999,
    });
    const byRole = termsOfFhirConsent(toFhirConsent({ ...stored, actor: { kind: 'role', role: 'doctor', institution: 'hexi-health-centre' } }));
    expect(byRole.actor).toEqual({ kind: 'role', role: 'doctor', institution: 'hexi-health-centre' });
    expect(termsOfFhirConsent(toFhirConsent({ ...stored, actor: { kind: 'institution-type', type: 'pharmacy' } })).actor).toEqual({ kind: 'institution-type', type: 'pharmacy' });
  });
});
