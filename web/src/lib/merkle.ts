import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, fromHex, toHex } from './encoding.js';

/**
 * RFC 6962 / RFC 9162 §2.1.3.2 inclusion-proof verification in the browser (the node's own is
 * src/ledger/merkle.ts, on node:crypto; test/web/web-lib.test.ts checks the two agree). Leaves are tx ids.
 */
const leafHash = (leaf: Uint8Array) => sha256(concatBytes(Uint8Array.of(0), leaf));
const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(concatBytes(Uint8Array.of(1), l, r));

export function verifyInclusion(leaf: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && toHex(r) === toHex(root);
}

/** A proof as GET /v1/txs/{id}/proof returns it, checked against a txRoot taken from the block header. */
export interface TxProof {
  txId: string;
  height: number;
  index: number;
  treeSize: number;
  path: string[];
  txRoot: string;
}

export function verifyTxProof(proof: TxProof, headerTxRoot: string): boolean {
  try {
    return verifyInclusion(fromHex(proof.txId), proof.index, proof.treeSize, proof.path.map(fromHex), fromHex(headerTxRoot));
  } catch {
    return false;
  }
}
