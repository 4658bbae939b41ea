import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { canonicalJson } from '../crypto/index.js';

/**
 * Record exchange between institution nodes. A user at institution B (a doctor, or a patient) reads a record held
 * in institution A's vault:
 *
 * 1. The user signs the read request to B's node as for any read. B's node relays it into an `access.request` tx:
 *    the consent decision and the access entry (permit or deny) are committed on the shared ledger first.
 * 2. B's node asks A's node (`POST /v1/exchange/release`) with a release request naming that access tx, signed by
 *    B's node key, with a nonce and a short expiry. The user's own signature travels inside the access tx.
 * 3. A's node checks everything on its own copy of the ledger — the access entry exists, was relayed by B's
 *    node, permits this record of its own vault, is recent — decrypts the record, cuts the withheld fields
 *    (verifiable redaction), encrypts the copy under a fresh key wrapped for B's vault key (and the user's
 *    encryption key if they published one) and returns it.
 * 4. B's node unwraps it and verifies every released field against the field root on its own ledger copy
 *    before anything is shown.
 */

export const ReleaseRequest = Type.Object(
  {
    /** Id of the committed access.request tx that decided this read. */
    access: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    patientId: Type.String({ minLength: 1, maxLength: 64 }),
    record: Type.String({ minLength: 1, maxLength: 200 }),
    /** The requesting node (B's node key); must be the node that relayed the access tx. */
    node: Type.String({ pattern: '^did:key:z[1-9A-HJ-NP-Za-km-z]{40,60}$' }),
    nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }),
    /** Epoch ms after which the request is refused (at most a few minutes ahead). */
    expires: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ReleaseRequest = Static<typeof ReleaseRequest>;

export const SignedReleaseRequest = Type.Object(
  { request: ReleaseRequest, sig: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }) },
  { additionalProperties: false },
);
export type SignedReleaseRequest = Static<typeof SignedReleaseRequest>;
export const signedReleaseRequestCheck = TypeCompiler.Compile(SignedReleaseRequest);

/** How far ahead a release request may expire. */
export const MAX_RELEASE_TTL_MS = 2 * 60 * 1000;
/** How old an access entry may be when the record is released against it. */
export const MAX_ACCESS_AGE_MS = 10 * 60 * 1000;

export function releaseRequestMessage(r: ReleaseRequest): Buffer {
  return Buffer.from(`medchain/exchange/release/v1\n${canonicalJson(r)}`, 'utf8');
}

/** What A's node returns: the redacted copy (a RedactedCopy as JSON), encrypted, with its key wrapped per recipient. */
export interface ReleaseResponse {
  record: string;
  version: number;
  /** base64url of the chunked AES-256-GCM ciphertext (vault stream format). */
  ciphertext: string;
  /** The data key wrapped for B's institution vault key, and for the user when they have an encryption key. */
  keys: import('../vault/index.js').WrappedKey[];
}

/** Context bound into the key wraps: a wrapped key cannot be moved to another access or record. */
export function releaseContext(access: string, record: string, version: number): string {
  return `exchange/${access}/${record}/v${version}`;
}
