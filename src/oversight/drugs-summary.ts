import { oversightDay } from '../contracts/access/index.js';
import type { Batch, Product, ScanReport } from '../contracts/drugs/model.js';
import { parseCode } from '../gs1/codes.js';

/**
 * The regulator dashboard's drug picture, summarised from the drugs contract's own queries (`scanReports`,
 * `recalledStock`, `batch`, `products`): suspected counterfeits and diversions per finding, per UTC+8 day and per
 * reporting institution, the most recent ones with their product, and recalled batches still held with who holds
 * how many packs. `/v1/drugs/reports/regulator` gives the raw lists; this adds what a chart needs.
 */

export const MAX_SCAN_REPORTS = 10_000;
const RECENT = 50;

export interface DrugsSummary {
  from: string;
  to: string;
  suspicious: {
    total: number;
    byFinding: Record<string, number>;
    byReporter: Record<string, number>;
    byDay: Array<{ day: string; total: number; byFinding: Record<string, number> }>;
    recent: Array<{ id: string; code: string; finding: string; reportedBy: string; at: number; product?: { gtin: string; name: string; nameEn?: string } }>;
  };
  recalls: Array<{ gtin: string; lot: string; product?: { name: string; nameEn?: string }; reason: string; recalledAt?: number; recalledBy?: string; packsHeld: number; holders: Record<string, number> }>;
  /** The scan-report list reached its cap; older reports were not counted. */
  truncated: boolean;
}

type Query = <T>(name: string, args: unknown) => T;

const gtinOf = (code: string): string | undefined => {
  try {
    const c = parseCode(code);
    return c.kind === 'sgtin' ? c.gtin : undefined;
  } catch {
    return undefined;
  }
};

export function summariseDrugs(q: Query, days: string[]): DrugsSummary {
  const from = days[0]!;
  const to = days[days.length - 1]!;
  const products = new Map(q<Product[]>('products', {}).map((p) => [p.gtin, p]));
  const all = q<ScanReport[]>('scanReports', { limit: MAX_SCAN_REPORTS });
  const inWindow = all.filter((r) => {
    const d = oversightDay(r.at);
    return d >= from && d <= to;
  });
  const byFinding: Record<string, number> = {};
  const byReporter: Record<string, number> = {};
  const perDay = new Map(days.map((day) => [day, { day, total: 0, byFinding: {} as Record<string, number> }]));
  for (const r of inWindow) {
    byFinding[r.finding] = (byFinding[r.finding] ?? 0) + 1;
    byReporter[r.reportedBy] = (byReporter[r.reportedBy] ?? 0) + 1;
    const d = perDay.get(oversightDay(r.at))!;
    d.total++;
    d.byFinding[r.finding] = (d.byFinding[r.finding] ?? 0) + 1;
  }
  const recent = [...inWindow]
    .sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1))
    .slice(0, RECENT)
    .map((r) => {
      const gtin = gtinOf(r.code);
      const p = gtin ? products.get(gtin) : undefined;
      return { ...r, ...(p ? { product: { gtin: p.gtin, name: p.name, ...(p.nameEn ? { nameEn: p.nameEn } : {}) } } : {}) };
    });
  const recalls = q<Array<{ gtin: string; lot: string; reason: string; holders: Record<string, number> }>>('recalledStock', {}).map((r) => {
    const p = products.get(r.gtin);
    const batch = q<Batch>('batch', { gtin: r.gtin, lot: r.lot });
    return {
      ...r,
      ...(p ? { product: { name: p.name, ...(p.nameEn ? { nameEn: p.nameEn } : {}) } } : {}),
      ...(batch.recall ? { recalledAt: batch.recall.at, recalledBy: batch.recall.institution } : {}),
      packsHeld: Object.values(r.holders).reduce((n, k) => n + k, 0),
    };
  });
  return {
    from,
    to,
    suspicious: { total: inWindow.length, byFinding, byReporter, byDay: [...perDay.values()], recent },
    recalls,
    truncated: all.length === MAX_SCAN_REPORTS,
  };
}
