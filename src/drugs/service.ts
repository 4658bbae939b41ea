import { createRequire } from 'node:module';
import { Ed25519Signer, type Identity } from '../crypto/index.js';
import type { UserRequest } from '../contracts/delegation.js';
import { ContractError, type ContractCode } from '../contracts/errors.js';
import type { Institution } from '../contracts/identity/model.js';
import { dayOf, DEFAULT_EXPIRING_DAYS, MAX_BATCH_EPCS, MAX_BATCH_EVENTS, mergeReadings, vocabulary, type Batch, type Coded, type Container, type CustodyStep, type ExpiringReport, type Pack, type Product, type Shipment, type StoredEvent } from '../contracts/drugs/index.js';
import { codeKey, packDigitalLink, parseCode, parseEpc, type PackCode } from '../gs1/codes.js';
import { cbvEventHashId } from '../gs1/event-hash.js';
import { CodedError, signTx, type InclusionProof } from '../ledger/index.js';
import { inclusionProof } from '../ledger/merkle.js';
import type { MedchainNode } from '../node/node.js';

/**
 * Drug traceability on a node: EPCIS 2.0 capture (validated with GS1's epcis2.js before anything is written),
 * and verification of a pack for anyone — product, batch, custody chain, cold chain, warnings and a Merkle
 * inclusion proof — with suspicious scans reported to the regulator by the node.
 */

const require = createRequire(import.meta.url);
const { validateEpcisDocument } = require('epcis2.js') as { validateEpcisDocument(doc: unknown, throwError: boolean): { success: boolean; errors: string[] } };

export type Warning = 'unknown-code' | 'already-dispensed' | 'recalled' | 'expired' | 'temperature-excursion' | 'destroyed' | 'in-transit';

export interface Verification {
  code: string;
  found: boolean;
  /** A case or pallet (SSCC) rather than a pack. */
  kind?: 'container';
  /** Codes directly inside a container. */
  contents?: number;
  warnings: Warning[];
  verdict: 'ok' | 'warning' | 'danger';
  digitalLink?: string;
  cn?: string;
  product?: Pick<Product, 'gtin' | 'name' | 'nameEn' | 'approvalNumber' | 'dosageForm' | 'strength' | 'storage'> & { maker: string };
  batch?: { lot: string; manufactured: string; expires: string; recall?: { reason: string; at: number } };
  status?: string;
  holder?: string;
  dispensedAt?: number;
  custody?: Array<{ event: string; bizStep: string; time: string; institution: string; to?: string; location?: string; txId: string; height: number }>;
  coldChain?: Array<{ shipment: string; from: string; to: string; minC: number; maxC: number; excursion: boolean }>;
  release?: { at: number; note: string };
  proof?: InclusionProof;
}

type CustodyView = NonNullable<Verification['custody']>[number];

function custodyView(e: CustodyStep, nameOf: (id: string) => string): CustodyView {
  return {
    event: e.event,
    bizStep: e.bizStep,
    time: e.eventTime,
    institution: nameOf(e.institution),
    ...(e.to ? { to: nameOf(e.to) } : {}),
    ...(e.location ? { location: e.location } : {}),
    txId: e.txId,
    height: e.height,
  };
}

type ShipmentSeen = Pick<Shipment, 'id' | 'from' | 'to' | 'sensors'>;

/**
 * The shipments a code went through, from its custody steps: each shipping step opens one, and the readings of
 * every step naming it (shipping, receiving) are merged, as the shipment row merges them. A reading that takes a
 * shipment out of range marks every pack in it, so each of them has a step carrying that reading.
 */
function coldChainOf(steps: CustodyStep[]): ShipmentSeen[] {
  const out = new Map<string, ShipmentSeen>();
  for (const step of steps) {
    if (!step.shipment) continue;
    if (step.bizStep === 'shipping' && step.to) out.set(step.shipment, { id: step.shipment, from: step.institution, to: step.to });
    const seen = out.get(step.shipment);
    if (seen && step.sensors) seen.sensors = mergeReadings(seen.sensors, step.sensors);
  }
  return [...out.values()];
}

export interface CaptureResult {
  index: number;
  status: 'ok' | 'error';
  eventID?: string;
  code?: string;
  message?: string;
}

/** Most events one capture request may carry (they become as many txs as the batch limits need). */
export const MAX_CAPTURE_EVENTS = 10_000;

/** One report per code and finding per window, so a scanning loop cannot flood the ledger. */
const REPORT_WINDOW_MS = 10 * 60 * 1000;

export class DrugService {
  private readonly nodeSigner: Ed25519Signer;
  private readonly reported = new Map<string, number>();
  /** Tx ids of recently proved blocks, by height (insertion order: the oldest is dropped first). */
  private readonly blockIds = new Map<number, Buffer[]>();

  constructor(
    private readonly node: MedchainNode,
    /** Which hosted node relays a user's request (their own institution's). */
    private readonly relayFor: (user: UserRequest) => Identity,
  ) {
    this.nodeSigner = new Ed25519Signer(node.config.identity.signing.seed);
  }

  private q<T>(name: string, args: unknown): T {
    return this.node.query('drugs', name, args) as T;
  }

  private tryQ<T>(name: string, args: unknown): T | undefined {
    try {
      return this.q<T>(name, args);
    } catch (err) {
      if (err instanceof CodedError && (err.code === 'NOT_FOUND' || err.code === 'UNKNOWN_CODE')) return undefined;
      throw err;
    }
  }

  private async submit(signerDid: string, signer: Ed25519Signer, method: string, args: unknown): Promise<Record<string, unknown>> {
    const tx = signTx({ chain: this.node.config.genesis.chainId, contract: 'drugs', method, args }, signerDid, signer);
    const receipt = await this.node.submit(tx);
    if (receipt.result.status !== 'ok') throw new ContractError(receipt.result.code as ContractCode, receipt.result.message);
    return receipt.result.result as Record<string, unknown>;
  }

  /**
   * Captures an EPCIS 2.0 document: validated as a whole first (invalid → INVALID_EPCIS with the validator's
   * errors, nothing written); then each event in order, relayed for the user as part i of their signed request.
   * Commissioning events become `drugs.commission`; dispensing events name the patient in `medchain:patientId`
   * and the prescription record (FHIR MedicationRequest id) in `medchain:prescription` (both kept out of the
   * anchored event; the contract checks the prescription is that patient's).
   */
  async capture(user: UserRequest, doc: unknown): Promise<CaptureResult[]> {
    const copy = structuredClone(doc);
    // epcis2.js fills defaults into what it validates, so it gets a copy.
    let check: { success: boolean; errors: string[] };
    try {
      check = validateEpcisDocument(copy, false);
    } catch (err) {
      throw new CodedError('INVALID_EPCIS', `not an EPCIS 2.0 document: ${(err as Error).message}`);
    }
    if (!check.success) throw new CodedError('INVALID_EPCIS', check.errors.join('; '), { errors: check.errors });
    const events = ((doc as { epcisBody?: { eventList?: unknown[] } }).epcisBody?.eventList ?? []) as Array<Record<string, unknown>>;
    if (events.length === 0) throw new CodedError('INVALID_EPCIS', 'the document has no events');
    if (events.length > MAX_CAPTURE_EVENTS) throw new CodedError('INVALID_EPCIS', `at most ${MAX_CAPTURE_EVENTS.toLocaleString('en')} events per capture`);
    const relay = this.relayFor(user);
    const relaySigner = new Ed25519Signer(relay.signing.seed);
    const results: CaptureResult[] = [];
    const failed = (index: number, err: unknown) => {
      const e = err as CodedError;
      results[index] = { index, status: 'error', code: e.code ?? 'INTERNAL', message: e.message };
    };
    // Commissioning events become `drugs.commission` txs; runs of other events go in `captureBatch` txs. Each tx
    // relays the user's request as the part numbered by its first event, so no part is used twice.
    let run: Array<{ index: number; input: Record<string, unknown>; epcs: number; bytes: number }> = [];
    // A tx must fit the chain's size limit: the envelope and the relayed request take a few kilobytes.
    const byteBudget = Math.max(this.node.limits.maxTxBytes - 4096, 1024);
    const flush = async () => {
      if (run.length === 0) return;
      const batch = run;
      run = [];
      try {
        const out = await this.submit(relay.did, relaySigner, 'captureBatch', { events: batch.map((b) => b.input), onBehalfOf: { ...user, part: batch[0]!.index } });
        const outcomes = out['results'] as Array<{ event?: string; code?: string; message?: string }>;
        batch.forEach((b, i) => {
          const r = outcomes[i]!;
          results[b.index] = r.event ? { index: b.index, status: 'ok', eventID: r.event } : { index: b.index, status: 'error', code: r.code!, message: r.message! };
        });
      } catch (err) {
        for (const b of batch) failed(b.index, err);
      }
    };
    for (const [index, raw] of events.entries()) {
      const { ['medchain:patientId']: patientId, ['medchain:prescription']: prescription, ...event } = raw;
      if (vocabulary(event['bizStep'] as string) === 'commissioning') {
        await flush();
        try {
          const out = await this.submit(relay.did, relaySigner, 'commission', { ...commissionArgs(event), onBehalfOf: { ...user, part: index } });
          results[index] = { index, status: 'ok', eventID: out['event'] as string };
        } catch (err) {
          failed(index, err);
        }
        continue;
      }
      const dispense = typeof patientId === 'string' ? { patientId, ...(typeof prescription === 'string' ? { prescription } : {}) } : undefined;
      const epcs = ((event['epcList'] as unknown[] | undefined)?.length ?? 0) + ((event['childEPCs'] as unknown[] | undefined)?.length ?? 0);
      const input = { event, ...(dispense ? { dispense } : {}) };
      const bytes = Buffer.byteLength(JSON.stringify(input)) + 1;
      const full =
        run.length >= MAX_BATCH_EVENTS || run.reduce((n, b) => n + b.epcs, 0) + epcs > MAX_BATCH_EPCS || run.reduce((n, b) => n + b.bytes, 0) + bytes > byteBudget;
      if (full) await flush();
      run.push({ index, input, epcs, bytes });
    }
    await flush();
    // A second dispense of one pack is the signature of diversion (回流药): the regulator hears of it.
    for (const r of results) {
      if (r.code !== 'ALREADY_DISPENSED') continue;
      const epc = ((events[r.index]!['epcList'] as string[] | undefined) ?? [])[0];
      if (epc) await this.report(codeKey(parseEpc(epc)), 'already-dispensed');
    }
    return results;
  }

  /** Everything a patient, pharmacist or inspector should know about a scanned code. */
  async verify(input: string): Promise<Verification> {
    let parsed: PackCode;
    try {
      parsed = parseCode(input);
    } catch (err) {
      throw err instanceof CodedError ? err : new CodedError('INVALID_CODE', 'not a pack code');
    }
    const lookup = parsed.kind === 'cn' ? parsed.code : codeKey(parsed);
    const coded = this.tryQ<Coded>('code', { code: lookup });
    if (!coded) {
      const v: Verification = { code: lookup, found: false, warnings: ['unknown-code'], verdict: 'danger' };
      await this.report(lookup, 'unknown-code');
      return v;
    }
    if (coded.kind === 'container') return this.verifyContainer(coded);
    const pack = coded;
    const product = this.q<Product>('product', { gtin: pack.gtin });
    const batch = this.q<Batch>('batch', { gtin: pack.gtin, lot: pack.lot });
    const steps = this.q<CustodyStep[]>('custody', { code: pack.code });
    const names = new Map<string, string>();
    const nameOf = (id: string) => {
      if (!names.has(id)) names.set(id, (this.node.query('identity', 'institution', { id }) as Institution).name);
      return names.get(id)!;
    };
    const shipments = coldChainOf(steps);
    const warnings: Warning[] = [];
    if (pack.status === 'dispensed' || pack.status === 'returned') warnings.push('already-dispensed');
    if (pack.status === 'destroyed') warnings.push('destroyed');
    if (pack.status === 'in_transit') warnings.push('in-transit');
    if (batch.recall) warnings.push('recalled');
    if (batch.expires < dayOf(this.node.ledger.head().time)) warnings.push('expired');
    if (pack.excursion && !pack.released) warnings.push('temperature-excursion');
    const danger = warnings.some((w) => w !== 'in-transit');
    for (const w of warnings) if (w !== 'in-transit') await this.report(lookup, w);
    const latest = steps[steps.length - 1]!;
    return {
      code: pack.code,
      found: true,
      warnings,
      verdict: danger ? 'danger' : warnings.length ? 'warning' : 'ok',
      digitalLink: packDigitalLink(pack.gtin, pack.lot, pack.serial),
      ...(pack.cn ? { cn: pack.cn } : {}),
      product: {
        gtin: product.gtin,
        name: product.name,
        ...(product.nameEn ? { nameEn: product.nameEn } : {}),
        approvalNumber: product.approvalNumber,
        dosageForm: product.dosageForm,
        strength: product.strength,
        storage: product.storage,
        maker: nameOf(product.maker),
      },
      batch: { lot: batch.lot, manufactured: batch.manufactured, expires: batch.expires, ...(batch.recall ? { recall: { reason: batch.recall.reason, at: batch.recall.at } } : {}) },
      // A recalled batch's packs still in the supply chain show as recalled.
      status: batch.recall && (pack.status === 'active' || pack.status === 'in_transit') ? 'recalled' : pack.status,
      holder: nameOf(pack.holder),
      // The patient's pseudonymous id is never shown; only that and when the pack was dispensed.
      ...(pack.dispensed ? { dispensedAt: pack.dispensed.at } : {}),
      custody: steps.map((e) => custodyView(e, nameOf)),
      coldChain: shipments.map((s) => {
        const minC = s.sensors?.minC ?? NaN;
        const maxC = s.sensors?.maxC ?? NaN;
        return { shipment: s.id, from: nameOf(s.from), to: nameOf(s.to), minC, maxC, excursion: minC < product.storage.minC || maxC > product.storage.maxC };
      }),
      ...(pack.released ? { release: { at: pack.released.at, note: pack.released.note } } : {}),
      proof: this.proofOf(latest.height, latest.txId),
    };
  }

  /**
   * The inclusion proof of a tx whose block height the event row already gives: the block's tx ids (cached per
   * height — committed blocks never change) and its header, without reading the tx body (`ledger.proof` looks the
   * tx up by id and reads its body, up to 64 KiB for a batch).
   */
  private proofOf(height: number, txId: string): InclusionProof {
    let ids = this.blockIds.get(height);
    if (!ids) {
      ids = this.node.ledger.store.blockTxIds(height);
      if (this.blockIds.size >= 1024) this.blockIds.delete(this.blockIds.keys().next().value!);
      this.blockIds.set(height, ids);
    }
    const wanted = Buffer.from(txId, 'hex');
    const index = ids.findIndex((id) => id.equals(wanted));
    const block = this.node.ledger.store.getBlock(height);
    if (index < 0 || !block) return this.node.ledger.proof(txId);
    return { txId, height, index, treeSize: ids.length, path: inclusionProof(ids, index).map((b) => b.toString('hex')), txRoot: block.header.txRoot, blockHash: block.hash };
  }

  /** A case or pallet (SSCC): what it holds, where it is and its custody; its packs are verified one by one. */
  private verifyContainer(container: Container): Verification {
    const steps = this.q<CustodyStep[]>('custody', { code: container.code });
    const nameOf = (id: string) => (this.node.query('identity', 'institution', { id }) as Institution).name;
    const warnings: Warning[] = container.status === 'in_transit' ? ['in-transit'] : container.status === 'destroyed' ? ['destroyed'] : [];
    const latest = steps[steps.length - 1];
    return {
      code: container.code,
      found: true,
      kind: 'container',
      warnings,
      verdict: container.status === 'destroyed' ? 'danger' : warnings.length ? 'warning' : 'ok',
      status: container.status,
      holder: nameOf(container.holder),
      contents: container.children.length,
      custody: steps.map((e) => custodyView(e, nameOf)),
      ...(latest ? { proof: this.proofOf(latest.height, latest.txId) } : {}),
    };
  }

  /** Stock at a holder with expiry and recall flags; `expiringWithinDays` marks what expires soon. */
  inventory(holder: string, expiringWithinDays = DEFAULT_EXPIRING_DAYS): Array<Record<string, unknown>> {
    const today = dayOf(this.node.ledger.head().time);
    const horizon = dayOf(Date.parse(`${today}T00:00:00+08:00`) + expiringWithinDays * 86_400_000);
    const stock = this.q<Array<{ gtin: string; lot: string; active: number; expires: string; recalled: boolean }>>('inventory', { holder });
    return stock.map((s) => ({ ...s, expired: s.expires < today, expiringSoon: s.expires >= today && s.expires <= horizon }));
  }

  /**
   * An event as it was captured (EPCIS 2.0 JSON, `eventID` set to its CBV 2.0 hash id), read back from the tx that
   * anchored it; the event row holds the summary the queries use. A bulk commissioning answers with its summary
   * (its 100,000 EPCs are a range). The patient a pack was dispensed to is never part of the event.
   */
  capturedEvent(id: string): Record<string, unknown> {
    const stored = this.q<StoredEvent>('event', { id });
    const tx = this.node.ledger.store.getTx(stored.txId);
    const args = tx ? (JSON.parse(tx.body) as { tx: { method: string; args: { event?: unknown; events?: Array<{ event: unknown }> } } }).tx : undefined;
    const candidates = args?.method === 'capture' ? [args.args.event] : args?.method === 'captureBatch' ? (args.args.events ?? []).map((e) => e.event) : [];
    const event = candidates.find((e) => cbvEventHashId(e) === id) as Record<string, unknown> | undefined;
    return event ? { ...event, eventID: id } : { ...stored, eventID: id };
  }

  /** For the regulator: suspicious scans (suspected counterfeits and diversions) and recalled stock still held. */
  /** Stock expiring within `withinDays` (default 90), sorted by expiry: one holder's, or every holder's (the regulator's view). */
  expiringReport(options: { holder?: string; withinDays?: number; limit?: number }): ExpiringReport {
    return this.q<ExpiringReport>('expiringStock', options);
  }

  regulatorReport(): { suspicious: unknown[]; recalledInStock: Array<{ gtin: string; lot: string; reason: string; holders: Record<string, number> }> } {
    const suspicious = this.q<unknown[]>('scanReports', { limit: 10_000 });
    const recalledInStock = this.q<Array<{ gtin: string; lot: string; reason: string; holders: Record<string, number> }>>('recalledStock', {});
    return { suspicious, recalledInStock };
  }

  private async report(code: string, finding: Warning): Promise<void> {
    const key = `${code}|${finding}`;
    const now = Date.now();
    if ((this.reported.get(key) ?? 0) > now - REPORT_WINDOW_MS) return;
    this.reported.set(key, now);
    if (this.reported.size > 100_000) this.reported.clear();
    try {
      await this.submit(this.node.config.identity.did, this.nodeSigner, 'reportScan', { code: code.slice(0, 200), finding });
    } catch (err) {
      this.node.logger.warn({ err: (err as Error).message, code, finding }, 'could not report a suspicious scan');
    }
  }
}

/** A commissioning ObjectEvent as `drugs.commission` input: one GTIN, the lot from ILMD, explicit serials. */
function commissionArgs(event: Record<string, unknown>): Record<string, unknown> {
  const epcs = (event['epcList'] as string[] | undefined) ?? [];
  if (epcs.length === 0 || epcs.length > 1000) throw new CodedError('INVALID_EPCIS', 'a commissioning event lists 1-1,000 EPCs (use drugs.commission for bulk ranges)');
  const codes = epcs.map((e) => parseEpc(e));
  const gtins = new Set(codes.map((c) => (c.kind === 'sgtin' ? c.gtin : '')));
  if (gtins.size !== 1 || gtins.has('')) throw new CodedError('INVALID_EPCIS', 'a commissioning event commissions SGTINs of one product');
  const lot = (event['ilmd'] as Record<string, unknown> | undefined)?.['cbvmda:lotNumber'];
  if (typeof lot !== 'string') throw new CodedError('INVALID_EPCIS', 'commissioning needs ilmd cbvmda:lotNumber');
  return {
    gtin: [...gtins][0],
    lot,
    serials: codes.map((c) => (c as { serial: string }).serial),
    eventTime: event['eventTime'],
  };
}
