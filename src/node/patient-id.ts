import { base32 } from '@scure/base';
import { hmacSha256 } from '../crypto/index.js';

/**
 * The consortium-wide pseudonymous patient id. Chinese resident id numbers have little entropy (region, birth
 * date, sequence, check digit), so a plain hash could be reversed by enumeration; a keyed HMAC under a secret that
 * only member institutions hold (never the ledger) cannot. Every institution computes the same id for the same
 * person, which is how one person registered at two hospitals resolves to one patient.
 */
export function patientIdFor(nationalId: string, consortiumSecret: Uint8Array): string {
  const normalized = normalizeNationalId(nationalId);
  const mac = hmacSha256(consortiumSecret, 'medchain/patient-id/v1\n', normalized);
  return 'P' + base32.encode(mac).slice(0, 26);
}

/** Upper-cases and strips spaces and dashes, and checks the GB 11643 check digit of 18-digit resident ids. */
export function normalizeNationalId(nationalId: string): string {
  const id = nationalId.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[0-9A-Z]{6,32}$/.test(id)) throw new TypeError('national id must be 6-32 letters or digits');
  if (/^\d{17}[\dX]$/.test(id) && !residentIdChecksumOk(id)) throw new TypeError('resident id check digit is wrong');
  return id;
}

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export function residentIdChecksumOk(id: string): boolean {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * WEIGHTS[i]!;
  return CHECK[sum % 11] === id[17];
}

/** Completes 17 digits with the GB 11643 check digit (used to make synthetic demo ids). */
export function withResidentIdChecksum(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return first17 + CHECK[sum % 11];
}
