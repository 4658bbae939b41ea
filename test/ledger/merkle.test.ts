import { describe, expect, it } from 'vitest';
import { inclusionProof, merkleRoot, verifyInclusion } from '../../src/ledger/index.js';

// RFC 6962 test vectors as used by Certificate Transparency and Trillian.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
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

describe('RFC 6962 Merkle tree', () => {
  it('hashes the empty tree to SHA-256 of the empty string', () => {
    expect(merkleRoot([]).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('matches the reference roots for trees of 1 to 8 leaves', () => {
    ROOTS.forEach((root, i) => expect(merkleRoot(LEAVES.slice(0, i + 1)).toString('hex'), `size ${i + 1}`).toBe(root));
  });

  for (const p of PROOFS) {
    it(`matches the reference audit path of leaf ${p.index} in a tree of ${p.size}`, () => {
      const leaves = LEAVES.slice(0, p.size);
      expect(inclusionProof(leaves, p.index).map((b) => b.toString('hex'))).toEqual(p.path);
      const path = p.path.map((h) => Buffer.from(h, 'hex'));
      expect(verifyInclusion(LEAVES[p.index]!, p.index, p.size, path, Buffer.from(ROOTS[p.size - 1]!, 'hex'))).toBe(true);
    });
  }

  it('verifies every leaf of every tree of size 1 to 64 and rejects each kind of tampering', () => {
    const leaves = Array.from({ length: 64 }, (_, i) => Buffer.from(`leaf-${i}`));
    for (let size = 1; size <= 64; size++) {
      const tree = leaves.slice(0, size);
      const root = merkleRoot(tree);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(tree, index);
        expect(verifyInclusion(tree[index]!, index, size, proof, root)).toBe(true);
        expect(verifyInclusion(Buffer.from('forged'), index, size, proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion(tree[index]!, (index + 1) % size, size, proof, root)).toBe(false);
        // The path alone does not always fix the tree size (RFC 9162 binds it through the signed tree head; here
        // through the signed block header's txCount), but it never proves inclusion in the next tree's root.
        expect(verifyInclusion(tree[index]!, index, size + 1, proof, merkleRoot(leaves.slice(0, size + 1)))).toBe(false);
        expect(verifyInclusion(tree[index]!, index, size, [...proof, root], root)).toBe(false);
        if (proof.length > 0) {
          expect(verifyInclusion(tree[index]!, index, size, proof.slice(1), root)).toBe(false);
          const bent = proof.map((b) => Buffer.from(b));
          bent[bent.length - 1]![0]! ^= 1;
          expect(verifyInclusion(tree[index]!, index, size, bent, root)).toBe(false);
        }
      }
    }
  });

  it('rejects out-of-range indexes', () => {
    expect(() => inclusionProof(LEAVES, 8)).toThrow(RangeError);
    expect(verifyInclusion(LEAVES[0]!, -1, 8, [], merkleRoot(LEAVES))).toBe(false);
    expect(verifyInclusion(LEAVES[0]!, 8, 8, [], merkleRoot(LEAVES))).toBe(false);
  });
});
