import { Type, type Static } from '@sinclair/typebox';
import { CodedError } from '../../ledger/errors.js';
import { codeKey, parseEpc, type PackCode } from '../../gs1/codes.js';
import { cbvEventHashId } from '../../gs1/event-hash.js';
import { ContractError } from '../errors.js';
import type { ReadState, Signer, TxContext, WriteState } from '../runtime.js';
import { keys as idKeys } from '../identity/model.js';
import { packOfCn, PackBook } from './book.js';
import { fail } from './drug-errors.js';
import { assertPrescriptionOf } from './prescription.js';
import { dayOf, drugKeys, mergeReadings, readingsOf, type Batch, type Coded, type Container, type Pack, type Product, type Shipment, type StoredCustodyStep, type StoredEvent } from './model.js';

/**
 * EPCIS 2.0 events applied to custody. Each event is named by its CBV 2.0 event hash id (computed here, so every
 * peer anchors the same id) and a second capture of the same event is refused. Custody rules: only the holder
 * ships, packs, dispenses or destroys; only the named recipient receives; state must allow the step (no shipping
 * what was dispensed, no receiving what was never shipped).
 */

export { EPCIS_CONTEXT } from '../../gs1/event-hash.js';
export const MAX_EPCS_PER_EVENT = 1000;
export { DrugErrors, fail } from './drug-errors.js';

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
    return cbvEventHashId(event);
  } catch (err) {
    throw new ContractError('INVALID_ARGS', `the event cannot be hashed: ${(err as Error).message}`);
  }
}

/** eventTime in UTC with milliseconds (what the hash id covers, and the event row's key). */
export function utcOf(eventTime: string): string {
  const t = Date.parse(eventTime);
  if (!Number.isFinite(t)) fail('INVALID_ARGS', `eventTime ${eventTime} is not a date`);
  return new Date(t).toISOString();
}

function keyOf(epc: string, state: ReadState): string {
  let code: PackCode;
  try {
    code = parseEpc(epc);
  } catch (err) {
    fail('INVALID_ARGS', err instanceof CodedError ? err.message : `bad EPC ${epc}`);
  }
  if (code.kind === 'cn') {
    const alias = packOfCn(state, code.code);
    if (!alias) fail('UNKNOWN_CODE', `unknown traceability code ${code.code}`);
    return alias;
  }
  return codeKey(code);
}

export function loadCoded(state: ReadState, key: string): Coded {
  const row = state.get<Coded>(drugKeys.code(key));
  if (!row) fail('UNKNOWN_CODE', `unknown code ${key}`);
  return row;
}

/** Every pack under a code (itself if a pack; recursively the contents of a case or pallet). */
export function packsUnder(state: ReadState, coded: Coded, out: Pack[] = []): Pack[] {
  if (coded.kind === 'pack') out.push(coded);
  else for (const child of coded.children) packsUnder(state, loadCoded(state, child), out);
  return out;
}

function requireHolder(coded: Coded, institution: string): void {
  if (coded.holder !== institution) fail('NOT_HOLDER', `${coded.code} is held by ${coded.holder}`);
}

function partyOf(state: ReadState, id: string): string {
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

/** Records a change of a pack or container; `touched` collects what the event moved, for the event index. */
class Changes {
  readonly touched = new Set<string>();
  constructor(readonly book: PackBook) {}
  pack(key: string, change: Partial<Pack>): void {
    const before = this.book.state.get<Pack>(drugKeys.code(key))!;
    this.book.put(before, { ...before, ...change });
    this.touched.add(key);
  }
  container(key: string, change: Partial<Container>): void {
    const before = this.book.state.get<Container>(drugKeys.code(key))!;
    this.book.putContainer({ ...before, ...change });
    this.touched.add(key);
  }
}

/** Applies a sensor record to a shipment: packs whose product's storage range was left are marked non-conformant. */
function applySensors(changes: Changes, shipment: Shipment, temps: number[]): Shipment {
  if (temps.length === 0) return shipment;
  const state = changes.book.state;
  const sensors = mergeReadings(shipment.sensors, readingsOf(temps));
  const { minC, maxC } = sensors;
  const updated: Shipment = { ...shipment, sensors };
  const products = new Map<string, Product>();
  for (const key of shipment.codes) {
    for (const pack of packsUnder(state, loadCoded(state, key))) {
      let product = products.get(pack.gtin);
      if (!product) products.set(pack.gtin, (product = state.get<Product>(drugKeys.product(pack.gtin))!));
      if (minC < product.storage.minC || maxC > product.storage.maxC) changes.pack(pack.code, { excursion: { shipment: shipment.id, minC, maxC, allowed: product.storage } });
    }
  }
  return updated;
}

/** Checks that a pack may be handed to a patient now. */
export function assertDispensable(state: ReadState, pack: Pack, time: number): void {
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

/**
 * Applies one event to `state` (the tx's state or a savepoint of it) and writes its event row; throws a
 * ContractError, having written only to `state`, when a rule refuses it.
 */
export function applyEvent(ctx: TxContext, state: WriteState, user: Signer, input: CaptureInput): StoredEvent {
  const { event } = input;
  const institution = user.institution;
  if (!institution) fail('FORBIDDEN', 'events are captured by an institution');
  const id = eventHashId(event);
  const utc = utcOf(event.eventTime);
  const eventKey = drugKeys.event(utc, id);
  if (state.get(eventKey)) fail('ALREADY_EXISTS', `event ${id} was already captured`);
  const book = new PackBook(state);
  const changes = new Changes(book);
  const bizStep = vocabulary(event.bizStep);
  const stored: StoredEvent = {
    id,
    utc,
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
  const finish = (codes: string[]): StoredEvent => {
    book.flush();
    const named = new Set(codes);
    const touched = [...changes.touched].filter((k) => !named.has(k)).sort();
    const row: StoredEvent = { ...stored, codes, ...(touched.length ? { touched } : {}) };
    state.put(eventKey, row);
    writeCustody(state, row, [...codes, ...touched]);
    return row;
  };

  if (event.type === 'AggregationEvent') {
    if (!event.parentID) fail('INVALID_ARGS', 'an aggregation event needs a parentID');
    const parentKey = keyOf(event.parentID, state);
    if (!parentKey.startsWith('sscc:')) fail('INVALID_ARGS', 'cases and pallets are identified by an SSCC');
    const children = (event.childEPCs ?? []).map((e) => keyOf(e, state));
    if (new Set(children).size !== children.length) fail('INVALID_ARGS', 'a child EPC appears twice in the event');
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
        if (child.kind === 'pack') changes.pack(key, { parent: parentKey });
        else changes.container(key, { parent: parentKey });
      }
      const container: Container = existing ?? { code: parentKey, kind: 'container', holder: institution, status: 'active', children: [] };
      book.putContainer({ ...container, children: [...container.children, ...children] });
    } else if (event.action === 'DELETE') {
      if (!existing) fail('UNKNOWN_CODE', `unknown code ${parentKey}`);
      requireHolder(existing, institution);
      if (existing.status !== 'active') fail('OUT_OF_ORDER', `${parentKey} is ${existing.status}`);
      const removing = children.length ? children : existing.children;
      for (const key of removing) {
        if (!existing.children.includes(key)) fail('OUT_OF_ORDER', `${key} is not in ${parentKey}`);
        const { parent: _p, ...rest } = loadCoded(state, key);
        if (rest.kind === 'pack') {
          book.put(state.get<Pack>(drugKeys.code(key))!, rest as Pack);
          changes.touched.add(key);
        } else {
          book.putContainer(rest as Container);
          changes.touched.add(key);
        }
      }
      book.putContainer({ ...existing, children: existing.children.filter((c) => !removing.includes(c)) });
    } else fail('UNSUPPORTED_EVENT', 'aggregation events ADD or DELETE');
    return finish([parentKey, ...children]);
  }

  if (keys.length === 0) fail('INVALID_ARGS', 'the event names no EPCs');
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
          changes.pack(pack.code, { status: 'in_transit', shipment: id });
        }
        for (const c of containersUnder(state, coded)) changes.container(c, { status: 'in_transit', shipment: id });
        packs += inside.length;
      }
      let shipment: Shipment = { id, from: institution, to, sentAt: event.eventTime, codes: keys, packs, status: 'in_transit' };
      shipment = applySensors(changes, shipment, temps);
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
        for (const pack of packsUnder(state, coded)) changes.pack(pack.code, { status: 'active', holder: institution });
        for (const c of containersUnder(state, coded)) changes.container(c, { status: 'active', holder: institution });
      }
      for (let shipment of shipments.values()) {
        shipment = applySensors(changes, shipment, temps);
        // What the sender shipped and this event did not receive is recorded as missing.
        const missing = shipment.codes.filter((c) => state.get<Coded>(drugKeys.code(c))!.status === 'in_transit');
        state.put(drugKeys.shipment(shipment.id), { ...shipment, status: 'received', receivedAt: event.eventTime, ...(missing.length ? { missing } : {}) } satisfies Shipment);
        stored.shipment = shipment.id;
      }
      break;
    }
    case 'dispensing':
    case 'retail_selling': {
      const dispense = input.dispense;
      if (!dispense) fail('INVALID_ARGS', 'dispensing names the patient (pseudonymous id) it was dispensed to');
      if (!['pharmacist', 'doctor', 'nurse'].some((r) => user.roles.includes(r))) fail('FORBIDDEN', 'dispensing is done by a pharmacist, doctor or nurse');
      if (!state.get(idKeys.patient(dispense.patientId))) fail('NOT_FOUND', `no patient ${dispense.patientId} in the consortium`);
      // The packs first, so a second dispense of a pack is always refused as ALREADY_DISPENSED (and reported).
      const packs: Pack[] = [];
      for (const key of keys) {
        const pack = loadCoded(state, key);
        if (pack.kind !== 'pack') fail('INVALID_ARGS', 'packs are dispensed one by one, not containers');
        if (pack.status === 'dispensed') fail('ALREADY_DISPENSED', `${key} was already dispensed`);
        requireHolder(pack, institution);
        assertDispensable(state, pack, ctx.block.time);
        packs.push(pack);
      }
      // Dispensing (CBV `dispensing`) is against a prescription; an over-the-counter sale (`retail_selling`) may
      // name one, and a named one is checked either way.
      if (dispense.prescription) assertPrescriptionOf(state, dispense.patientId, dispense.prescription);
      else if (bizStep === 'dispensing') fail('PRESCRIPTION_REQUIRED', 'dispensing names the prescription record (FHIR MedicationRequest id) it fills; an over-the-counter sale is retail_selling');
      for (const pack of packs) {
        changes.pack(pack.code, {
          status: 'dispensed',
          dispensed: { patientId: dispense.patientId, ...(dispense.prescription ? { prescription: dispense.prescription } : {}), by: user.did, institution, at: ctx.block.time },
        });
      }
      break;
    }
    case 'destroying': {
      for (const key of keys) {
        const coded = loadCoded(state, key);
        requireHolder(coded, institution);
        if (coded.status === 'dispensed' || coded.status === 'destroyed' || coded.status === 'in_transit') fail('OUT_OF_ORDER', `${key} is ${coded.status}`);
        for (const pack of packsUnder(state, coded)) changes.pack(pack.code, { status: 'destroyed' });
        for (const c of containersUnder(state, coded)) changes.container(c, { status: 'destroyed' });
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
        changes.pack(key, { status: 'returned' });
      }
      break;
    }
    default:
      fail('UNSUPPORTED_EVENT', `bizStep ${bizStep || '(none)'} is not handled here; commissioning goes through drugs.commission`);
  }
  if (temps.length && !stored.sensors) stored.sensors = readingsOf(temps);
  return finish(keys);
}

/** One custody step per code the event named or moved (what a verification of that code shows of the event). */
function writeCustody(state: WriteState, event: StoredEvent, codes: string[]): void {
  const base: StoredCustodyStep = {
    bizStep: event.bizStep,
    eventTime: event.eventTime,
    institution: event.institution,
    ...(event.to ? { to: event.to } : {}),
    ...(event.location ? { location: event.location } : {}),
    ...(event.sensors ? { sensors: event.sensors } : {}),
    txId: event.txId,
    height: event.height,
  };
  for (const code of codes) {
    // A receiving event may take in several shipments: each code's step names its own (a shipping step's
    // shipment is the event itself, see custodyStepOf).
    const shipment = event.bizStep === 'receiving' ? state.get<Coded>(drugKeys.code(code))?.shipment : undefined;
    state.put(drugKeys.custody(code, event.utc, event.id), shipment ? { ...base, shipment } : base);
  }
}

/** A container and every container inside it (packs excluded). */
function containersUnder(state: ReadState, coded: Coded, out: string[] = []): string[] {
  if (coded.kind !== 'container') return out;
  out.push(coded.code);
  for (const child of coded.children) {
    const row = loadCoded(state, child);
    if (row.kind === 'container') containersUnder(state, row, out);
  }
  return out;
}
