import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256Hex } from '../crypto/index.js';
import { CodedError } from '../ledger/index.js';

/**
 * A patient's or clinician's short free text (a request's wording, an access request's message) is kept off the
 * ledger, encrypted in a vault; the ledger holds only a commitment to it: the SHA-256 of `canonicalJson({salt,
 * text})` with a fresh random salt. Unsalted, a short text ("delete my HIV test") could be recovered by hashing
 * guesses; salted, only someone holding the envelope (text and salt) can check it against the ledger.
 */

export const SALT_BYTES = 16;

export interface SaltedText {
  /** What goes into the vault: `canonicalJson({salt, text})`. */
  envelope: string;
  /** What goes on the ledger. */
  sha256: string;
}

export function saltText(text: string): SaltedText {
  const envelope = canonicalJson({ salt: randomBytes(SALT_BYTES).toString('hex'), text });
  return { envelope, sha256: sha256Hex(envelope) };
}

/** The text of an envelope read back from a vault, after checking it against the ledger's hash. */
export function openSaltedText(envelope: string, sha256: string, what: string): string {
  if (sha256Hex(envelope) !== sha256) throw new CodedError('INTEGRITY_ERROR', `${what} does not match the ledger`);
  return (JSON.parse(envelope) as { text: string }).text;
}
