import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/crypto/index.js';
import { decryptBuffer, decryptFile, encryptBuffer, encryptFile } from '../../src/vault/index.js';

const key = randomBytes(32);
const CHUNK = 1024;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('chunked AES-256-GCM streams', () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17]) {
    it(`round-trips ${size} bytes and hashes exactly the ciphertext`, async () => {
      const plain = randomBytes(size);
      const { ciphertext, sha256 } = await encryptBuffer(plain, key, CHUNK);
      expect(sha256).toBe(sha256Hex(ciphertext));
      expect(ciphertext.length).toBe(16 + size + 16 * (Math.floor(Math.max(size - 1, 0) / CHUNK) + 1));
      expect((await decryptBuffer(ciphertext, key)).equals(plain)).toBe(true);
    });
  }

  it('never encrypts the same plaintext to the same ciphertext', async () => {
    const plain = Buffer.from('同一份病历');
    const a = await encryptBuffer(plain, key);
    const b = await encryptBuffer(plain, key);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('detects a changed byte anywhere: header, any chunk body, any tag', async () => {
    const { ciphertext } = await encryptBuffer(randomBytes(3 * CHUNK + 100), key, CHUNK);
    for (let pos = 0; pos < ciphertext.length; pos += 97) {
      const bad = Buffer.from(ciphertext);
      bad[pos]! ^= 0x01;
      await expect(decryptBuffer(bad, key), `byte ${pos}`).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    }
  });

  it('detects truncation, extension, reordering and the wrong key', async () => {
    const { ciphertext } = await encryptBuffer(randomBytes(3 * CHUNK + 100), key, CHUNK);
    const sealed = CHUNK + 16;
    const body = ciphertext.subarray(16);
    const chunk = (i: number) => body.subarray(i * sealed, (i + 1) * sealed);
    const cases: Record<string, Buffer> = {
      'last chunk dropped': ciphertext.subarray(0, 16 + 3 * sealed),
      'last byte dropped': ciphertext.subarray(0, ciphertext.length - 1),
      'header only': ciphertext.subarray(0, 16),
      'half a header': ciphertext.subarray(0, 8),
      'extra byte': Buffer.concat([ciphertext, Buffer.of(0)]),
      'chunks swapped': Buffer.concat([ciphertext.subarray(0, 16), chunk(1), chunk(0), body.subarray(2 * sealed)]),
      'chunk repeated': Buffer.concat([ciphertext.subarray(0, 16), chunk(0), chunk(0), body.subarray(sealed)]),
    };
    for (const [name, bad] of Object.entries(cases)) {
      await expect(decryptBuffer(bad, key), name).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    }
    await expect(decryptBuffer(ciphertext, randomBytes(32))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
  });

  it('streams files without holding them in memory (20 MB through 64 KiB chunks)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medchain-vault-'));
    dirs.push(dir);
    const plain = randomBytes(20 * 1024 * 1024 + 123);
    writeFileSync(join(dir, 'scan.dcm'), plain);
    const result = await encryptFile(join(dir, 'scan.dcm'), join(dir, 'scan.enc'), key);
    expect(result.plaintextBytes).toBe(plain.length);
    expect(result.sha256).toBe(sha256Hex(readFileSync(join(dir, 'scan.enc'))));
    await decryptFile(join(dir, 'scan.enc'), join(dir, 'scan.out'), key);
    expect(readFileSync(join(dir, 'scan.out')).equals(plain)).toBe(true);
  });
});
