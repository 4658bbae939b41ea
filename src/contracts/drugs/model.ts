import { Type } from '@sinclair/typebox';

/**
 * Drug traceability state. Packs and containers share one namespace of code keys (`sgtin:{gtin}.{serial}`,
 * `sscc:{18}`). A pack row holds only the pack's current state (constant size: it does not grow with events);
 * each event that touches a pack or container also writes a small custody step under the code
 * (`drug/custody/{code}/{utc}/{digest}`), so a code's whole chain is one contiguous range read in time order
 * however large the ledger grows (a verification reads a few pages, not one event row per step). The
 * 20-digit Chinese codes of a commissioning are one range row, not one row per pack. Stock per holder and batch
 * is a counter row kept up to date by every change of a pack, so inventory and recall read a few rows, not
 * every pack.
 */

export const Gtin = Type.String({ pattern: '^\\d{14}$' });
export const Lot = Type.String({ pattern: '^[0-9A-Za-z-]{1,20}$' });
export const Gln = Type.String({ pattern: '^\\d{13}$' });
export const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
export const CodeKey = Type.String({ pattern: '^(sgtin:\\d{14}\\.[0-9A-Za-z]{1,20}|sscc:\\d{18})$' });
export const CnCode = Type.String({ pattern: '^\\d{20}$' });

/** Temperature readings (°C) in summary: how many, the lowest and the highest. */
export interface Readings {
  readings: number;
  minC: number;
  maxC: number;
}

/** The summary of a non-empty list of temperatures. */
export const readingsOf = (temps: number[]): Readings => ({ readings: temps.length, minC: Math.min(...temps), maxC: Math.max(...temps) });

/** Two summaries as one: a shipment's readings across the events that attached them (shipping, receiving). */
export function mergeReadings(a: Readings | undefined, b: Readings): Readings {
  return a ? { readings: a.readings + b.readings, minC: Math.min(a.minC, b.minC), maxC: Math.max(a.maxC, b.maxC) } : { ...b };
}

export interface Product {
  gtin: string;
  approvalNumber: string;
  name: string;
  nameEn?: string;
  dosageForm: string;
  strength: string;
  maker: string;
  /** 7-digit product identifier of the Chinese traceability code. */
  cnPrefix?: string;
  storage: { minC: number; maxC: number };
  registeredAt: number;
}

export interface Batch {
  gtin: string;
  lot: string;
  manufactured: string;
  expires: string;
  recall?: { reason: string; by: string; institution: string; at: number };
}

export type PackStatus = 'active' | 'in_transit' | 'dispensed' | 'returned' | 'destroyed';

export interface Pack {
  code: string;
  kind: 'pack';
  gtin: string;
  serial: string;
  lot: string;
  cn?: string;
  holder: string;
  status: PackStatus;
  /** The case or pallet it is packed in. */
  parent?: string;
  shipment?: string;
  /** A cold-chain excursion blocks dispensing until a pharmacist releases the pack. */
  excursion?: { shipment: string; minC: number; maxC: number; allowed: { minC: number; maxC: number } };
  released?: { by: string; at: number; note: string };
  dispensed?: { patientId: string; prescription?: string; by: string; institution: string; at: number };
  /** The commissioning event (bulk commissioning events are not indexed pack by pack). */
  commissioned: string;
}

export interface Container {
  code: string;
  kind: 'container';
  holder: string;
  status: 'active' | 'in_transit' | 'destroyed';
  children: string[];
  parent?: string;
  shipment?: string;
}

export type Coded = Pack | Container;

export interface Shipment {
  id: string;
  from: string;
  to: string;
  sentAt: string;
  codes: string[];
  packs: number;
  status: 'in_transit' | 'received';
  receivedAt?: string;
  /** Packs shipped but not in the receiving event. */
  missing?: string[];
  sensors?: Readings;
}

/** An anchored EPCIS event: its CBV 2.0 hash id, what it did, and the codes it named (compact for bulk). */
export interface StoredEvent {
  id: string;
  /** eventTime in UTC (the row's key starts with it). */
  utc: string;
  type: string;
  action?: string;
  bizStep: string;
  disposition?: string;
  eventTime: string;
  recordedAt: number;
  height: number;
  /** The tx that anchored it (for inclusion proofs). */
  txId: string;
  by: string;
  institution: string;
  /** bizLocation or readPoint id, when the event names one. */
  location?: string;
  /** The event's EPCs (for bulk commissioning: `range`, the first and last serial and the count). */
  codes?: string[];
  range?: { gtin: string; lot: string; first: number; count: number };
  /** Packs and containers the event moved without naming them (the contents of a shipped case). */
  touched?: string[];
  to?: string;
  shipment?: string;
  sensors?: Readings;
}

/**
 * What a verification shows of one event that touched a code, written under the code when the event is applied
 * (write-once). `shipment` is the code's own shipment (a receiving event may take in several), and `sensors` the
 * readings this event attached to it.
 */
export interface CustodyStep {
  event: string;
  bizStep: string;
  eventTime: string;
  institution: string;
  to?: string;
  location?: string;
  shipment?: string;
  sensors?: Readings;
  txId: string;
  height: number;
}

export interface ScanReport {
  id: string;
  code: string;
  finding: 'unknown-code' | 'already-dispensed' | 'recalled' | 'expired' | 'temperature-excursion' | 'destroyed';
  reportedBy: string;
  at: number;
}

/** Consecutive 20-digit codes issued in one commissioning: code `first + i` is the pack with serial i of the list. */
export interface CnRange {
  first: string;
  last: string;
  gtin: string;
  serialFirst?: number;
  serials?: string[];
}

/** Packs of one batch at one holder (active, in transit from it, non-conformant among those). */
export interface Stock {
  holder: string;
  gtin: string;
  lot: string;
  active: number;
  inTransit: number;
  nonconformant: number;
}

/** The hex digest of a CBV 2.0 hash id (`ni:///sha-256;{hex}?ver=CBV2.0`). */
export const eventDigest = (id: string) => id.slice(14, 78);
/** The CBV 2.0 hash id of a digest (the inverse of eventDigest). */
export const eventIdOf = (digest: string) => `ni:///sha-256;${digest}?ver=CBV2.0`;

/**
 * A custody step as stored: the event id is in the row's key, and a shipping step's shipment is its own event,
 * so neither is repeated in the value (there is one step per code per event: the bytes add up).
 */
export type StoredCustodyStep = Omit<CustodyStep, 'event'>;

/** The step a custody row holds (`key` is its row key, ending with the event's digest). */
export function custodyStepOf(key: string, value: StoredCustodyStep): CustodyStep {
  const event = eventIdOf(key.slice(-64));
  const shipment = value.shipment ?? (value.bizStep === 'shipping' ? event : undefined);
  return { event, ...value, ...(shipment ? { shipment } : {}) };
}

export const drugKeys = {
  product: (gtin: string) => `drug/product/${gtin}`,
  cnPrefix: (prefix: string) => `drug/cnprefix/${prefix}`,
  batch: (gtin: string, lot: string) => `drug/batch/${gtin}/${lot}`,
  partner: (gln: string) => `drug/partner/${gln}`,
  code: (key: string) => `drug/code/${key}`,
  /** Keyed by the range's last code, so the range holding a code is the first row after code - 1. */
  cnRange: (last: string) => `drug/cnrange/${last}`,
  stock: (holder: string, gtin: string, lot: string) => `drug/stock/${holder}/${gtin}/${lot}`,
  shipment: (id: string) => `drug/ship/${id}`,
  /** Events are keyed by time, so index lookups (a pack's custody, a step in a time range) come back in time order. */
  event: (utc: string, id: string) => `drug/ev/${utc}/${eventDigest(id)}`,
  /** Serials and SSCCs hold no `/`, so `drug/custody/{code}/` is exactly one code's steps, oldest first. */
  custody: (code: string, utc: string, id: string) => `${drugKeys.custodyOf(code)}${utc}/${eventDigest(id)}`,
  /** The prefix of one code's custody steps. */
  custodyOf: (code: string) => `drug/custody/${code}/`,
  notice: (institution: string, id: string) => `drug/notice/${institution}/${id}`,
  scan: (id: string) => `drug/scan/${id}`,
};

/** The calendar day of a block time in China Standard Time (UTC+8), for expiry checks. */
export function dayOf(time: number): string {
  return new Date(time + 8 * 3600_000).toISOString().slice(0, 10);
}
