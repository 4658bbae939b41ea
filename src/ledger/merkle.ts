import { sha256, sha256OneShot } from '../crypto/hash.js';
import { verifyInclusionWith } from './merkle-inclusion.js';

/**
 * RFC 6962 / RFC 9162 Merkle tree hashing over an ordered list of leaves (MedChain uses tx ids as leaves).
 * Leaf and interior hashes are domain-separated by a 0x00 / 0x01 prefix, so no interior node can be
 * passed off as a leaf.
 */

const LEAF_PREFIX = Buffer.of(0x00);
const NODE_PREFIX = Buffer.of(0x01);

/**
 * Prefix and input laid out in one buffer and hashed in a single call: trees are rebuilt for every block (by the
 * proposer and by each peer that checks it), two hashes per tx, so hash objects would be the larger part of it.
 */
const scratch = Buffer.alloc(1 + 64);

export function leafHash(leaf: Uint8Array): Buffer {
  if (leaf.length > 64) return sha256(Buffer.concat([LEAF_PREFIX, leaf]));
  scratch[0] = LEAF_PREFIX[0]!;
  scratch.set(leaf, 1);
  return sha256OneShot(scratch.subarray(0, 1 + leaf.length));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length + right.length > 64) return sha256(Buffer.concat([NODE_PREFIX, left, right]));
  scratch[0] = NODE_PREFIX[0]!;
  scratch.set(left, 1);
  scratch.set(right, 1 + left.length);
  return sha256OneShot(scratch.subarray(0, 1 + left.length + right.length));
}

/** Largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

function rootOfHashes(hashes: Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 1) return hashes[start]!;
  const k = splitPoint(n);
  return nodeHash(rootOfHashes(hashes, start, start + k), rootOfHashes(hashes, start + k, end));
}

/** MTH(D[n]); the hash of the empty string for an empty list. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  return rootOfHashes(leaves.map(leafHash), 0, leaves.length);
}

function pathOf(hashes: Buffer[], m: number, start: number, end: number, out: Buffer[]): void {
  const n = end - start;
  if (n === 1) return;
  const k = splitPoint(n);
  if (m < k) {
    pathOf(hashes, m, start, start + k, out);
    out.push(rootOfHashes(hashes, start + k, end));
  } else {
    pathOf(hashes, m - k, start + k, end, out);
    out.push(rootOfHashes(hashes, start, start + k));
  }
}

/** PATH(m, D[n]): the audit path proving leaf m is in the tree of all leaves, bottom-up. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} outside tree of size ${leaves.length}`);
  }
  const out: Buffer[] = [];
  pathOf(leaves.map(leafHash), index, 0, leaves.length, out);
  return out;
}

/**
 * RFC 9162 section 2.1.3.2: recomputes the root from a leaf, its index, the tree size and the audit path.
 * Returns false for any inconsistency (wrong length, index out of range, mismatch).
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return verifyInclusionWith({ leaf: leafHash, node: nodeHash }, leaf, index, treeSize, proof, root);
}
