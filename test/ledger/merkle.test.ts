import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inclusionProof, leafHash, merkleRoot, nodeHash, verifyInclusion } from '../../src/ledger/index.js';
import { prng } from '../helpers/ledger-fixtures.js';

/*
 * RFC 6962 test vectors, as used by Certificate Transparency and Trillian (merkle/testonly). Trillian numbers
 * leaves from 1 in its inclusion-proof table; the indexes below are 0-based (Trillian's (1,8) is (0,8) here,
 * (6,8) is (5,8), (3,3) is (2,3) and (2,5) is (1,5)). Roots and paths were cross-checked against several
 * independent copies of the Trillian / CT tables, and against the from-the-definition reference below.
 */
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const EMPTY_ROOT = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const PROOFS: Array<{ index: number; size: number; path: string[] }> = [
  { index: 0, size: 1, path: [] },
  {
    index: 0,
    size: 8,
    path: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, path: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    path: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => Buffer.from(h, 'hex');

/**
 * RFC 6962 section 2.1, transcribed literally and independently of src/ledger/merkle.ts:
 *   MTH({}) = SHA-256(), MTH({d0}) = SHA-256(0x00 || d0),
 *   MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest power of two < n;
 *   PATH(m, {d0}) = {}, PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k,
 *                                    = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k.
 */
function sha(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
function largestPowerOfTwoBelow(n: number): number {
  return 2 ** Math.floor(Math.log2(n - 1));
}
function refMth(d: Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
  const k = largestPowerOfTwoBelow(d.length);
  return sha(Uint8Array.of(1), refMth(d.slice(0, k)), refMth(d.slice(k)));
}
function refPath(m: number, d: Uint8Array[]): Buffer[] {
  if (d.length === 1) return [];
  const k = largestPowerOfTwoBelow(d.length);
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}

function randomLeaves(n: number, rand: () => number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)).concat([i & 0xff, i >> 8])));
}

describe('RFC 6962 reference vectors', () => {
  it('hashes the empty tree to SHA-256 of the empty string', () => {
    expect(hex(merkleRoot([]))).toBe(EMPTY_ROOT);
  });

  for (let n = 1; n <= 8; n++) {
    it(`matches the reference root of the first ${n} leaves`, () => {
      expect(hex(merkleRoot(LEAVES.slice(0, n)))).toBe(ROOTS[n - 1]);
    });
  }

  it('domain-separates leaves (0x00) from interior nodes (0x01)', () => {
    expect(hex(leafHash(Buffer.alloc(0)))).toBe(ROOTS[0]);
    expect(hex(nodeHash(leafHash(LEAVES[0]!), leafHash(LEAVES[1]!)))).toBe(ROOTS[1]);
    // A leaf whose bytes are two child hashes is not the parent: no second preimage by reinterpreting a node.
    const fakeLeaf = Buffer.concat([leafHash(LEAVES[0]!), leafHash(LEAVES[1]!)]);
    expect(hex(merkleRoot([fakeLeaf]))).not.toBe(ROOTS[1]);
  });

  for (const p of PROOFS) {
    it(`matches the reference audit path of leaf ${p.index} in a tree of ${p.size} and verifies it`, () => {
      const leaves = LEAVES.slice(0, p.size);
      expect(inclusionProof(leaves, p.index).map(hex)).toEqual(p.path);
      expect(verifyInclusion(LEAVES[p.index]!, p.index, p.size, p.path.map(unhex), unhex(ROOTS[p.size - 1]!))).toBe(true);
    });
  }

  it('rejects each reference proof when anything about it is changed', () => {
    for (const p of PROOFS) {
      const leaf = LEAVES[p.index]!;
      const root = unhex(ROOTS[p.size - 1]!);
      const path = p.path.map(unhex);
      const label = `(${p.index},${p.size})`;
      expect(verifyInclusion(leaf, p.index, p.size, path, unhex(ROOTS[(p.size % 8)]!)), `${label} other root`).toBe(false);
      expect(verifyInclusion(Buffer.from('x'), p.index, p.size, path, root), `${label} other leaf`).toBe(false);
      expect(verifyInclusion(leafHash(leaf), p.index, p.size, path, root), `${label} leaf hash passed as leaf`).toBe(false);
      expect(verifyInclusion(leaf, p.index, p.size, [...path, root], root), `${label} extra element`).toBe(false);
      expect(verifyInclusion(leaf, p.index, p.size, [leafHash(leaf), ...path], root), `${label} extra element first`).toBe(false);
      for (let i = 0; i < path.length; i++) {
        const bent = path.map((b) => Buffer.from(b));
        bent[i]![31]! ^= 0x01;
        expect(verifyInclusion(leaf, p.index, p.size, bent, root), `${label} tampered element ${i}`).toBe(false);
        expect(verifyInclusion(leaf, p.index, p.size, path.filter((_, j) => j !== i), root), `${label} missing element ${i}`).toBe(false);
      }
      for (let other = 0; other < 8; other++) {
        if (other !== p.index) expect(verifyInclusion(leaf, other, p.size, path, root), `${label} index ${other}`).toBe(false);
      }
    }
    // Against the same root, a size whose audit-path shape differs from the real one is rejected. (A size with the
    // same shape, e.g. 7 for leaf 5 of 8, recomputes the same root: RFC 9162 binds size and root together in the
    // signed tree head, as MedChain does with txCount and txRoot in the signed block header.)
    const [, , p5of8, p2of3] = PROOFS;
    for (const size of [6, 9, 16]) {
      expect(verifyInclusion(LEAVES[5]!, 5, size, p5of8!.path.map(unhex), unhex(ROOTS[7]!)), `(5,8) as size ${size}`).toBe(false);
    }
    expect(verifyInclusion(LEAVES[2]!, 2, 4, p2of3!.path.map(unhex), unhex(ROOTS[2]!))).toBe(false);
    expect(verifyInclusion(LEAVES[0]!, 0, 8, [], unhex(ROOTS[0]!))).toBe(false);
  });
});

describe('Merkle tree against the RFC 6962 definition', () => {
  it('computes the same roots and audit paths as a literal transcription of the RFC, for sizes 1 to 70', () => {
    const rand = prng(6962);
    for (let n = 1; n <= 70; n++) {
      const leaves = randomLeaves(n, rand);
      expect(hex(merkleRoot(leaves)), `root of ${n}`).toBe(hex(refMth(leaves)));
      for (let m = 0; m < n; m++) expect(inclusionProof(leaves, m).map(hex), `path ${m} of ${n}`).toEqual(refPath(m, leaves).map(hex));
    }
  });
});

describe('verifyInclusion (property test over every leaf of trees of size 1 to 64)', () => {
  const leaves = Array.from({ length: 65 }, (_, i) => Buffer.from(`tx-${i}`));
  const roots = Array.from({ length: 66 }, (_, n) => merkleRoot(leaves.slice(0, n)));

  it('accepts every proof of every leaf', () => {
    for (let size = 1; size <= 64; size++) {
      const tree = leaves.slice(0, size);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(tree, index);
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(size)));
        expect(verifyInclusion(tree[index]!, index, size, proof, roots[size]!), `${index}/${size}`).toBe(true);
      }
    }
  });

  it('rejects wrong index, wrong size, tampered, extra or missing path elements and wrong roots', () => {
    let checks = 0;
    const no = (ok: boolean, what: string) => {
      checks++;
      if (ok) expect.fail(what);
    };
    for (let size = 1; size <= 64; size++) {
      const tree = leaves.slice(0, size);
      const root = roots[size]!;
      for (let index = 0; index < size; index++) {
        const leaf = tree[index]!;
        const proof = inclusionProof(tree, index);
        const at = `leaf ${index} of ${size}`;
        // Wrong index: every other position in the same tree.
        for (let other = 0; other < size; other++) if (other !== index) no(verifyInclusion(leaf, other, size, proof, root), `${at} as index ${other}`);
        no(verifyInclusion(leaf, size, size, proof, root), `${at} index = size`);
        no(verifyInclusion(leaf, -1, size, proof, root), `${at} negative index`);
        no(verifyInclusion(leaf, index + 0.5, size, proof, root), `${at} fractional index`);
        // Wrong size: the tree of every other size does not contain this proof (a size and a root always travel
        // together in a signed header; the root of a different size is a different tree).
        for (const other of [size - 1, size + 1, 2 * size, 64]) {
          if (other !== size && other > index) no(verifyInclusion(leaf, index, other, proof, roots[other]!), `${at} as size ${other}`);
        }
        no(verifyInclusion(leaf, index, 0, proof, root), `${at} size 0`);
        // Wrong leaf and wrong root.
        no(verifyInclusion(Buffer.concat([leaf, Buffer.of(0)]), index, size, proof, root), `${at} other leaf`);
        const badRoot = Buffer.from(root);
        badRoot[index % 32]! ^= 0x80;
        no(verifyInclusion(leaf, index, size, proof, badRoot), `${at} tampered root`);
        // Extra and missing elements, tampered elements.
        no(verifyInclusion(leaf, index, size, [...proof, root], root), `${at} extra element at the end`);
        no(verifyInclusion(leaf, index, size, [leafHash(leaf), ...proof], root), `${at} extra element at the start`);
        for (let i = 0; i < proof.length; i++) {
          no(verifyInclusion(leaf, index, size, proof.filter((_, j) => j !== i), root), `${at} without element ${i}`);
          const bent = proof.map((b) => Buffer.from(b));
          bent[i]![i % 32]! ^= 0x01;
          no(verifyInclusion(leaf, index, size, bent, root), `${at} element ${i} tampered`);
        }
        if (proof.length >= 2) {
          const swapped = [...proof];
          [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
          no(verifyInclusion(leaf, index, size, swapped, root), `${at} elements swapped`);
        }
      }
    }
    expect(checks).toBeGreaterThan(50_000);
  });

  it('refuses to build a proof for a leaf outside the tree', () => {
    expect(() => inclusionProof(LEAVES, 8)).toThrow(RangeError);
    expect(() => inclusionProof(LEAVES, -1)).toThrow(RangeError);
    expect(() => inclusionProof(LEAVES, 1.5)).toThrow(RangeError);
    expect(() => inclusionProof([], 0)).toThrow(RangeError);
  });
});
