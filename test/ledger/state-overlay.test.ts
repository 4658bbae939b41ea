import { describe, expect, it } from 'vitest';
import { StateOverlay, type IndexSpec, type StateEntry, type StateReader } from '../../src/ledger/index.js';

/**
 * Overlays answer ranges and index lookups as the merged state would, whether or not anything was written under
 * the range (an overlay skips its own writes for a prefix whose first two segments nothing was written under).
 */

const byValue: IndexSpec = { name: 'byColour', prefix: 'a/x/', terms: (v) => [(v as { colour: string }).colour] };

/** A committed state of sorted rows, answering like the store. */
function base(rows: Record<string, unknown>): StateReader {
  const entries: StateEntry[] = Object.entries(rows)
    .map(([key, v]) => ({ key, value: JSON.stringify(v) }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  const limited = (list: StateEntry[], after?: string, limit = 1000) => list.filter((e) => after === undefined || e.key > after).slice(0, limit);
  return {
    getRaw: (key) => entries.find((e) => e.key === key)?.value,
    rangeRaw: (prefix, o = {}) => limited(entries.filter((e) => e.key.startsWith(prefix)), o.after, o.limit),
    indexRaw: (_index, term, o = {}) =>
      limited(entries.filter((e) => e.key.startsWith(byValue.prefix) && byValue.terms(JSON.parse(e.value)).includes(term)), o.after, o.limit),
  };
}

const keys = (rows: StateEntry[]) => rows.map((r) => r.key);

describe('StateOverlay ranges', () => {
  const committed = base({ 'a/x/1': { colour: 'red' }, 'a/x/2': { colour: 'blue' }, 'a/y/1': { colour: 'red' }, 'b/z/1': { colour: 'red' }, top: 1 });
  const indexes = new Map([[byValue.name, byValue]]);

  it('merges its writes and deletions with the parent rows, in key order, under any prefix', () => {
    const block = new StateOverlay(committed, indexes);
    const tx = new StateOverlay(block, indexes);
    tx.put('a/x/0', JSON.stringify({ colour: 'red' }));
    tx.del('a/x/2');
    // Nothing written under b/z/ or a/y/: the parent's rows come back unchanged.
    expect(keys(tx.rangeRaw('b/z/'))).toEqual(['b/z/1']);
    expect(keys(tx.rangeRaw('a/y/'))).toEqual(['a/y/1']);
    expect(keys(tx.rangeRaw('a/x/'))).toEqual(['a/x/0', 'a/x/1']);
    // Prefixes of one segment or none scan the writes.
    expect(keys(tx.rangeRaw('a/'))).toEqual(['a/x/0', 'a/x/1', 'a/y/1']);
    expect(keys(tx.rangeRaw('a'))).toEqual(['a/x/0', 'a/x/1', 'a/y/1']);
    expect(keys(tx.rangeRaw('t'))).toEqual(['top']);
    expect(keys(tx.rangeRaw('a/x/1'))).toEqual(['a/x/1']);
    expect(tx.indexRaw('byColour', 'red').map((r) => r.key)).toEqual(['a/x/0', 'a/x/1']);
    expect(tx.indexRaw('byColour', 'blue')).toEqual([]);
  });

  it('keeps answering right after its writes move to the block overlay', () => {
    const block = new StateOverlay(committed, indexes);
    const tx = new StateOverlay(block, indexes);
    tx.del('b/z/1');
    tx.put('a/y/2', JSON.stringify({ colour: 'red' }));
    tx.mergeInto(block);
    expect(keys(block.rangeRaw('b/z/'))).toEqual([]);
    expect(keys(block.rangeRaw('a/y/'))).toEqual(['a/y/1', 'a/y/2']);
    const next = new StateOverlay(block, indexes);
    expect(keys(next.rangeRaw('b/'))).toEqual([]);
    expect(keys(next.rangeRaw('a/y/', { after: 'a/y/1' }))).toEqual(['a/y/2']);
  });
});
