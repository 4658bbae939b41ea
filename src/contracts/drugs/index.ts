import { Type } from '@sinclair/typebox';
import { sgtinEpc, sgtinKey } from '../../gs1/codes.js';
import { actingUser } from '../delegation.js';
import { keys as idKeys, PatientId, type Institution } from '../identity/model.js';
import { Relayed } from '../records/model.js';
import { method, query, type ContractDef, type ReadState, type Signer, type TxContext } from '../runtime.js';
import { applyEvent, eventHashId, EpcisEvent, fail, loadCoded } from './capture.js';
import { CnCode, CodeKey, Day, dayOf, drugKeys, Gln, Gtin, Lot, type Batch, type Coded, type Pack, type Product, type ScanReport, type Shipment, type StoredEvent } from './model.js';

export * from './model.js';
export { DrugErrors, EPCIS_CONTEXT, eventHashId, temperatures, vocabulary, MAX_EPCS_PER_EVENT } from './capture.js';

/** Most packs one commissioning tx creates (a production batch). */
export const MAX_COMMISSION = 100_000;

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
    if (cnFirst && (offset + BigInt(list.length - 1)).toString().padStart(20, '0').slice(0, 7) !== product.cnPrefix) fail('INVALID_ARGS', 'the Chinese code range leaves the product prefix');
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
    if (ctx.state.get(drugKeys.event(id))) fail('ALREADY_EXISTS', `event ${id} was already captured`);
    for (let i = 0; i < list.length; i++) {
      const key = sgtinKey(gtin, list[i]!);
      if (ctx.state.get(drugKeys.code(key))) fail('DUPLICATE_CODE', `${key} was already commissioned`);
      const cn = cnFirst ? (offset + BigInt(i)).toString().padStart(20, '0') : undefined;
      if (cn) {
        if (ctx.state.get(drugKeys.cn(cn))) fail('DUPLICATE_CODE', `traceability code ${cn} was already issued`);
        ctx.state.put(drugKeys.cn(cn), key);
      }
      const pack: Pack = { code: key, kind: 'pack', gtin, serial: list[i]!, lot, ...(cn ? { cn } : {}), holder: product.maker, status: 'active', events: [id] };
      ctx.state.put(drugKeys.code(key), pack);
    }
    const stored: StoredEvent = {
      id,
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
    ctx.state.put(drugKeys.event(id), stored);
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
    const stored = applyEvent(ctx, user, input);
    ctx.emit('drugs.event', { id: stored.id, bizStep: stored.bizStep, institution: stored.institution });
    return { event: stored.id, bizStep: stored.bizStep, ...(stored.shipment ? { shipment: stored.shipment } : {}) };
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
    // Holders are found through the batch index, in key order, so every peer writes the same notices.
    const holders = new Map<string, number>();
    for (const { value } of ctx.state.byIndex<Pack>('packsByBatch', `${gtin}/${lot}`, { limit: MAX_COMMISSION * 10 })) {
      if (value.status === 'active' || value.status === 'in_transit') holders.set(value.holder, (holders.get(value.holder) ?? 0) + 1);
    }
    const listed = [...holders.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [holder, packs] of listed) ctx.state.put(drugKeys.notice(holder, ctx.tx.id), { kind: 'recall', gtin, lot, reason, packs, at: ctx.block.time });
    ctx.emit('drugs.recalled', { gtin, lot, holders: listed.map(([h]) => h) });
    return { gtin, lot, holders: listed.map(([holder, packs]) => ({ holder, packs })) };
  },
});

const release = method({
  description: "A pharmacist at the holder releases packs after a temperature excursion, with the documented reason.",
  input: Type.Object({ codes: Type.Array(CodeKey, { minItems: 1, maxItems: 1000, uniqueItems: true }), note: Type.String({ minLength: 10, maxLength: 1000 }), ...Relayed }, { additionalProperties: false }),
  run(ctx, { codes, note, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    if (!user.roles.includes('pharmacist')) fail('FORBIDDEN', 'a pharmacist releases non-conformant packs');
    for (const key of codes) {
      const pack = loadCoded(ctx.state, key);
      if (pack.kind !== 'pack' || !pack.excursion) fail('OUT_OF_ORDER', `${key} has no excursion to release`);
      if (pack.holder !== user.institution) fail('NOT_HOLDER', `${key} is held by ${pack.holder}`);
      ctx.state.put(drugKeys.code(key), { ...pack, released: { by: user.did, at: ctx.block.time, note } } satisfies Pack);
    }
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
  const key = /^\d{20}$/.test(code) ? state.get<string>(drugKeys.cn(code)) : code;
  return key ? state.get<Coded>(drugKeys.code(key)) : undefined;
}

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) };

export const drugsContract: ContractDef = {
  name: 'drugs',
  description: 'Drug traceability: products, batches, packs (SGTIN and 药品追溯码), EPCIS 2.0 events, custody, cold chain, recalls, scan reports.',
  indexes: [
    {
      name: 'packsByHolder',
      prefix: 'drug/code/',
      terms: (v) => {
        const c = v as Coded;
        return c.kind === 'pack' && (c.status === 'active' || c.status === 'in_transit') ? [c.holder] : [];
      },
    },
    { name: 'packsByBatch', prefix: 'drug/code/', terms: (v) => ((v as Coded).kind === 'pack' ? [`${(v as Pack).gtin}/${(v as Pack).lot}`] : []) },
    { name: 'scanReports', prefix: 'drug/scan/', terms: (v) => [(v as ScanReport).finding] },
    {
      name: 'drugEvents',
      prefix: 'drug/ev/',
      terms: (v) => {
        const e = v as StoredEvent;
        return [`step:${e.bizStep}`, `inst:${e.institution}`, ...(e.location ? [`loc:${e.location}`] : []), ...(e.disposition ? [`disp:${e.disposition}`] : [])];
      },
    },
  ],
  methods: { registerLocation, registerProduct, registerBatch, commission, capture, recall, release, reportScan },
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
      description: 'EPCIS events by business step, disposition, location or institution, within a time range (eventTime, ISO 8601).',
      input: Type.Object(
        {
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
        const term = q.bizStep ? `step:${q.bizStep}` : q.disposition ? `disp:${q.disposition}` : q.location ? `loc:${q.location}` : q.institution ? `inst:${q.institution}` : undefined;
        if (!term) fail('INVALID_ARGS', 'filter by bizStep, disposition, location or institution');
        const from = q.from ? Date.parse(q.from) : -Infinity;
        const to = q.to ? Date.parse(q.to) : Infinity;
        return ctx.state
          .byIndex<StoredEvent>('drugEvents', term, { limit: 100_000 })
          .map((e) => e.value)
          .filter(
            (e) =>
              (!q.bizStep || e.bizStep === q.bizStep) &&
              (!q.disposition || e.disposition === q.disposition) &&
              (!q.location || e.location === q.location) &&
              (!q.institution || e.institution === q.institution) &&
              Date.parse(e.eventTime) >= from &&
              Date.parse(e.eventTime) <= to,
          )
          .sort((a, b) => Date.parse(a.eventTime) - Date.parse(b.eventTime) || (a.id < b.id ? -1 : 1))
          .slice(0, q.limit ?? 1000);
      },
    }),
    event: query({ input: Type.Object({ id: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), run: (ctx, { id }) => ctx.state.get<StoredEvent>(drugKeys.event(id)) ?? fail('NOT_FOUND', `no event ${id}`) }),
    shipment: query({ input: Type.Object({ id: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), run: (ctx, { id }) => ctx.state.get<Shipment>(drugKeys.shipment(id)) ?? fail('NOT_FOUND', `no shipment ${id}`) }),
    inventory: query({
      description: 'Stock per holder by product and batch (active and in transit), from the events.',
      input: Type.Object({ holder: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }) }, { additionalProperties: false }),
      run: (ctx, { holder }) => {
        const stock = new Map<string, { gtin: string; lot: string; active: number; inTransit: number; nonconformant: number }>();
        for (const { value: p } of ctx.state.byIndex<Pack>('packsByHolder', holder, { limit: 5_000_000 })) {
          const k = `${p.gtin}/${p.lot}`;
          const s = stock.get(k) ?? { gtin: p.gtin, lot: p.lot, active: 0, inTransit: 0, nonconformant: 0 };
          if (p.status === 'active') s.active++;
          else s.inTransit++;
          if (p.excursion && !p.released) s.nonconformant++;
          stock.set(k, s);
        }
        return [...stock.values()].map((s) => {
          const batch = ctx.state.get<Batch>(drugKeys.batch(s.gtin, s.lot))!;
          return { ...s, expires: batch.expires, recalled: batch.recall !== undefined };
        });
      },
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
          .range<Batch>('drug/batch/', { limit: 100_000 })
          .map((e) => e.value)
          .filter((b) => b.recall)
          .map((b) => {
            const holders: Record<string, number> = {};
            for (const { value: p } of ctx.state.byIndex<Pack>('packsByBatch', `${b.gtin}/${b.lot}`, { limit: 5_000_000 })) {
              if (p.status === 'active' || p.status === 'in_transit') holders[p.holder] = (holders[p.holder] ?? 0) + 1;
            }
            return { gtin: b.gtin, lot: b.lot, reason: b.recall!.reason, holders };
          })
          .filter((r) => Object.keys(r.holders).length > 0),
    }),
    today: query({ input: Type.Object({}, { additionalProperties: false }), run: (ctx) => dayOf(ctx.block.time) }),
  },
};
