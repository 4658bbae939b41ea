import { randomBytes } from 'node:crypto';
import { canonicalJson, sha256 } from '../crypto/index.js';
import { CodedError } from '../ledger/errors.js';
import { merkleRoot } from '../ledger/merkle.js';

/**
 * Verifiable redaction. Each top-level element of a FHIR resource (e.g. `Patient.address`) is committed to as
 * `sha256("medchain/field/v1\n" || salt || path || "\n" || JCS(value))` with a fresh 16-byte salt; the ledger holds
 * only the RFC 6962 Merkle root over these digests in path order. A copy with some elements withheld carries, for
 * those, just their digest: the recipient recomputes the root from what it received and what was withheld, and a
 * forged or altered element fails. The salts keep a withheld value from being guessed from its digest; they
 * travel with the record in the vault, never on the ledger.
 */

export interface FieldCommitment {
  /** Hex Merkle root over the field digests, sorted by path: the value anchored on the ledger. */
  root: string;
  /** path -> base64url salt. Secret: stored with the record, disclosed only for fields that are released. */
  salts: Record<string, string>;
}

export interface RedactedCopy {
  resourceType: string;
  /** Released elements: their value and salt. */
  released: Record<string, { value: unknown; salt: string }>;
  /** Withheld elements: only their digest (hex). */
  withheld: Record<string, string>;
}

const DOMAIN = 'medchain/field/v1\n';

function pathsOf(resource: Record<string, unknown>): string[] {
  const type = resource['resourceType'];
  if (typeof type !== 'string' || !/^[A-Z][A-Za-z]{1,63}$/.test(type)) throw new TypeError('resource needs a resourceType');
  return Object.keys(resource)
    .filter((k) => resource[k] !== undefined)
    .map((k) => `${type}.${k}`)
    .sort();
}

export function fieldDigest(path: string, value: unknown, salt: Uint8Array): Buffer {
  return sha256(DOMAIN, salt, path, '\n', canonicalJson(value));
}

function rootOf(digests: Map<string, Buffer>): string {
  const paths = [...digests.keys()].sort();
  return merkleRoot(paths.map((p) => digests.get(p)!)).toString('hex');
}

/** Commits to every top-level element of `resource` with fresh salts. */
export function commitFields(resource: Record<string, unknown>): FieldCommitment {
  const salts: Record<string, string> = {};
  const digests = new Map<string, Buffer>();
  for (const path of pathsOf(resource)) {
    const salt = randomBytes(16);
    salts[path] = salt.toString('base64url');
    digests.set(path, fieldDigest(path, resource[path.slice(path.indexOf('.') + 1)], salt));
  }
  return { root: rootOf(digests), salts };
}

/** Builds a copy that releases every element except those in `withhold` (paths such as `Patient.address`). */
export function redact(resource: Record<string, unknown>, salts: Record<string, string>, withhold: readonly string[]): RedactedCopy {
  const hidden = new Set(withhold);
  const copy: RedactedCopy = { resourceType: resource['resourceType'] as string, released: {}, withheld: {} };
  for (const path of pathsOf(resource)) {
    const salt = salts[path];
    if (!salt) throw new TypeError(`no salt for ${path}: the resource differs from the one committed`);
    const value = resource[path.slice(path.indexOf('.') + 1)];
    if (hidden.has(path) && path !== `${copy.resourceType}.resourceType`) {
      copy.withheld[path] = fieldDigest(path, value, Buffer.from(salt, 'base64url')).toString('hex');
    } else {
      copy.released[path] = { value, salt };
    }
  }
  return copy;
}

/**
 * Checks a redacted copy against the root from the ledger. Returns the released elements as a resource when it
 * verifies; throws a CodedError INTEGRITY_ERROR when any element was forged, altered or dropped.
 */
export function verifyRedacted(copy: RedactedCopy, ledgerRoot: string): Record<string, unknown> {
  const digests = new Map<string, Buffer>();
  const resource: Record<string, unknown> = {};
  const prefix = `${copy.resourceType}.`;
  const fail = (why: string): never => {
    throw new CodedError('INTEGRITY_ERROR', `redacted copy does not verify: ${why}`);
  };
  for (const [path, { value, salt }] of Object.entries(copy.released)) {
    if (!path.startsWith(prefix)) fail(`${path} is not an element of ${copy.resourceType}`);
    digests.set(path, fieldDigest(path, value, Buffer.from(salt, 'base64url')));
    resource[path.slice(prefix.length)] = value;
  }
  for (const [path, digest] of Object.entries(copy.withheld)) {
    if (!path.startsWith(prefix) || digests.has(path) || !/^[0-9a-f]{64}$/.test(digest)) fail(`bad withheld entry ${path}`);
    digests.set(path, Buffer.from(digest, 'hex'));
  }
  if (resource['resourceType'] !== copy.resourceType) fail('resourceType is not released as committed');
  if (rootOf(digests) !== ledgerRoot) fail('the fields do not hash to the root on the ledger');
  return resource;
}
