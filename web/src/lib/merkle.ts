import { sha256 } from '@noble/hashes/sha2.js';
import { verifyInclusionWith } from '../../../src/ledger/merkle-inclusion.js';
import { concatBytes, fromHex } from './encoding.js';

/**
 * RFC 6962 / RFC 9162 §2.1.3.2 inclusion-proof verification in the browser (the node's own is
 * src/ledger/merkle.ts, on node:crypto; both run src/ledger/merkle-inclusion.ts, and test/web/web-lib.test.ts
 * checks they agree). Leaves are tx ids.
 */
const leafHash = (leaf: Uint8Array) => sha256(concatBytes(Uint8Array.of(0), leaf));
const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(concatBytes(Uint8Array.of(1), l, r));

export function verifyInclusion(leaf: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  return verifyInclusionWith({ leaf: leafHash, node: nodeHash }, leaf, index, treeSize, proof, root);
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
