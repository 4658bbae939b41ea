import { describe, expect, it } from 'vitest';
import { CheckpointBoard } from '../../src/network/checkpoint-board.js';
import type { Checkpoint } from '../../src/ledger/index.js';

const h = (c: string) => c.repeat(64);
const cp = (signer: string, height: number, blockHash: string, stateHash = h('5')): Checkpoint => ({ chain: 'c', height, blockHash, stateHash, signer, sig: '' });

function board(localHeight: { value: number }, local: Record<number, string> = {}) {
  return new CheckpointBoard({ nodeDid: 'me', institution: 'a' }, (height) =>
    height <= localHeight.value && local[height] ? { hash: local[height]!, stateHash: h('5') } : undefined,
  );
}

describe('checkpoint board', () => {
  it('finds nothing while every checkpoint matches, and tracks each peer\'s latest height', () => {
    const b = board({ value: 5 }, { 3: h('a'), 5: h('b') });
    expect(b.observe(cp('p1', 3, h('a')), 'x')).toEqual([]);
    expect(b.observe(cp('p2', 3, h('a')), 'y')).toEqual([]);
    expect(b.observe(cp('p1', 5, h('b')), 'x')).toEqual([]);
    expect(b.observe(cp('p1', 4, h('c')), 'x')).toEqual([]); // no one else signed height 4
    expect(b.peers().map((p) => [p.nodeDid, p.height])).toEqual([['p1', 5], ['p2', 3]]);
    expect(b.disagreements()).toEqual([]);
  });

  it('flags a peer whose block differs from ours at a height we hold, once', () => {
    const b = board({ value: 3 }, { 3: h('a') });
    const found = b.observe(cp('p1', 3, h('f')), 'x');
    expect(found).toHaveLength(1);
    expect(found[0]!.height).toBe(3);
    expect(found[0]!.sides.map((s) => s.nodeDid).sort()).toEqual(['me', 'p1']);
    expect(b.observe(cp('p1', 3, h('f')), 'x')).toEqual([]);
    expect(b.disagreements()).toHaveLength(1);
  });

  it('flags a same block hash with a different state hash', () => {
    const b = board({ value: 3 }, { 3: h('a') });
    expect(b.observe(cp('p1', 3, h('a'), h('6')), 'x')).toHaveLength(1);
  });

  it('compares two other peers with each other, and a height above ours once we commit it', () => {
    const local = { value: 3 };
    const b = board(local, { 3: h('a'), 4: h('b') });
    expect(b.observe(cp('p1', 4, h('b')), 'x')).toEqual([]);
    const between = b.observe(cp('p2', 4, h('c')), 'y');
    expect(between).toHaveLength(1);
    expect(between[0]!.sides.map((s) => s.nodeDid).sort()).toEqual(['p1', 'p2']);
    local.value = 4;
    const mine = b.onLocalBlock(4);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.sides.map((s) => s.nodeDid).sort()).toEqual(['me', 'p2']);
  });

  it('ignores our own checkpoints', () => {
    const b = board({ value: 3 }, { 3: h('a') });
    expect(b.observe(cp('me', 3, h('f')))).toEqual([]);
    expect(b.peers()).toEqual([]);
  });
});
