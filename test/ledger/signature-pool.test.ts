import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519FromSeed, ed25519Sign } from '../../src/crypto/index.js';
import { InlineSignatureVerifier, WorkerSignatureVerifier } from '../../src/ledger/index.js';

function checks(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const seed = Buffer.alloc(32, i + 1);
    const message = Buffer.from(`message ${i}`);
    const signature = ed25519Sign(seed, message);
    if (i % 7 === 3) signature[10] ^= 0x40; // every 7th is forged
    return { publicKey: ed25519FromSeed(seed).publicKey, message, signature };
  });
}

describe('signature verifiers', () => {
  it('worker pool and inline verifier agree, including on forged and malformed signatures', async () => {
    const items = checks(300);
    items.push({ publicKey: Buffer.alloc(31), message: Buffer.from('x'), signature: Buffer.alloc(64) });
    items.push({ publicKey: items[0]!.publicKey, message: items[0]!.message, signature: Buffer.alloc(10) });
    const pool = new WorkerSignatureVerifier(2, 16);
    try {
      const [fromPool, inline] = await Promise.all([pool.verifyMany(items), new InlineSignatureVerifier().verifyMany(items)]);
      expect(fromPool).toEqual(inline);
      expect(fromPool.filter((ok) => !ok).length).toBe(items.filter((_, i) => i % 7 === 3).length + 2);
    } finally {
      await pool.close();
    }
  });

  it('both reject edge cases that node:crypto (OpenSSL) accepts: a small-order public key, a non-canonical S', async () => {
    // With the identity point as public key, [S]B = R + [k]A holds for any message when R = [S]B: take R as the
    // public key of a seed and S its secret scalar (reduced mod L). OpenSSL's cofactorless check accepts this; libsodium
    // rejects small-order keys. Peers must agree on such a tx, so all of them use libsodium (ed25519Verify, workers).
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const seed = Buffer.alloc(32, 9);
    const h = createHash('sha512').update(seed).digest();
    h[0]! &= 248;
    h[31]! &= 127;
    h[31]! |= 64;
    const a = BigInt('0x' + Buffer.from(h.subarray(0, 32)).reverse().toString('hex')) % L;
    const S = Buffer.from(a.toString(16).padStart(64, '0'), 'hex').reverse();
    const identityKey = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
    const smallOrder = { publicKey: identityKey, message: Buffer.from('anything at all'), signature: Buffer.concat([ed25519FromSeed(seed).publicKey, S]) };
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), identityKey]), format: 'der', type: 'spki' });
    expect(nodeVerify(null, smallOrder.message, spki, smallOrder.signature)).toBe(true);
    // S + L encodes the same scalar non-canonically (RFC 8032 requires S < L).
    const honest = checks(1)[0]!;
    const s = BigInt('0x' + Buffer.from(honest.signature.subarray(32)).reverse().toString('hex')) + L;
    const nonCanonical = { ...honest, signature: Buffer.concat([honest.signature.subarray(0, 32), Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse()]) };
    const pool = new WorkerSignatureVerifier(1);
    try {
      const items = [honest, smallOrder, nonCanonical];
      expect(await pool.verifyMany(items)).toEqual([true, false, false]);
      expect(await new InlineSignatureVerifier().verifyMany(items)).toEqual([true, false, false]);
    } finally {
      await pool.close();
    }
  });

  it('refuses work after close', async () => {
    const pool = new WorkerSignatureVerifier(1);
    await pool.close();
    await expect(pool.verify(checks(1)[0]!)).rejects.toThrow(/closed/);
  });
});
