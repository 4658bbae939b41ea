import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateX25519, sha256Hex } from '../../src/crypto/index.js';
import { VaultStore } from '../../src/vault/index.js';

let dir: string;
let vault: VaultStore;
const custodian = generateX25519();
const patient = generateX25519();
const doctor = generateX25519();
const record = Buffer.from(JSON.stringify({ resourceType: 'Observation', code: { text: '空腹血糖' }, valueQuantity: { value: 7.8, unit: 'mmol/L' } }));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'medchain-vaultstore-'));
  vault = new VaultStore(dir, () => 1_800_000_000_000);
});
afterEach(() => {
  vault.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('vault store', () => {
  it('stores ciphertext only, readable by the custodian and the patient', async () => {
    const stored = await vault.put('obs-1', record, [custodian.publicKey, patient.publicKey]);
    const file = readFileSync(join(dir, 'objects', 'obs-1.enc'));
    expect(stored.sha256).toBe(sha256Hex(file));
    expect(file.includes(Buffer.from('空腹血糖'))).toBe(false);
    expect((await vault.read('obs-1', custodian)).equals(record)).toBe(true);
    expect((await vault.read('obs-1', patient, stored.sha256)).equals(record)).toBe(true);
  });

  it('refuses anyone the record is not wrapped for, until the custodian grants it', async () => {
    await vault.put('obs-2', record, [custodian.publicKey]);
    await expect(vault.read('obs-2', doctor)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(vault.read('obs-2', { privateKey: doctor.privateKey, publicKey: custodian.publicKey })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    vault.grant('obs-2', custodian, doctor.publicKey);
    expect((await vault.read('obs-2', doctor)).equals(record)).toBe(true);
  });

  it('detects a changed ciphertext file, or a hash that differs from the ledger', async () => {
    const stored = await vault.put('obs-3', record, [custodian.publicKey]);
    await expect(vault.read('obs-3', custodian, 'f'.repeat(64))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    const path = join(dir, 'objects', 'obs-3.enc');
    const bytes = readFileSync(path);
    bytes[bytes.length - 20]! ^= 1;
    writeFileSync(path, bytes);
    await expect(vault.read('obs-3', custodian)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    await expect(vault.checkIntegrity('obs-3', stored.sha256)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
  });

  it('erasure shreds the keys and the ciphertext and leaves a tombstone', async () => {
    await vault.put('obs-4', record, [custodian.publicKey, patient.publicKey]);
    const tomb = vault.erase('obs-4', 'patient request');
    expect(tomb).toMatchObject({ id: 'obs-4', erasedAt: 1_800_000_000_000, erasureReason: 'patient request' });
    expect(vault.hasCiphertext('obs-4')).toBe(false);
    await expect(vault.read('obs-4', custodian)).rejects.toMatchObject({ code: 'GONE' });
    expect(() => vault.grant('obs-4', custodian, doctor.publicKey)).toThrow(expect.objectContaining({ code: 'GONE' }));
    const db = readFileSync(join(dir, 'vault.db'));
    expect(db.includes(Buffer.from(custodian.publicKey.toString('base64url')))).toBe(false);
  });

  it('streams a large record in and out', async () => {
    const big = randomBytes(8 * 1024 * 1024 + 5);
    const chunks = Array.from({ length: 8 }, (_, i) => big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
    chunks.push(big.subarray(8 * 1024 * 1024));
    const stored = await vault.put('genome-1', Readable.from(chunks), [patient.publicKey]);
    expect(stored.plaintextBytes).toBe(big.length);
    let total = 0;
    const hash = (await import('node:crypto')).createHash('sha256');
    for await (const chunk of await vault.open('genome-1', patient)) {
      total += (chunk as Buffer).length;
      hash.update(chunk as Buffer);
    }
    expect(total).toBe(big.length);
    expect(hash.digest('hex')).toBe(sha256Hex(big));
  });

  it('refuses bad ids, duplicates and recordless reads with clear codes', async () => {
    await expect(vault.put('../escape', record, [custodian.publicKey])).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await expect(vault.put('obs-5', record, [])).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await vault.put('obs-5', record, [custodian.publicKey]);
    await expect(vault.put('obs-5', record, [custodian.publicKey])).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(vault.read('nope', custodian)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
