import { Type } from '@sinclair/typebox';
import { gs1CheckDigit, isValidGtin, sgtinEpc, sgtinKey } from '../../gs1/codes.js';
import { actingUser } from '../delegation.js';
import { keys as idKeys, PatientId, type Institution } from '../identity/model.js';
import { Relayed } from '../records/model.js';
import { method, query, type ContractDef, type ReadState, type Signer, type TxContext } from '../runtime.js';
import { ContractError } from '../errors.js';
import { cnRangeTaken, PackBook, packOfCn, Savepoint } from './book.js';
import { expiringStock } from './reports.js';
import { applyEvent, eventHashId, EpcisEvent, fail, loadCoded, utcOf } from './capture.js';
import { CnCode, CodeKey, custodyStepOf, Day, dayOf, drugKeys, eventDigest, Gln, Gtin, Lot, type Batch, type CnRange, type Coded, type CustodyStep, type Pack, type Product, type ScanReport, type Shipment, type Stock, type StoredCustodyStep, type StoredEvent } from './model.js';

export * from './model.js';
export type { ExpiringReport, ExpiringStock } from './reports.js';
export { DrugErrors, EPCIS_CONTEXT, eventHashId, temperatures, vocabulary, MAX_EPCS_PER_EVENT } from './capture.js';

/** Most packs one commissioning tx creates (a production batch). */
export const MAX_COMMISSION = 100_000;
/** The expiring-soon report's default horizon, in days. */
export const DEFAULT_EXPIRING_DAYS = 90;
/** Most events one batched capture tx carries. */
export const MAX_BATCH_EVENTS = 1000;
/** Most EPCs all the events of one batched capture tx name together (bounds a tx's work). */
export const MAX_BATCH_EPCS = 20_000;

function institutionOf(ctx: TxContext, user: Signer): Institution {
  if (!user.institution) fail('FORBIDDEN', 'only institution staff may do this');
  return ctx.state.get<Institution>(idKeys.institution(user.institution))!;
}

function requireMaker(ctx: TxContext, user: Signer, product: Product): void {
  if (user.institution !== product.maker) fail('FORBIDDEN', `only ${product.maker} acts on its own products`);
}

const registerLocation = method({
  description: "An institution registers a GLN (party or location) of its own, so EPCIS events can name it.",
  input: Type.Object({ gln: Gln, name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
  kinds: ['admin'],
  run(ctx, { gln }) {
    if (gs1CheckDigit(gln.slice(0, 12)) !== Number(gln[12])) fail('INVALID_ARGS', `GLN ${gln} has a wrong check digit`);
    const owner = ctx.state.get<string>(drugKeys.partner(gln));
    if (owner && owner !== ctx.signer.institution) fail('ALREADY_EXISTS', `GLN ${gln} belongs to ${owner}`);
    ctx.state.put(drugKeys.partner(gln), ctx.signer.institution!);
    return { gln, institution: ctx.signer.institution };
  },
});

const registerProduct = method({
  description: 'A drug maker registers a product: GTIN, approval number (批准文号), names, form, strength, Chinese code prefix, storage range.',
  input: Type.Object(
    {
      gtin: Gtin,
      approvalNumber: Type.String({ pattern: '^国药准字[HZSJB]\\d{8}$' }),
      name: Type.String({ minLength: 1, maxLength: 200 }),
      nameEn: Type.Optional(Type.String({ maxLength: 200 })),
      dosageForm: Type.String({ minLength: 1, maxLength: 50 }),
      strength: Type.String({ minLength: 1, maxLength: 100 }),
      cnPrefix: Type.Optional(Type.String({ pattern: '^\\d{7}$' })),
      storage: Type.Object({ minC: Type.Number({ minimum: -80, maximum: 60 }), maxC: Type.Number({ minimum: -80, maximum: 60 }) }, { additionalProperties: false }),
      ...Relayed,
    },
    { additionalProperties: false },
  ),
  run(ctx, { onBehalfOf, ...input }) {
    const user = actingUser(ctx, onBehalfOf);
    const inst = institutionOf(ctx, user);
    if (inst.type !== 'manufacturer') fail('FORBIDDEN', 'products are registered by their maker');
    if (!isValidGtin(input.gtin)) fail('INVALID_ARGS', `GTIN ${input.gtin} has a wrong check digit`);
    if (input.storage.minC > input.storage.maxC) fail('INVALID_ARGS', 'storage minC is above maxC');
    if (ctx.state.get(drugKeys.product(input.gtin))) fail('ALREADY_EXISTS', `product ${input.gtin} exists`);
    if (input.cnPrefix && ctx.state.get(drugKeys.cnPrefix(input.cnPrefix))) fail('ALREADY_EXISTS', `Chinese code prefix ${input.cnPrefix} is taken`);
    const product: Product = { ...input, maker: inst.id, registeredAt: ctx.block.time };
    ctx.state.put(drugKeys.product(input.gtin), product);
    if (input.cnPrefix) ctx.state.put(drugKeys.cnPrefix(input.cnPrefix), input.gtin);
    return { gtin: input.gtin };
  },
});

const registerBatch = method({
  description: 'The maker registers a batch (lot) with its manufacture and expiry dates.',
  input: Type.Object({ gtin: Gtin, lot: Lot, manufactured: Day, expires: Day, ...Relayed }, { additionalProperties: false }),
  run(ctx, { gtin, lot, manufactured, expires, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const product = ctx.state.get<Product>(drugKeys.product(gtin));
    if (!product) fail('NOT_FOUND', `no product ${gtin}`);
    requireMaker(ctx, user, product);
    if (expires <= manufactured) fail('INVALID_ARGS', 'a batch expires after it is made');
    if (ctx.state.get(drugKeys.batch(gtin, lot))) fail('ALREADY_EXISTS', `batch ${lot} exists`);
    ctx.state.put(drugKeys.batch(gtin, lot), { gtin, lot, manufactured, expires } satisfies Batch);
    return { gtin, lot };
  },
});

const commission = method({
  description:
    'The maker commissions packs of a batch: serials first..first+count-1 (up to 100,000 in one tx) or a list, each optionally ' +
    'with its 20-digit Chinese code (consecutive from cnFirst). Anchors the commissioning ObjectEvent by its CBV 2.0 hash id.',
  input: Type.Object(
    {
      gtin: Gtin,
      lot: Lot,
      serials: Type.Union([
        Type.Object({ first: Type.Integer({ minimum: 0, maximum: 1e15 }), count: Type.Integer({ minimum: 1, maximum: MAX_COMMISSION }) }, { additionalProperties: false }),
        Type.Array(Type.String({ pattern: '^[0-9A-Za-z]{1,20}$' }), { minItems: 1, maxItems: 1000, uniqueItems: true }),
      ]),
      cnFirst: Type.Optional(CnCode),
      eventTime: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' }),
      ...Relayed,
    },
    { additionalProperties: false },
  ),
  run(ctx, { gtin, lot, serials, cnFirst, eventTime, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const product = ctx.state.get<Product>(drugKeys.product(gtin));
    if (!product) fail('NOT_FOUND', `no product ${gtin}`);
    requireMaker(ctx, user, product);
    if (!ctx.state.get<Batch>(drugKeys.batch(gtin, lot))) fail('NOT_FOUND', `no batch ${lot} of ${gtin}`);
    const list = Array.isArray(serials) ? serials : Array.from({ length: serials.count }, (_, i) => String(serials.first + i));
    if (cnFirst && (!product.cnPrefix || !cnFirst.startsWith(product.cnPrefix))) fail('INVALID_ARGS', `Chinese codes of ${gtin} start with ${product.cnPrefix ?? '(none registered)'}`);
    const offset = cnFirst ? BigInt(cnFirst) : 0n;
    const cnLast = cnFirst ? (offset + BigInt(list.length - 1)).toString().padStart(20, '0') : undefined;
    if (cnLast && cnLast.slice(0, 7) !== product.cnPrefix) fail('INVALID_ARGS', 'the Chinese code range leaves the product prefix');
    // The event as a GS1 system would send it; its hash id is computed over every EPC.
    const event = {
      type: 'ObjectEvent',
      eventTime,
      eventTimeZoneOffset: eventTime.endsWith('Z') ? '+00:00' : eventTime.slice(-6),
      epcList: list.map((s) => sgtinEpc(gtin, s)),
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      ilmd: { 'cbvmda:lotNumber': lot },
    };
    const id = eventHashId(event);
    const utc = utcOf(eventTime);
    if (ctx.state.get(drugKeys.event(utc, id))) fail('ALREADY_EXISTS', `event ${id} was already captured`);
    if (cnFirst && cnRangeTaken(ctx.state, cnFirst, cnLast!)) fail('DUPLICATE_CODE', `traceability codes ${cnFirst}–${cnLast} overlap codes already issued`);
    // One row per pack (the 20-digit codes are one range row), and one stock row for the lot.
    const book = new PackBook(ctx.state);
    for (let i = 0; i < list.length; i++) {
      const key = sgtinKey(gtin, list[i]!);
      if (ctx.state.get(drugKeys.code(key))) fail('DUPLICATE_CODE', `${key} was already commissioned`);
      const cn = cnFirst ? (offset + BigInt(i)).toString().padStart(20, '0') : undefined;
      book.put(undefined, { code: key, kind: 'pack', gtin, serial: list[i]!, lot, ...(cn ? { cn } : {}), holder: product.maker, status: 'active', commissioned: id });
    }
    book.flush();
    if (cnFirst) {
      const range: CnRange = { first: cnFirst, last: cnLast!, gtin, ...(Array.isArray(serials) ? { serials: list } : { serialFirst: serials.first }) };
      ctx.state.put(drugKeys.cnRange(cnLast!), range);
    }
    const stored: StoredEvent = {
      id,
      utc,
      type: 'ObjectEvent',
      action: 'ADD',
      bizStep: 'commissioning',
      disposition: 'active',
      eventTime,
      recordedAt: ctx.block.time,
      height: ctx.block.height,
      txId: ctx.tx.id,
      by: user.did,
      institution: product.maker,
      ...(Array.isArray(serials) ? { codes: list.map((s) => sgtinKey(gtin, s)) } : { range: { gtin, lot, first: serials.first, count: serials.count } }),
    };
    ctx.state.put(drugKeys.event(utc, id), stored);
    ctx.emit('drugs.commissioned', { gtin, lot, count: list.length, event: id });
    return { event: id, count: list.length };
  },
});

const capture = method({
  description:
    'Captures one EPCIS 2.0 event (packing/unpacking, shipping, receiving with sensor data, dispensing to a patient, returning, destroying) ' +
    'under the custody rules; anchors it by its CBV 2.0 hash id.',
  input: Type.Object(
    { event: EpcisEvent, dispense: Type.Optional(Type.Object({ patientId: PatientId, prescription: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$' })) }, { additionalProperties: false })), ...Relayed },
    { additionalProperties: false },
  ),
  run(ctx, { onBehalfOf, ...input }) {
    const user = actingUser(ctx, onBehalfOf);
    // Through a savepoint too, for its read memo (a refusal throws, and the tx writes nothing either way).
    const savepoint = new Savepoint(ctx.state);
    const stored = applyEvent(ctx, savepoint, user, input);
    savepoint.commit();
    ctx.emit('drugs.event', { id: stored.id, bizStep: stored.bizStep, institution: stored.institution });
    return { event: stored.id, bizStep: stored.bizStep, ...(stored.shipment ? { shipment: stored.shipment } : {}) };
  },
});

const Dispense = Type.Object({ patientId: PatientId, prescription: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$' })) }, { additionalProperties: false });

const captureBatch = method({
  description:
    'Captures up to 1,000 EPCIS 2.0 events in order, each under the same rules as `capture`. Each event is all or nothing: a ' +
    'refused event writes nothing and its code is in `results[i]` (recorded with the tx), the others stand.',
  input: Type.Object(
    { events: Type.Array(Type.Object({ event: EpcisEvent, dispense: Type.Optional(Dispense) }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_BATCH_EVENTS }), ...Relayed },
    { additionalProperties: false },
  ),
  run(ctx, { events, onBehalfOf }) {
    const epcs = events.reduce((n, { event }) => n + (event.epcList?.length ?? 0) + (event.childEPCs?.length ?? 0), 0);
    if (epcs > MAX_BATCH_EPCS) fail('INVALID_ARGS', `a batch names at most ${MAX_BATCH_EPCS} EPCs (this one ${epcs})`);
    const user = actingUser(ctx, onBehalfOf);
    const results: Array<{ event: string; bizStep: string; shipment?: string } | { code: string; message: string }> = [];
    for (const input of events) {
      const savepoint = new Savepoint(ctx.state);
      try {
        const stored = applyEvent(ctx, savepoint, user, input);
        savepoint.commit();
        results.push({ event: stored.id, bizStep: stored.bizStep, ...(stored.shipment ? { shipment: stored.shipment } : {}) });
      } catch (err) {
        if (!(err instanceof ContractError)) throw err;
        results.push({ code: err.code, message: err.message });
      }
    }
    const captured = results.filter((r) => 'event' in r).length;
    ctx.emit('drugs.events', { captured, failed: results.length - captured, institution: user.institution });
    return { captured, failed: results.length - captured, results };
  },
});

const recall = method({
  description: 'The maker or the regulator recalls a batch: its packs cannot be dispensed, and every current holder gets a notice.',
  input: Type.Object({ gtin: Gtin, lot: Lot, reason: Type.String({ minLength: 4, maxLength: 500 }), ...Relayed }, { additionalProperties: false }),
  run(ctx, { gtin, lot, reason, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const product = ctx.state.get<Product>(drugKeys.product(gtin));
    const batch = ctx.state.get<Batch>(drugKeys.batch(gtin, lot));
    if (!product || !batch) fail('NOT_FOUND', `no batch ${lot} of ${gtin}`);
    const regulator = user.institutionType === 'regulator';
    if (!regulator && user.institution !== product.maker) fail('FORBIDDEN', 'a recall is made by the maker or the regulator');
    if (batch.recall) fail('PROPOSAL_CLOSED', `batch ${lot} is already recalled`);
    ctx.state.put(drugKeys.batch(gtin, lot), { ...batch, recall: { reason, by: user.did, institution: user.institution!, at: ctx.block.time } } satisfies Batch);
    // Holders come from the stock rows of the batch (in key order, so every peer writes the same notices).
    const listed = holdersOf(ctx.state, gtin, lot).map((s) => [s.holder, s.active + s.inTransit] as const);
    for (const [holder, packs] of listed) ctx.state.put(drugKeys.notice(holder, ctx.tx.id), { kind: 'recall', gtin, lot, reason, packs, at: ctx.block.time });
    ctx.emit('drugs.recalled', { gtin, lot, holders: listed.map(([h]) => h) });
    return { gtin, lot, holders: listed.map(([holder, packs]) => ({ holder, packs })) };
  },
});

const release = method({
  description: "A pharmacist at the holder releases packs (keys or 20-digit codes) after a temperature excursion, with the documented reason.",
  input: Type.Object({ codes: Type.Array(Type.Union([CodeKey, CnCode]), { minItems: 1, maxItems: 1000, uniqueItems: true }), note: Type.String({ minLength: 10, maxLength: 1000 }), ...Relayed }, { additionalProperties: false }),
  run(ctx, { codes, note, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    if (!user.roles.includes('pharmacist')) fail('FORBIDDEN', 'a pharmacist releases non-conformant packs');
    const book = new PackBook(ctx.state);
    for (const code of codes) {
      const key = /^\d{20}$/.test(code) ? (packOfCn(ctx.state, code) ?? fail('UNKNOWN_CODE', `unknown traceability code ${code}`)) : code;
      const pack = loadCoded(ctx.state, key);
      if (pack.kind !== 'pack' || !pack.excursion) fail('OUT_OF_ORDER', `${key} has no excursion to release`);
      if (pack.holder !== user.institution) fail('NOT_HOLDER', `${key} is held by ${pack.holder}`);
      if (pack.released) fail('OUT_OF_ORDER', `${key} was already released`);
      book.put(pack, { ...pack, released: { by: user.did, at: ctx.block.time, note } });
    }
    book.flush();
    return { released: codes.length };
  },
});

const reportScan = method({
  description: 'A node reports a public verification that found a problem (unknown code, second scan after dispensing…) to the regulator.',
  input: Type.Object(
    {
      code: Type.String({ minLength: 1, maxLength: 200 }),
      finding: Type.Union(['unknown-code', 'already-dispensed', 'recalled', 'expired', 'temperature-excursion', 'destroyed'].map((f) => Type.Literal(f))),
    },
    { additionalProperties: false },
  ),
  kinds: ['node'],
  run(ctx, { code, finding }) {
    const report: ScanReport = { id: ctx.tx.id, code, finding: finding as ScanReport['finding'], reportedBy: ctx.signer.institution!, at: ctx.block.time };
    ctx.state.put(drugKeys.scan(ctx.tx.id), report);
    return { report: ctx.tx.id };
  },
});

function packOrAlias(state: ReadState, code: string): Coded | undefined {
  const key = /^\d{20}$/.test(code) ? packOfCn(state, code) : code;
  return key ? state.get<Coded>(drugKeys.code(key)) : undefined;
}

/** Holders with packs of a batch (active or in transit), from its stock rows, in key order. */
function holdersOf(state: ReadState, gtin: string, lot: string): Stock[] {
  return state.byIndex<Stock>('stockByBatch', `${gtin}/${lot}`, { limit: 10_000 }).map((e) => e.value);
}

/** The custody steps of a code, oldest first (its commissioning is found from the pack row). */
function custodyRows(state: ReadState, code: string): Array<{ key: string; value: StoredCustodyStep }> {
  return state.range<StoredCustodyStep>(drugKeys.custodyOf(code), { limit: 10_000 });
}

/** A commissioning event as a custody step (a bulk commissioning writes no step per pack). */
function commissioningStep(e: StoredEvent): CustodyStep {
  return { event: e.id, bizStep: e.bizStep, eventTime: e.eventTime, institution: e.institution, txId: e.txId, height: e.height };
}

/** What a verification shows of a code's history, oldest first: its commissioning, then one range of custody steps. */
function custodyOf(state: ReadState, coded: Coded): CustodyStep[] {
  const commissioning = coded.kind === 'pack' ? eventById(state, coded.commissioned) : undefined;
  return [...(commissioning ? [commissioningStep(commissioning)] : []), ...custodyRows(state, coded.code).map((r) => custodyStepOf(r.key, r.value))];
}

/** Every event that touched a code, oldest first: its commissioning, then the events its custody steps name. */
function eventsOf(state: ReadState, coded: Coded): StoredEvent[] {
  const out: StoredEvent[] = [];
  if (coded.kind === 'pack') {
    const commissioning = eventById(state, coded.commissioned);
    if (commissioning) out.push(commissioning);
  }
  const prefix = drugKeys.custodyOf(coded.code);
  for (const { key } of custodyRows(state, coded.code)) {
    // The step's key ends with the event row's key: `{utc}/{digest}`.
    const event = state.get<StoredEvent>(`drug/ev/${key.slice(prefix.length)}`);
    if (event) out.push(event);
  }
  return out;
}

function eventById(state: ReadState, id: string): StoredEvent | undefined {
  return state.byIndex<StoredEvent>('drugEvents', `id:${eventDigest(id)}`, { limit: 1 })[0]?.value;
}

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) };

export const drugsContract: ContractDef = {
  name: 'drugs',
  description: 'Drug traceability: products, batches, packs (SGTIN and 药品追溯码), EPCIS 2.0 events, custody, cold chain, recalls, scan reports.',
  indexes: [
    // Stock rows with packs in them, by batch: who holds a recalled batch.
    { name: 'stockByBatch', prefix: 'drug/stock/', terms: (v) => ((v as Stock).active + (v as Stock).inTransit > 0 ? [`${(v as Stock).gtin}/${(v as Stock).lot}`] : []) },
    { name: 'scanReports', prefix: 'drug/scan/', terms: (v) => [(v as ScanReport).finding] },
    {
      // Event rows are keyed by time, so every term's rows come back oldest first.
      name: 'drugEvents',
      prefix: 'drug/ev/',
      terms: (v) => {
        const e = v as StoredEvent;
        const terms = [`id:${eventDigest(e.id)}`, `step:${e.bizStep}`, `inst:${e.institution}`];
        if (e.location) terms.push(`loc:${e.location}`);
        if (e.disposition) terms.push(`disp:${e.disposition}`);
        // By code, events are found through the codes' custody steps (drug/custody/), not through this index.
        return terms;
      },
    },
  ],
  // Event rows and custody steps are written once (a history row would repeat them; and a write under an exempt
  // prefix skips the lookup of a superseded version, one B-tree probe per step); a pack or container row changes only by an
  // anchored event (found through the code's custody steps) or a pharmacist's release, which stays in the row; a shipment
  // only by its shipping and receiving events. The ledger keeps no per-key history for these (the txs that wrote
  // them are in the blocks); stock counters, batches, notices and the rest keep theirs.
  historyExempt: ['drug/ev/', 'drug/custody/', 'drug/code/', 'drug/ship/'],
  // 2: custody steps under each code (drug/custody/) in place of the `code:` terms of the event index.
  layoutVersion: 2,
  methods: { registerLocation, registerProduct, registerBatch, commission, capture, captureBatch, recall, release, reportScan },
  queries: {
    product: query({ input: Type.Object({ gtin: Gtin }, { additionalProperties: false }), run: (ctx, { gtin }) => ctx.state.get<Product>(drugKeys.product(gtin)) ?? fail('NOT_FOUND', `no product ${gtin}`) }),
    products: query({ input: Type.Object({}, { additionalProperties: false }), run: (ctx) => ctx.state.range<Product>('drug/product/', { limit: 10_000 }).map((e) => e.value) }),
    batch: query({ input: Type.Object({ gtin: Gtin, lot: Lot }, { additionalProperties: false }), run: (ctx, { gtin, lot }) => ctx.state.get<Batch>(drugKeys.batch(gtin, lot)) ?? fail('NOT_FOUND', `no batch ${lot}`) }),
    code: query({
      sensitive: true,
      description: 'A pack or container by its key (`sgtin:{gtin}.{serial}`, `sscc:{18}`) or 20-digit Chinese code.',
      input: Type.Object({ code: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
      run: (ctx, { code }) => packOrAlias(ctx.state, code) ?? fail('UNKNOWN_CODE', `unknown code ${code}`),
    }),
    events: query({
      description:
        'EPCIS events by code (pack, case or 20-digit code), business step, disposition, location or institution, oldest first, ' +
        'optionally within [from, to) by eventTime (ISO 8601). Other filters narrow the first one given.',
      input: Type.Object(
        {
          code: Type.Optional(Type.String({ maxLength: 64 })),
          bizStep: Type.Optional(Type.String({ maxLength: 60 })),
          disposition: Type.Optional(Type.String({ maxLength: 60 })),
          location: Type.Optional(Type.String({ maxLength: 200 })),
          institution: Type.Optional(Type.String({ maxLength: 64 })),
          from: Type.Optional(Type.String({ maxLength: 40 })),
          to: Type.Optional(Type.String({ maxLength: 40 })),
          ...Page,
        },
        { additionalProperties: false },
      ),
      run: (ctx, q) => {
        const from = q.from === undefined ? undefined : utcOf(q.from);
        const to = q.to === undefined ? undefined : utcOf(q.to);
        const limit = q.limit ?? 1000;
        const keep = (e: StoredEvent) =>
          (!q.bizStep || e.bizStep === q.bizStep) &&
          (!q.disposition || e.disposition === q.disposition) &&
          (!q.location || e.location === q.location) &&
          (!q.institution || e.institution === q.institution) &&
          (from === undefined || e.utc >= from) &&
          (to === undefined || e.utc < to);
        if (q.code) {
          const coded = packOrAlias(ctx.state, q.code) ?? fail('UNKNOWN_CODE', `unknown code ${q.code}`);
          return eventsOf(ctx.state, coded).filter(keep).slice(0, limit);
        }
        const term = q.bizStep ? `step:${q.bizStep}` : q.disposition ? `disp:${q.disposition}` : q.location ? `loc:${q.location}` : q.institution ? `inst:${q.institution}` : undefined;
        if (!term) fail('INVALID_ARGS', 'filter by code, bizStep, disposition, location or institution');
        // Rows are in time order: start at `from`, stop at `to`, page through the index.
        const out: StoredEvent[] = [];
        let after = from === undefined ? undefined : `drug/ev/${from}`;
        for (;;) {
          const page = ctx.state.byIndex<StoredEvent>('drugEvents', term, { ...(after ? { after } : {}), limit: 1000 });
          for (const { value } of page) {
            if (to !== undefined && value.utc >= to) return out;
            if (keep(value)) out.push(value);
            if (out.length >= limit) return out;
          }
          if (page.length < 1000) return out;
          after = page[page.length - 1]!.key;
        }
      },
    }),
    custody: query({
      sensitive: true,
      description: 'The custody chain of a pack or container (key or 20-digit code), oldest first: what each event did, who, when, where, with its tx and height.',
      input: Type.Object({ code: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
      run: (ctx, { code }) => custodyOf(ctx.state, packOrAlias(ctx.state, code) ?? fail('UNKNOWN_CODE', `unknown code ${code}`)),
    }),
    event: query({ input: Type.Object({ id: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), run: (ctx, { id }) => eventById(ctx.state, id) ?? fail('NOT_FOUND', `no event ${id}`) }),
    shipment: query({ input: Type.Object({ id: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), run: (ctx, { id }) => ctx.state.get<Shipment>(drugKeys.shipment(id)) ?? fail('NOT_FOUND', `no shipment ${id}`) }),
    inventory: query({
      description: 'Stock per holder by product and batch (active and in transit), kept by every event.',
      input: Type.Object({ holder: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }) }, { additionalProperties: false }),
      run: (ctx, { holder }) =>
        ctx.state
          .range<Stock>(`drug/stock/${holder}/`, { limit: 10_000 })
          .map((e) => e.value)
          .filter((s) => s.active + s.inTransit > 0)
          .map((s) => {
            const batch = ctx.state.get<Batch>(drugKeys.batch(s.gtin, s.lot))!;
            return { gtin: s.gtin, lot: s.lot, active: s.active, inTransit: s.inTransit, nonconformant: s.nonconformant, expires: batch.expires, recalled: batch.recall !== undefined };
          }),
    }),
    notices: query({
      description: 'Recall notices to an institution.',
      input: Type.Object({ institution: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }) }, { additionalProperties: false }),
      run: (ctx, { institution }) => ctx.state.range(`drug/notice/${institution}/`, { limit: 1000 }).map((e) => e.value),
    }),
    scanReports: query({
      description: 'Suspicious verification attempts (suspected counterfeits and diversions), for the regulator.',
      input: Type.Object({ finding: Type.Optional(Type.String({ maxLength: 40 })), ...Page }, { additionalProperties: false }),
      run: (ctx, { finding, limit }) =>
        (finding ? ctx.state.byIndex<ScanReport>('scanReports', finding, { limit: limit ?? 1000 }) : ctx.state.range<ScanReport>('drug/scan/', { limit: limit ?? 1000 })).map((e) => e.value),
    }),
    recalledStock: query({
      description: 'Recalled batches and who still holds packs of them.',
      input: Type.Object({}, { additionalProperties: false }),
      run: (ctx) =>
        ctx.state
          .range<Batch>('drug/batch/', { limit: 10_000 })
          .map((e) => e.value)
          .filter((b) => b.recall)
          .map((b) => ({ gtin: b.gtin, lot: b.lot, reason: b.recall!.reason, holders: Object.fromEntries(holdersOf(ctx.state, b.gtin, b.lot).map((s) => [s.holder, s.active + s.inTransit])) }))
          .filter((r) => Object.keys(r.holders).length > 0),
    }),
    expiringStock: query({
      description:
        "Stock whose batch expires within `withinDays` (default 90) of the latest block's day (UTC+8), already expired stock " +
        'included and flagged, sorted by expiry: one holder\'s, or every holder\'s when no holder is given. Built from the stock rows.',
      input: Type.Object(
        {
          holder: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' })),
          withinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
          ...Page,
        },
        { additionalProperties: false },
      ),
      run: (ctx, { holder, withinDays, limit }) =>
        expiringStock(ctx.state, { asOf: dayOf(ctx.block.time), withinDays: withinDays ?? DEFAULT_EXPIRING_DAYS, ...(holder ? { holder } : {}), limit: limit ?? 1000 }),
    }),
    today: query({ input: Type.Object({}, { additionalProperties: false }), run: (ctx) => dayOf(ctx.block.time) }),
  },
};
