import type { ReadState } from '../runtime.js';
import { drugKeys, type Batch, type Product, type Stock } from './model.js';

/**
 * Stock reports built from the stock counter rows (one per holder and batch) and batch rows — never from packs.
 * Deterministic: "today" is given (the caller passes the day of the latest block), rows come in a fixed order.
 */

export interface ExpiringStock {
  holder: string;
  gtin: string;
  lot: string;
  product: string;
  expires: string;
  /** Days from `asOf` to the expiry day (negative: already expired). */
  daysLeft: number;
  expired: boolean;
  recalled: boolean;
  active: number;
  inTransit: number;
  nonconformant: number;
}

export interface ExpiringReport {
  asOf: string;
  withinDays: number;
  /** The last expiry day included. */
  until: string;
  stock: ExpiringStock[];
  /** More rows matched than `limit`; the earliest-expiring ones are listed. */
  truncated: boolean;
}

const DAY_MS = 86_400_000;
const PAGE = 1000;
export const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/** Every row under a prefix, page by page, in key order. */
function* rowsUnder<T>(state: ReadState, prefix: string): Generator<T> {
  let after: string | undefined;
  for (;;) {
    const page = state.range<T>(prefix, { ...(after ? { after } : {}), limit: PAGE });
    for (const { value } of page) yield value;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.key;
  }
}

/** Stock rows (with packs in them) of one batch, every holder, from the `stockByBatch` index. */
function* stockOfBatch(state: ReadState, gtin: string, lot: string): Generator<Stock> {
  let after: string | undefined;
  for (;;) {
    const page = state.byIndex<Stock>('stockByBatch', `${gtin}/${lot}`, { ...(after ? { after } : {}), limit: PAGE });
    for (const { value } of page) yield value;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.key;
  }
}

/**
 * Stock whose batch expires on or before `asOf + withinDays` (already expired stock included, flagged), sorted by
 * expiry, then holder, product and lot. One holder's: its stock rows. Every holder's (the regulator): the batch
 * rows expiring in time, then who holds each from the `stockByBatch` index.
 */
export function expiringStock(state: ReadState, options: { asOf: string; withinDays: number; holder?: string; limit: number }): ExpiringReport {
  const until = addDays(options.asOf, options.withinDays);
  const batches = new Map<string, Batch | undefined>();
  const batchOf = (gtin: string, lot: string) => {
    const key = drugKeys.batch(gtin, lot);
    if (!batches.has(key)) batches.set(key, state.get<Batch>(key));
    return batches.get(key);
  };
  const products = new Map<string, string>();
  const productName = (gtin: string) => {
    let name = products.get(gtin);
    if (name === undefined) products.set(gtin, (name = state.get<Product>(drugKeys.product(gtin))?.name ?? ''));
    return name;
  };
  const matched: Array<{ stock: Stock; batch: Batch }> = [];
  const held = (s: Stock) => s.active + s.inTransit > 0;
  if (options.holder) {
    for (const stock of rowsUnder<Stock>(state, `drug/stock/${options.holder}/`)) {
      const batch = batchOf(stock.gtin, stock.lot);
      if (held(stock) && batch && batch.expires <= until) matched.push({ stock, batch });
    }
  } else {
    for (const batch of rowsUnder<Batch>(state, 'drug/batch/')) {
      if (batch.expires > until) continue;
      for (const stock of stockOfBatch(state, batch.gtin, batch.lot)) if (held(stock)) matched.push({ stock, batch });
    }
  }
  const order = (a: { stock: Stock; batch: Batch }) => `${a.batch.expires}|${a.stock.holder}|${a.stock.gtin}|${a.stock.lot}`;
  matched.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  const stock = matched.slice(0, options.limit).map(({ stock: s, batch }) => {
    const daysLeft = daysBetween(options.asOf, batch.expires);
    return {
      holder: s.holder,
      gtin: s.gtin,
      lot: s.lot,
      product: productName(s.gtin),
      expires: batch.expires,
      daysLeft,
      // A pack is dispensable through its expiry day (contracts/drugs/capture.ts: assertDispensable).
      expired: daysLeft < 0,
      recalled: batch.recall !== undefined,
      active: s.active,
      inTransit: s.inTransit,
      nonconformant: s.nonconformant,
    } satisfies ExpiringStock;
  });
  return { asOf: options.asOf, withinDays: options.withinDays, until, stock, truncated: matched.length > options.limit };
}
