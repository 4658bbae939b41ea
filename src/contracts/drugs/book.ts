import type { RangeOptions } from '../../ledger/index.js';
import { sgtinKey } from '../../gs1/codes.js';
import type { ReadState, WriteState } from '../runtime.js';
import { drugKeys, type CnRange, type Coded, type Pack, type Stock } from './model.js';

/**
 * Bookkeeping helpers of the drugs contract: a savepoint (so one event of a batch can be refused without undoing
 * the others), pack writes that keep the stock counters right, and the 20-digit code ranges.
 */

/**
 * Writes buffered over a tx's state, applied in order by `commit()` or dropped. Values are kept as objects until
 * the commit (the contract treats values as immutable, so the parent's values are parsed once per savepoint and
 * then served from memory: an event reads each pack it moves more than once). Range reads are only allowed where
 * the savepoint has not written (the drugs methods never range over what they write in the same event).
 */
export class Savepoint implements WriteState {
  private readonly writes = new Map<string, unknown>();
  private readonly reads = new Map<string, unknown>();

  constructor(private readonly parent: WriteState) {}

  get<T = unknown>(key: string): T | undefined {
    if (this.writes.has(key)) return (this.writes.get(key) ?? undefined) as T | undefined;
    if (this.reads.has(key)) return this.reads.get(key) as T | undefined;
    const value = this.parent.get<T>(key);
    this.reads.set(key, value);
    return value;
  }

  put(key: string, value: unknown): void {
    this.writes.set(key, value);
  }

  del(key: string): void {
    this.writes.set(key, null);
  }

  range<T = unknown>(prefix: string, options?: RangeOptions): Array<{ key: string; value: T }> {
    this.assertUntouched(prefix);
    return this.parent.range<T>(prefix, options);
  }

  byIndex<T = unknown>(index: string, term: string, options?: RangeOptions): Array<{ key: string; value: T }> {
    this.assertUntouched('drug/');
    return this.parent.byIndex<T>(index, term, options);
  }

  commit(): void {
    for (const [key, value] of this.writes) {
      if (value === null) this.parent.del(key);
      else this.parent.put(key, value);
    }
    this.writes.clear();
    this.reads.clear();
  }

  private assertUntouched(prefix: string): void {
    for (const key of this.writes.keys()) if (key.startsWith(prefix)) throw new Error(`savepoint: range over written prefix ${prefix}`);
  }
}

type Counts = Pick<Stock, 'active' | 'inTransit' | 'nonconformant'>;

/**
 * Pack and container writes. Every pack change adjusts the stock row of its holder and batch (one write per
 * holder and batch per event, at `flush()`), so inventory and recall never scan packs.
 */
export class PackBook {
  private readonly deltas = new Map<string, { holder: string; gtin: string; lot: string } & Counts>();

  constructor(readonly state: WriteState) {}

  put(before: Pack | undefined, after: Pack): void {
    this.state.put(drugKeys.code(after.code), after);
    if (before) this.count(before, -1);
    this.count(after, 1);
  }

  putContainer(row: Coded): void {
    this.state.put(drugKeys.code(row.code), row);
  }

  private count(pack: Pack, sign: 1 | -1): void {
    const moving = pack.status === 'active' || pack.status === 'in_transit';
    if (!moving) return;
    const key = drugKeys.stock(pack.holder, pack.gtin, pack.lot);
    let d = this.deltas.get(key);
    if (!d) this.deltas.set(key, (d = { holder: pack.holder, gtin: pack.gtin, lot: pack.lot, active: 0, inTransit: 0, nonconformant: 0 }));
    if (pack.status === 'active') d.active += sign;
    else d.inTransit += sign;
    if (pack.excursion && !pack.released) d.nonconformant += sign;
  }

  /** Writes the stock rows changed since the last flush, in key order. */
  flush(): void {
    for (const key of [...this.deltas.keys()].sort()) {
      const d = this.deltas.get(key)!;
      if (d.active === 0 && d.inTransit === 0 && d.nonconformant === 0) continue;
      const row = this.state.get<Stock>(key) ?? { holder: d.holder, gtin: d.gtin, lot: d.lot, active: 0, inTransit: 0, nonconformant: 0 };
      this.state.put(key, { ...row, active: row.active + d.active, inTransit: row.inTransit + d.inTransit, nonconformant: row.nonconformant + d.nonconformant } satisfies Stock);
    }
    this.deltas.clear();
  }
}

const pad20 = (n: bigint) => n.toString().padStart(20, '0');

/** The first commissioning range whose last code is not below `code` (ranges are disjoint and keyed by their last code). */
function rangeEndingFrom(state: ReadState, code: string): CnRange | undefined {
  const n = BigInt(code);
  const after = n === 0n ? 'drug/cnrange/' : drugKeys.cnRange(pad20(n - 1n));
  return state.range<CnRange>('drug/cnrange/', { after, limit: 1 })[0]?.value;
}

/** The commissioning range holding a 20-digit code, if any. */
export function cnRangeOf(state: ReadState, code: string): CnRange | undefined {
  const row = rangeEndingFrom(state, code);
  return row && row.first <= code ? row : undefined;
}

/** The pack key a 20-digit code was issued to, if any. */
export function packOfCn(state: ReadState, code: string): string | undefined {
  const range = cnRangeOf(state, code);
  if (!range) return undefined;
  const i = Number(BigInt(code) - BigInt(range.first));
  const serial = range.serials ? range.serials[i] : String(range.serialFirst! + i);
  return serial === undefined ? undefined : sgtinKey(range.gtin, serial);
}

/** Whether any code in [first, last] was already issued. */
export function cnRangeTaken(state: ReadState, first: string, last: string): boolean {
  const row = rangeEndingFrom(state, first);
  return row !== undefined && row.first <= last;
}
