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

  it('refuses work after close', async () => {
    const pool = new WorkerSignatureVerifier(1);
    await pool.close();
    await expect(pool.verify(checks(1)[0]!)).rejects.toThrow(/closed/);
  });
});
