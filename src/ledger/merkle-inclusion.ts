/**
 * RFC 9162 section 2.1.3.2 inclusion-proof verification, independent of the hash implementation so the node
 * (node:crypto, `merkle.ts`) and the browser (@noble/hashes, web/src/lib/merkle.ts) run the same algorithm.
 * Imports nothing: it must stay browser-safe.
 */
export interface MerkleHashes {
  /** SHA-256(0x00 ‖ leaf). */
  leaf(leaf: Uint8Array): Uint8Array;
  /** SHA-256(0x01 ‖ left ‖ right). */
  node(left: Uint8Array, right: Uint8Array): Uint8Array;
}

/**
 * Recomputes the root from a leaf, its index, the tree size and the audit path. Returns false for any
 * inconsistency (wrong path length, index out of range, mismatch).
 */
export function verifyInclusionWith(
  hashes: MerkleHashes,
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = hashes.leaf(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = hashes.node(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashes.node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
