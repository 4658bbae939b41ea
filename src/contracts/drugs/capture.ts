import { createRequire } from 'node:module';
import { Type, type Static } from '@sinclair/typebox';
import { CodedError } from '../../ledger/errors.js';
import { codeKey, parseEpc, type PackCode } from '../../gs1/codes.js';
import { ContractError, type ContractCode } from '../errors.js';
import type { Signer, TxContext, WriteState } from '../runtime.js';
import { dayOf, drugKeys, type Batch, type Coded, type Container, type Pack, type Product, type Shipment, type StoredEvent } from './model.js';

/**
 * EPCIS 2.0 events applied to custody. One event per tx; its CBV 2.0 event hash id (computed here with GS1's
 * epcis2.js, so every peer anchors the same id) names it, and a second capture of the same event is refused.
 * Custody rules: only the holder ships, packs, dispenses or destroys; only the named recipient receives; state
 * must allow the step (no shipping what was dispensed, no receiving what was never shipped).
 */

const require = createRequire(import.meta.url);
const { eventToHashedId } = require('epcis2.js') as { eventToHashedId(event: unknown, context: unknown): string };
export const EPCIS_CONTEXT = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'];
export const MAX_EPCS_PER_EVENT = 1000;

export const DrugErrors = {
  UNKNOWN_CODE: 'UNKNOWN_CODE',
  DUPLICATE_CODE: 'DUPLICATE_CODE',
  NOT_HOLDER: 'NOT_HOLDER',
  OUT_OF_ORDER: 'OUT_OF_ORDER',
  NOT_SHIPPED_TO_YOU: 'NOT_SHIPPED_TO_YOU',
  ALREADY_DISPENSED: 'ALREADY_DISPENSED',
  PACK_RECALLED: 'PACK_RECALLED',
  PACK_EXPIRED: 'PACK_EXPIRED',
  PACK_NONCONFORMANT: 'PACK_NONCONFORMANT',
  UNSUPPORTED_EVENT: 'UNSUPPORTED_EVENT',
} as const;

export function fail(code: keyof typeof DrugErrors | ContractCode, message: string): never {
  throw new ContractError(code as ContractCode, message);
}

const Epc = Type.String({ minLength: 1, maxLength: 200 });
export const EpcisEvent = Type.Object(
  {
    type: Type.Union([Type.Literal('ObjectEvent'), Type.Literal('AggregationEvent')]),
    eventTime: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2})$' }),
    eventTimeZoneOffset: Type.String({ pattern: '^[+-]\\d{2}:\\d{2}$' }),
    action: Type.Union([Type.Literal('ADD'), Type.Literal('OBSERVE'), Type.Literal('DELETE')]),
    bizStep: Type.String({ maxLength: 200 }),
    disposition: Type.Optional(Type.String({ maxLength: 200 })),
    epcList: Type.Optional(Type.Array(Epc, { maxItems: MAX_EPCS_PER_EVENT })),
    parentID: Type.Optional(Epc),
    childEPCs: Type.Optional(Type.Array(Epc, { maxItems: MAX_EPCS_PER_EVENT })),
    destinationList: Type.Optional(Type.Array(Type.Object({ type: Type.String(), destination: Type.String() }), { maxItems: 10 })),
    sourceList: Type.Optional(Type.Array(Type.Object({ type: Type.String(), source: Type.String() }), { maxItems: 10 })),
    sensorElementList: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 100 })),
  },
  // EPCIS events carry more (readPoint, bizLocation, ilmd, bizTransactionList...): kept and hashed as captured.
  { additionalProperties: true },
);
export type EpcisEvent = Static<typeof EpcisEvent>;

/** `shipping`, `urn:epcglobal:cbv:bizstep:shipping` and `https://ref.gs1.org/cbv/BizStep-shipping` all mean shipping. */
export function vocabulary(value: string | undefined): string {
  if (!value) return '';
  return value.replace(/^urn:epcglobal:cbv:(bizstep|disp):/, '').replace(/^https:\/\/ref\.gs1\.org\/cbv\/(BizStep|Disp)-/, '');
}

export function eventHashId(event: unknown): string {
  try {
    return eventToHashedId(event, EPCIS_CONTEXT);
  } catch (err) {
    throw new ContractError('INVALID_ARGS', `the event cannot be hashed: ${(err as Error).message}`);
  }
}

function keyOf(epc: string, state: WriteState): string {
  let code: PackCode;
  try {
    code = parseEpc(epc);
  } catch (err) {
    fail('INVALID_ARGS', err instanceof CodedError ? err.message : `bad EPC ${epc}`);
  }
  if (code.kind === 'cn') {
    const alias = state.get<string>(drugKeys.cn(code.code));
    if (!alias) fail('UNKNOWN_CODE', `unknown traceability code ${code.code}`);
    return alias;
  }
  return codeKey(code);
}

export function loadCoded(state: WriteState, key: string): Coded {
  const row = state.get<Coded>(drugKeys.code(key));
  if (!row) fail('UNKNOWN_CODE', `unknown code ${key}`);
  return row;
}

/** Every pack under a code (itself if a pack; recursively the contents of a case or pallet). */
export function packsUnder(state: WriteState, coded: Coded, out: Pack[] = []): Pack[] {
  if (coded.kind === 'pack') out.push(coded);
  else for (const child of coded.children) packsUnder(state, loadCoded(state, child), out);
  return out;
}

function requireHolder(coded: Coded, institution: string): void {
  if (coded.holder !== institution) fail('NOT_HOLDER', `${coded.code} is held by ${coded.holder}`);
}

function partyOf(state: WriteState, id: string): string {
  const gln = /\/417\/(\d{13})$/.exec(id)?.[1] ?? /\/414\/(\d{13})$/.exec(id)?.[1] ?? /^urn:epc:id:pgln:(\d+)\.(\d*)$/.exec(id)?.slice(1).join('');
  const inst = gln ? state.get<string>(drugKeys.partner(gln)) : undefined;
  if (!inst) fail('INVALID_ARGS', `unknown trading partner ${id}`);
  return inst;
}

/** Temperatures (°C) in an EPCIS sensorElementList; Fahrenheit readings are converted. */
export function temperatures(list: unknown[] | undefined): number[] {
  const out: number[] = [];
  for (const element of list ?? []) {
    const reports = (element as { sensorReport?: unknown[] }).sensorReport ?? [];
    for (const r of reports as Array<{ type?: string; value?: number; minValue?: number; maxValue?: number; uom?: string }>) {
      if (!/Temperature$/.test(r.type ?? '')) continue;
      for (const v of [r.value, r.minValue, r.maxValue]) {
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        out.push(r.uom === 'FAH' ? ((v - 32) * 5) / 9 : v);
      }
    }
  }
  return out;
}

function touch<T extends Coded>(state: WriteState, row: T, eventId: string, change: Partial<T>): void {
  state.put(drugKeys.code(row.code), { ...row, ...change, events: [...row.events, eventId] });
}

/** Applies a sensor record to a shipment: packs whose product's storage range was left are marked non-conformant. */
function applySensors(state: WriteState, shipment: Shipment, temps: number[], eventId: string): Shipment {
  if (temps.length === 0) return shipment;
  const minC = Math.min(...temps, shipment.sensors?.minC ?? Infinity);
  const maxC = Math.max(...temps, shipment.sensors?.maxC ?? -Infinity);
  const updated: Shipment = { ...shipment, sensors: { readings: (shipment.sensors?.readings ?? 0) + temps.length, minC, maxC } };
  const products = new Map<string, Product>();
  for (const key of shipment.codes) {
    for (const pack of packsUnder(state, loadCoded(state, key))) {
      let product = products.get(pack.gtin);
      if (!product) products.set(pack.gtin, (product = state.get<Product>(drugKeys.product(pack.gtin))!));
      if (minC < product.storage.minC || maxC > product.storage.maxC) {
        const current = state.get<Pack>(drugKeys.code(pack.code))!;
        state.put(drugKeys.code(pack.code), { ...current, excursion: { shipment: shipment.id, minC, maxC, allowed: product.storage } });
      }
    }
  }
  void eventId;
  return updated;
}

/** Checks that a pack may be handed to a patient now. */
export function assertDispensable(state: WriteState, pack: Pack, time: number): void {
  if (pack.status === 'dispensed') fail('ALREADY_DISPENSED', `${pack.code} was already dispensed`);
  if (pack.status !== 'active') fail('OUT_OF_ORDER', `${pack.code} is ${pack.status}`);
  const batch = state.get<Batch>(drugKeys.batch(pack.gtin, pack.lot))!;
  if (batch.recall) fail('PACK_RECALLED', `batch ${pack.lot} was recalled: ${batch.recall.reason}`);
  if (batch.expires < dayOf(time)) fail('PACK_EXPIRED', `${pack.code} expired on ${batch.expires}`);
  if (pack.excursion && !pack.released) fail('PACK_NONCONFORMANT', `${pack.code} left its storage range in transit and awaits a pharmacist's release`);
}

export interface CaptureInput {
  event: EpcisEvent;
  dispense?: { patientId: string; prescription?: string };
}

export function applyEvent(ctx: TxContext, user: Signer, input: CaptureInput): StoredEvent {
  const { event } = input;
  const state = ctx.state;
  const institution = user.institution;
  if (!institution) fail('FORBIDDEN', 'events are captured by an institution');
  const id = eventHashId(event);
  if (state.get(drugKeys.event(id))) fail('ALREADY_EXISTS', `event ${id} was already captured`);
  const bizStep = vocabulary(event.bizStep);
  const stored: StoredEvent = {
    id,
    type: event.type,
    action: event.action,
    bizStep,
    ...(event.disposition ? { disposition: vocabulary(event.disposition) } : {}),
    eventTime: event.eventTime,
    recordedAt: ctx.block.time,
    height: ctx.block.height,
    txId: ctx.tx.id,
    by: user.did,
    institution,
  };
  const where = (event as { bizLocation?: { id?: unknown }; readPoint?: { id?: unknown } }).bizLocation?.id ?? (event as { readPoint?: { id?: unknown } }).readPoint?.id;
  if (typeof where === 'string' && where.length <= 200) stored.location = where;
  const keys = (event.epcList ?? []).map((e) => keyOf(e, state));
  if (new Set(keys).size !== keys.length) fail('INVALID_ARGS', 'an EPC appears twice in the event');
  const temps = temperatures(event.sensorElementList);

  if (event.type === 'AggregationEvent') {
    if (!event.parentID) fail('INVALID_ARGS', 'an aggregation event needs a parentID');
    const parentKey = keyOf(event.parentID, state);
    if (!parentKey.startsWith('sscc:')) fail('INVALID_ARGS', 'cases and pallets are identified by an SSCC');
    const children = (event.childEPCs ?? []).map((e) => keyOf(e, state));
    const existing = state.get<Container>(drugKeys.code(parentKey));
    if (event.action === 'ADD') {
      if (children.length === 0) fail('INVALID_ARGS', 'packing needs childEPCs');
      if (existing) requireHolder(existing, institution);
      if (existing && existing.status !== 'active') fail('OUT_OF_ORDER', `${parentKey} is ${existing.status}`);
      for (const key of children) {
        const child = loadCoded(state, key);
        requireHolder(child, institution);
        if (child.status !== 'active') fail('OUT_OF_ORDER', `${key} is ${child.status}`);
        if (child.parent) fail('OUT_OF_ORDER', `${key} is already packed in ${child.parent}`);
        if (key === parentKey) fail('INVALID_ARGS', 'a container cannot contain itself');
        touch(state, child, id, { parent: parentKey });
      }
      const container: Container = existing ?? { code: parentKey, kind: 'container', holder: institution, status: 'active', children: [], events: [] };
      state.put(drugKeys.code(parentKey), { ...container, children: [...container.children, ...children], events: [...container.events, id] });
    } else if (event.action === 'DELETE') {
      if (!existing) fail('UNKNOWN_CODE', `unknown code ${parentKey}`);
      requireHolder(existing, institution);
      const removing = children.length ? children : existing.children;
      for (const key of removing) {
        if (!existing.children.includes(key)) fail('OUT_OF_ORDER', `${key} is not in ${parentKey}`);
        const child = loadCoded(state, key);
        const { parent: _p, ...rest } = child;
        state.put(drugKeys.code(key), { ...rest, events: [...child.events, id] });
      }
      state.put(drugKeys.code(parentKey), { ...existing, children: existing.children.filter((c) => !removing.includes(c)), events: [...existing.events, id] });
    } else fail('UNSUPPORTED_EVENT', 'aggregation events ADD or DELETE');
    state.put(drugKeys.event(id), { ...stored, codes: [parentKey, ...children] });
    return stored;
  }

  if (keys.length === 0) fail('INVALID_ARGS', 'the event names no EPCs');
  stored.codes = keys;
  switch (bizStep) {
    case 'shipping': {
      const party = event.destinationList?.find((d) => vocabulary(d.type).endsWith('owning_party'))?.destination;
      if (!party) fail('INVALID_ARGS', 'shipping needs a destination of type owning_party');
      const to = partyOf(state, party);
      if (to === institution) fail('INVALID_ARGS', 'a shipment goes to another institution');
      let packs = 0;
      for (const key of keys) {
        const coded = loadCoded(state, key);
        requireHolder(coded, institution);
        if (coded.status !== 'active') fail('OUT_OF_ORDER', `${key} is ${coded.status}`);
        if (coded.parent) fail('OUT_OF_ORDER', `${key} is packed in ${coded.parent}: ship the container`);
        const inside = packsUnder(state, coded);
        for (const pack of inside) {
          if (pack.status !== 'active') fail('OUT_OF_ORDER', `${pack.code} is ${pack.status}`);
          touch(state, pack, id, { status: 'in_transit', shipment: id });
        }
        if (coded.kind === 'container') touch(state, state.get<Container>(drugKeys.code(key))!, id, { status: 'in_transit', shipment: id });
        packs += inside.length;
      }
      let shipment: Shipment = { id, from: institution, to, sentAt: event.eventTime, codes: keys, packs, status: 'in_transit' };
      shipment = applySensors(state, shipment, temps, id);
      state.put(drugKeys.shipment(id), shipment);
      Object.assign(stored, { to, shipment: id, ...(shipment.sensors ? { sensors: shipment.sensors } : {}) });
      break;
    }
    case 'receiving': {
      const shipments = new Map<string, Shipment>();
      for (const key of keys) {
        const coded = loadCoded(state, key);
        const shipment = coded.shipment ? state.get<Shipment>(drugKeys.shipment(coded.shipment)) : undefined;
        if (coded.status !== 'in_transit' || !shipment || shipment.to !== institution) fail('NOT_SHIPPED_TO_YOU', `${key} was not shipped to ${institution}`);
        shipments.set(shipment.id, shipment);
        for (const pack of packsUnder(state, coded)) touch(state, state.get<Pack>(drugKeys.code(pack.code))!, id, { status: 'active', holder: institution });
        if (coded.kind === 'container') touch(state, state.get<Container>(drugKeys.code(key))!, id, { status: 'active', holder: institution });
      }
      for (let shipment of shipments.values()) {
        shipment = applySensors(state, shipment, temps, id);
        // What the sender shipped and this event did not receive is recorded as missing.
        const missing = shipment.codes.filter((c) => state.get<Coded>(drugKeys.code(c))!.status === 'in_transit');
        state.put(drugKeys.shipment(shipment.id), { ...shipment, status: 'received', receivedAt: event.eventTime, ...(missing.length ? { missing } : {}) } satisfies Shipment);
        stored.shipment = shipment.id;
      }
      break;
    }
    case 'dispensing':
    case 'retail_selling': {
      if (!input.dispense) fail('INVALID_ARGS', 'dispensing names the patient (pseudonymous id) it was dispensed to');
      if (!['pharmacist', 'doctor', 'nurse'].some((r) => user.roles.includes(r))) fail('FORBIDDEN', 'dispensing is done by a pharmacist, doctor or nurse');
      for (const key of keys) {
        const pack = loadCoded(state, key);
        if (pack.kind !== 'pack') fail('INVALID_ARGS', 'packs are dispensed one by one, not containers');
        if (pack.status === 'dispensed') fail('ALREADY_DISPENSED', `${key} was already dispensed`);
        requireHolder(pack, institution);
        assertDispensable(state, pack, ctx.block.time);
        touch(state, pack, id, {
          status: 'dispensed',
          dispensed: { patientId: input.dispense.patientId, ...(input.dispense.prescription ? { prescription: input.dispense.prescription } : {}), by: user.did, institution, at: ctx.block.time },
        });
      }
      break;
    }
    case 'destroying': {
      for (const key of keys) {
        const coded = loadCoded(state, key);
        requireHolder(coded, institution);
        if (coded.status === 'dispensed' || coded.status === 'destroyed' || coded.status === 'in_transit') fail('OUT_OF_ORDER', `${key} is ${coded.status}`);
        for (const pack of packsUnder(state, coded)) touch(state, state.get<Pack>(drugKeys.code(pack.code))!, id, { status: 'destroyed' });
        if (coded.kind === 'container') touch(state, state.get<Container>(drugKeys.code(key))!, id, { status: 'destroyed' });
      }
      break;
    }
    case 'returning': {
      // A dispensed pack brought back by the patient: quarantined at the dispenser, never dispensed again.
      for (const key of keys) {
        const pack = loadCoded(state, key);
        if (pack.kind !== 'pack' || pack.status !== 'dispensed' || pack.dispensed?.institution !== institution) {
          fail('OUT_OF_ORDER', `${key} was not dispensed by ${institution}`);
        }
        touch(state, pack, id, { status: 'returned' });
      }
      break;
    }
    default:
      fail('UNSUPPORTED_EVENT', `bizStep ${bizStep || '(none)'} is not handled here; commissioning goes through drugs.commission`);
  }
  if (temps.length && !stored.sensors) stored.sensors = { readings: temps.length, minC: Math.min(...temps), maxC: Math.max(...temps) };
  state.put(drugKeys.event(id), stored);
  return stored;
}
