import { describe, expect, it } from 'vitest';
import { normalizeNationalId, patientIdFor, residentIdChecksumOk } from '../../src/node/index.js';

describe('pseudonymous patient ids', () => {
  const secret = Buffer.alloc(32, 1);
  it('accepts the GB 11643 check digit, including X', () => {
    expect(residentIdChecksumOk('11010519491231002X')).toBe(true);
    expect(residentIdChecksumOk('110105194912310021')).toBe(false);
  });
  it('normalizes spacing, dashes and case before hashing', () => {
    expect(patientIdFor(' 110105-19491231002x ', secret)).toBe(patientIdFor('11010519491231002X', secret));
    expect(normalizeNationalId('a1234567')).toBe('A1234567');
  });
  it('depends on the consortium secret and never contains the id', () => {
    const a = patientIdFor('11010519491231002X', secret);
    const b = patientIdFor('11010519491231002X', Buffer.alloc(32, 2));
    expect(a).toMatch(/^P[A-Z2-7]{26}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('110105');
  });
  it('refuses ids with a wrong check digit or odd characters', () => {
    expect(() => patientIdFor('110105194912310021', secret)).toThrow(/check digit/);
    expect(() => patientIdFor('1101 05;1949', secret)).toThrow(TypeError);
  });
});
