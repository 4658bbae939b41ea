import { describe, expect, it } from 'vitest';
import { commitFields, redact, verifyRedacted } from '../../src/records/index.js';

const patient = {
  resourceType: 'Patient',
  id: 'p-001',
  name: [{ text: '王秀英' }],
  gender: 'female',
  birthDate: '1956-03-07',
  telecom: [{ system: 'phone', value: '13900000000' }],
  address: [{ text: '青山县白石镇桃源村3组12号' }],
  identifier: [{ system: 'urn:oid:2.16.156.10011.1.1', value: '339901195603070022' }],
};

describe('verifiable redaction', () => {
  const { root, salts } = commitFields(patient);

  it('a full copy and a redacted copy both verify against the root', () => {
    expect(verifyRedacted(redact(patient, salts, []), root)).toEqual(patient);
    const copy = redact(patient, salts, ['Patient.address', 'Patient.telecom', 'Patient.identifier']);
    const received = verifyRedacted(copy, root);
    expect(received).toEqual({ resourceType: 'Patient', id: 'p-001', name: patient.name, gender: 'female', birthDate: '1956-03-07' });
    expect(JSON.stringify(copy)).not.toContain('桃源村');
    expect(JSON.stringify(copy)).not.toContain('13900000000');
  });

  it('fails for a forged or altered released field, a swapped salt, or a dropped field', () => {
    const copy = redact(patient, salts, ['Patient.address']);
    const altered = structuredClone(copy);
    altered.released['Patient.birthDate']!.value = '1966-03-07';
    const forgedSalt = structuredClone(copy);
    forgedSalt.released['Patient.gender']!.salt = copy.released['Patient.id']!.salt;
    const dropped = structuredClone(copy);
    delete dropped.released['Patient.name'];
    const unhidden = structuredClone(copy);
    unhidden.released['Patient.address'] = { value: [{ text: '别处' }], salt: copy.released['Patient.id']!.salt };
    const badDigest = structuredClone(copy);
    badDigest.withheld['Patient.address'] = '0'.repeat(64);
    for (const bad of [altered, forgedSalt, dropped, unhidden, badDigest]) {
      expect(() => verifyRedacted(bad, root)).toThrow(expect.objectContaining({ code: 'INTEGRITY_ERROR' }));
    }
  });

  it('salts make the root, and each withheld digest, differ between two commitments of the same resource', () => {
    const again = commitFields(patient);
    expect(again.root).not.toBe(root);
    expect(redact(patient, again.salts, ['Patient.address']).withheld['Patient.address']).not.toBe(
      redact(patient, salts, ['Patient.address']).withheld['Patient.address'],
    );
  });

  it('never withholds resourceType, and refuses a resource without one', () => {
    const copy = redact(patient, salts, ['Patient.resourceType']);
    expect(copy.released['Patient.resourceType']).toBeDefined();
    expect(() => commitFields({ id: 'x' })).toThrow(TypeError);
  });
});
