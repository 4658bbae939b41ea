import { Type } from '@sinclair/typebox';

/**
 * Drug traceability state. Packs and containers share one namespace of code keys (`sgtin:{gtin}.{serial}`,
 * `sscc:{18}`); the 20-digit Chinese code is an alias to a pack. Each pack row carries its current holder and
 * status and the hashes of the events that touched it, so verifying a pack is one read plus one per event.
 */

export const Gtin = Type.String({ pattern: '^\\d{14}$' });
export const Lot = Type.String({ pattern: '^[0-9A-Za-z-]{1,20}$' });
export const Gln = Type.String({ pattern: '^\\d{13}$' });
export const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
export const CodeKey = Type.String({ pattern: '^(sgtin:\\d{14}\\.[0-9A-Za-z]{1,20}|sscc:\\d{18})$' });
export const CnCode = Type.String({ pattern: '^\\d{20}$' });

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
  events: string[];
}

export interface Container {
  code: string;
  kind: 'container';
  holder: string;
  status: 'active' | 'in_transit' | 'destroyed';
  children: string[];
  parent?: string;
  shipment?: string;
  events: string[];
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
  sensors?: { readings: number; minC: number; maxC: number };
}

/** An anchored EPCIS event: its CBV 2.0 hash id, what it did, and the event as captured (compact for bulk). */
export interface StoredEvent {
  id: string;
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
  to?: string;
  shipment?: string;
  sensors?: { readings: number; minC: number; maxC: number };
}

export interface ScanReport {
  id: string;
  code: string;
  finding: 'unknown-code' | 'already-dispensed' | 'recalled' | 'expired' | 'temperature-excursion' | 'destroyed';
  reportedBy: string;
  at: number;
}

export const drugKeys = {
  product: (gtin: string) => `drug/product/${gtin}`,
  cnPrefix: (prefix: string) => `drug/cnprefix/${prefix}`,
  batch: (gtin: string, lot: string) => `drug/batch/${gtin}/${lot}`,
  partner: (gln: string) => `drug/partner/${gln}`,
  code: (key: string) => `drug/code/${key}`,
  cn: (code: string) => `drug/cn/${code}`,
  shipment: (id: string) => `drug/ship/${id}`,
  event: (id: string) => `drug/ev/${id}`,
  notice: (institution: string, id: string) => `drug/notice/${institution}/${id}`,
  scan: (id: string) => `drug/scan/${id}`,
};

/** The calendar day of a block time in China Standard Time (UTC+8), for expiry checks. */
export function dayOf(time: number): string {
  return new Date(time + 8 * 3600_000).toISOString().slice(0, 10);
}
