import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateX25519 } from '../../src/crypto/index.js';
import { rewrapKey, unwrapKey, wrapKey } from '../../src/vault/index.js';

describe('data-key wrapping (X25519 + HKDF-SHA256 + AES-256-GCM)', () => {
  const custodian = generateX25519();
  const patient = generateX25519();
  const doctor = generateX25519();
  const dataKey = randomBytes(32);

  it('each recipient, and only that recipient, unwraps the key', () => {
    const forCustodian = wrapKey(dataKey, custodian.publicKey, 'record:r1');
    const forPatient = wrapKey(dataKey, patient.publicKey, 'record:r1');
    expect(unwrapKey(forCustodian, custodian.privateKey, custodian.publicKey, 'record:r1').equals(dataKey)).toBe(true);
    expect(unwrapKey(forPatient, patient.privateKey, patient.publicKey, 'record:r1').equals(dataKey)).toBe(true);
    expect(() => unwrapKey(forCustodian, patient.privateKey, patient.publicKey, 'record:r1')).toThrow(expect.objectContaining({ code: 'INTEGRITY_ERROR' }));
    expect(forCustodian.epk).not.toBe(forPatient.epk);
  });

  it('is bound to its context and refuses any changed field', () => {
    const wrapped = wrapKey(dataKey, custodian.publicKey, 'record:r1');
    expect(() => unwrapKey(wrapped, custodian.privateKey, custodian.publicKey, 'record:r2')).toThrow(expect.objectContaining({ code: 'INTEGRITY_ERROR' }));
    for (const field of ['epk', 'iv', 'ciphertext', 'tag'] as const) {
      const bytes = Buffer.from(wrapped[field], 'base64url');
      bytes[0]! ^= 1;
      const bad = { ...wrapped, [field]: bytes.toString('base64url') };
      expect(() => unwrapKey(bad, custodian.privateKey, custodian.publicKey, 'record:r1'), field).toThrow(expect.objectContaining({ code: 'INTEGRITY_ERROR' }));
    }
  });

  it('the custodian re-wraps for a grantee without the grantee learning anything else', () => {
    const forCustodian = wrapKey(dataKey, custodian.publicKey, 'record:r1');
    const forDoctor = rewrapKey(forCustodian, custodian, doctor.publicKey, 'record:r1');
    expect(unwrapKey(forDoctor, doctor.privateKey, doctor.publicKey, 'record:r1').equals(dataKey)).toBe(true);
    expect(forDoctor.recipient).toBe(doctor.publicKey.toString('base64url'));
  });
});
