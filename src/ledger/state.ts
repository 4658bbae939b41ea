import { CodedError } from './errors.js';

/**
 * World state: a versioned key-value map whose values are canonical JSON text.
 * Layers stack: committed store <- block overlay <- tx overlay, so a failing tx discards only its own writes.
 */

export interface StateEntry {
  key: string;
  /** Canonical JSON text of the value. */
  value: string;
}

export interface RangeOptions {
  /** Return keys strictly greater than this one (for paging). */
  after?: string;
  limit?: number;
}

/** A secondary index that a contract declares: every key under `prefix` is indexed by the terms of its value. */
export interface IndexSpec {
  name: string;
  prefix: string;
  /** Pure function of the stored value; must not depend on anything else. */
  terms(value: unknown): string[];
}

export interface StateReader {
  getRaw(key: string): string | undefined;
  rangeRaw(prefix: string, options?: RangeOptions): StateEntry[];
  /** Keys (with values) whose indexed terms include `term`, in key order. */
  indexRaw(index: string, term: string, options?: RangeOptions): StateEntry[];
}

// Keys are restricted to printable ASCII so that JavaScript string order, SQLite's BINARY collation and
// byte order all agree: range scans must be identical on every peer.
const KEY_PATTERN = /^[\x21-\x7e]{1,512}$/;
export const DEFAULT_RANGE_LIMIT = 1000;
export const MAX_RANGE_LIMIT = 10_000;

export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
    throw new CodedError('INVALID_STATE_KEY', 'state keys are 1-512 printable ASCII characters without spaces');
  }
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_RANGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1) throw new CodedError('INVALID_ARGS', 'limit must be a positive integer');
  return Math.min(limit, MAX_RANGE_LIMIT);
}

/** The first two segments of a key or prefix (`drug/cnrange/`), or undefined when it has fewer. */
function headOf(key: string): string | undefined {
  const first = key.indexOf('/');
  const second = first < 0 ? -1 : key.indexOf('/', first + 1);
  return second < 0 ? undefined : key.slice(0, second + 1);
}

/** Writes layered over a parent reader. `null` marks a deletion. */
export class StateOverlay implements StateReader {
  readonly writes = new Map<string, string | null>();
  /**
   * The heads (headOf) of every written key. A block's overlay holds thousands of writes; a range over a head
   * nothing was written under (most lookups: a contract reading master data while writing events) then skips
   * the scan of them, which otherwise cost each range call O(writes).
   */
  private readonly heads = new Set<string>();

  constructor(
    private readonly parent: StateReader,
    private readonly indexes: ReadonlyMap<string, IndexSpec>,
  ) {}

  getRaw(key: string): string | undefined {
    const own = this.writes.get(key);
    if (own !== undefined) return own === null ? undefined : own;
    return this.parent.getRaw(key);
  }

  put(key: string, value: string): void {
    assertValidKey(key);
    this.record(key, value);
  }

  del(key: string): void {
    assertValidKey(key);
    this.record(key, null);
  }

  private record(key: string, value: string | null): void {
    if (!this.writes.has(key)) this.heads.add(headOf(key) ?? '');
    this.writes.set(key, value);
  }

  rangeRaw(prefix: string, options: RangeOptions = {}): StateEntry[] {
    const limit = clampLimit(options.limit);
    const own = this.ownEntriesUnder(prefix, options.after);
    // Deleted or overwritten parent rows can hide at most `own.length` results: over-fetch by that much.
    const parentRows = this.parent.rangeRaw(prefix, { after: options.after, limit: Math.min(limit + own.length, MAX_RANGE_LIMIT + own.length) });
    return mergeSorted(parentRows, own, this.writes).slice(0, limit);
  }

  indexRaw(index: string, term: string, options: RangeOptions = {}): StateEntry[] {
    const spec = this.indexes.get(index);
    if (!spec) throw new CodedError('UNKNOWN_INDEX', `no index named ${index}`);
    const limit = clampLimit(options.limit);
    const own = this.ownEntriesUnder(spec.prefix, options.after).filter(
      (e) => e.value !== null && spec.terms(JSON.parse(e.value)).includes(term),
    );
    const touched = this.mayHoldUnder(spec.prefix) ? [...this.writes.keys()].filter((k) => k.startsWith(spec.prefix)).length : 0;
    const parentRows = this.parent
      .indexRaw(index, term, { after: options.after, limit: Math.min(limit + touched, MAX_RANGE_LIMIT + touched) })
      .filter((row) => !this.writes.has(row.key));
    return mergeSorted(parentRows, own, new Map()).slice(0, limit);
  }

  /** Moves this overlay's writes into `target` (used when a tx succeeds). */
  mergeInto(target: StateOverlay): void {
    for (const [k, v] of this.writes) target.record(k, v);
  }

  /** False when no key under `prefix` was written here (every key under a prefix with a head shares that head). */
  private mayHoldUnder(prefix: string): boolean {
    const head = headOf(prefix);
    return head === undefined || this.heads.has(head);
  }

  private ownEntriesUnder(prefix: string, after: string | undefined): Array<{ key: string; value: string | null }> {
    const out: Array<{ key: string; value: string | null }> = [];
    if (!this.mayHoldUnder(prefix)) return out;
    for (const [key, value] of this.writes) {
      if (key.startsWith(prefix) && (after === undefined || key > after)) out.push({ key, value });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

/** Merges parent rows with own writes (own wins; null deletes), in key order. */
function mergeSorted(
  parentRows: StateEntry[],
  own: Array<{ key: string; value: string | null }>,
  shadow: ReadonlyMap<string, string | null>,
): StateEntry[] {
  const out: StateEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < parentRows.length || j < own.length) {
    const p = parentRows[i];
    const o = own[j];
    if (o === undefined || (p !== undefined && p.key < o.key)) {
      if (!shadow.has(p!.key)) out.push(p!);
      i++;
    } else {
      if (p !== undefined && p.key === o.key) i++;
      if (o.value !== null) out.push({ key: o.key, value: o.value });
      j++;
    }
  }
  return out;
}
