import type { Counts, DayStats, DenialBurstMarker, EmergencyMarker, VolumeMarker } from '../contracts/access/index.js';
import { isCalendarDay, MAX_STATS_DAYS, OVERSIGHT_THRESHOLDS, oversightDay } from '../contracts/access/index.js';
import type { Institution, KeyRecord, Staff } from '../contracts/identity/model.js';
import { CodedError } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import { summariseDrugs, type DrugsSummary } from './drugs-summary.js';

/**
 * Regulator oversight without patient data: access statistics and anomalies, read from the counters and markers
 * the access contract keeps at commit time (contracts/access/oversight.ts), so each answer is a range scan over
 * the days asked for. Only the regulator institution's staff and auditors (role `auditor` or `regulator`
 * anywhere) may ask; a refusal is answered 403 and written to the node log with who asked and what.
 */

export const DEFAULT_WINDOW_DAYS = 30;
const DAY_MS = 86_400_000;

export interface Window {
  from: string;
  to: string;
}

/** A requester as the regulator sees them; patients' and proxies' keys are not shown (they would identify a patient). */
export interface Person {
  did?: string;
  kind?: string;
  staffId?: string;
  name?: string;
  institution?: string;
  institutionName?: string;
}

export interface AccessStatsReport extends Window {
  timezone: '+08:00';
  totals: Omit<DayStats, 'day'>;
  /** Every day of the window, oldest first; days without accesses have zero counts. */
  days: DayStats[];
  institutions: Record<string, string>;
}

export interface AnomalyReport extends Window {
  thresholds: typeof OVERSIGHT_THRESHOLDS;
  emergencies: Array<Omit<EmergencyMarker, 'requester'> & { requester: Person }>;
  highVolumeReaders: Array<Omit<VolumeMarker, 'requester'> & { requester: Person }>;
  denialBursts: Array<Omit<DenialBurstMarker, 'requester'> & { requester: Person }>;
  truncated: boolean;
}

const zero = (): Counts => ({ entries: 0, permit: 0, deny: 0, emergency: 0, gone: 0 });
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

function add(into: Counts, c: Counts): void {
  for (const k of Object.keys(into) as Array<keyof Counts>) into[k] += c[k];
}

export class OversightService {
  constructor(
    private readonly node: MedchainNode,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private q<T>(contract: string, name: string, args: unknown): T {
    return this.node.query(contract, name, args) as T;
  }

  private tryQ<T>(contract: string, name: string, args: unknown): T | undefined {
    try {
      return this.q<T>(contract, name, args);
    } catch (err) {
      if (err instanceof CodedError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** Staff of a regulator institution, or staff with the auditor or regulator role; anyone else is refused and logged. */
  assertOverseer(did: string, what: string): void {
    const refuse = (code: string, message: string): never => {
      this.node.logger.warn({ event: 'oversight.refused', did, what, code }, 'oversight request refused');
      throw new CodedError(code, message);
    };
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
    if (!key || key.status !== 'active') return refuse('UNKNOWN_SIGNER', 'the signing key is not registered in the consortium');
    if (key.kind !== 'staff' || !key.institution) return refuse('FORBIDDEN', 'only the regulator\'s staff and auditors see oversight figures');
    const staff = this.tryQ<Staff>('identity', 'staff', { institution: key.institution, staffId: key.subject });
    const inst = this.tryQ<Institution>('identity', 'institution', { id: key.institution });
    const allowed =
      staff?.status === 'active' &&
      inst?.status === 'active' &&
      (inst.type === 'regulator' || staff.roles.some((r) => r === 'auditor' || r === 'regulator'));
    if (!allowed) refuse('FORBIDDEN', 'only the regulator\'s staff and auditors see oversight figures');
  }

  /** The window asked for, defaulting to the last 30 UTC+8 days up to today (by this node's clock). */
  window(from?: string, to?: string): Window {
    for (const d of [from, to]) if (d !== undefined && !isCalendarDay(d)) throw new CodedError('INVALID_ARGS', `${d} is not a calendar day (YYYY-MM-DD)`);
    const end = to ?? (from ? addDays(from, DEFAULT_WINDOW_DAYS - 1) : oversightDay(this.now()));
    return { from: from ?? addDays(end, -(DEFAULT_WINDOW_DAYS - 1)), to: end };
  }

  /** A checked window: real days, from ≤ to, at most MAX_STATS_DAYS. */
  private checkedWindow(from?: string, to?: string): Window {
    const w = this.window(from, to);
    if (w.from > w.to) throw new CodedError('INVALID_ARGS', 'from is after to');
    if (Date.parse(w.to) - Date.parse(w.from) >= MAX_STATS_DAYS * DAY_MS) throw new CodedError('INVALID_ARGS', `a window covers at most ${MAX_STATS_DAYS} days`);
    return w;
  }

  /** Suspected counterfeits and diversions, and recalled stock still held, summarised for the dashboard. */
  drugs(did: string, from?: string, to?: string): DrugsSummary {
    this.assertOverseer(did, 'drugs');
    const w = this.checkedWindow(from, to);
    const days: string[] = [];
    for (let day = w.from; day <= w.to; day = addDays(day, 1)) days.push(day);
    return summariseDrugs((name, args) => this.q('drugs', name, args), days);
  }

  accessStats(did: string, from?: string, to?: string): AccessStatsReport {
    this.assertOverseer(did, 'access-stats');
    const w = this.checkedWindow(from, to);
    const stored = new Map(this.q<DayStats[]>('access', 'stats', w).map((d) => [d.day, d]));
    const totals: Omit<DayStats, 'day'> = { requests: 0, counts: zero(), byInstitution: {}, byPurpose: {}, byRequesterKind: {} };
    const days: DayStats[] = [];
    for (let day = w.from; day <= w.to; day = addDays(day, 1)) {
      const d = stored.get(day) ?? { day, requests: 0, counts: zero(), byInstitution: {}, byPurpose: {}, byRequesterKind: {} };
      days.push(d);
      totals.requests += d.requests;
      add(totals.counts, d.counts);
      for (const [inst, c] of Object.entries(d.byInstitution)) add((totals.byInstitution[inst] ??= zero()), c);
      for (const [p, n] of Object.entries(d.byPurpose)) totals.byPurpose[p] = (totals.byPurpose[p] ?? 0) + n;
      for (const [k, n] of Object.entries(d.byRequesterKind)) totals.byRequesterKind[k] = (totals.byRequesterKind[k] ?? 0) + n;
    }
    const institutions = Object.fromEntries(this.q<Institution[]>('identity', 'institutions', {}).map((i) => [i.id, i.name]));
    return { ...w, timezone: '+08:00', totals, days, institutions };
  }

  anomalies(did: string, from?: string, to?: string, limit?: number): AnomalyReport {
    this.assertOverseer(did, 'anomalies');
    const w = this.window(from, to);
    const raw = this.q<{ emergencies: EmergencyMarker[]; highVolumeReaders: VolumeMarker[]; denialBursts: DenialBurstMarker[]; truncated: boolean }>('access', 'anomalies', {
      ...w,
      ...(limit ? { limit } : {}),
    });
    const people = new Map<string, Person>();
    const person = (d: string): Person => {
      let p = people.get(d);
      if (!p) people.set(d, (p = this.describe(d)));
      return p;
    };
    // Newest first: what a dashboard shows at the top.
    return {
      ...w,
      thresholds: OVERSIGHT_THRESHOLDS,
      emergencies: raw.emergencies.map((m) => ({ ...m, requester: person(m.requester) })).reverse(),
      highVolumeReaders: raw.highVolumeReaders.map((m) => ({ ...m, requester: person(m.requester) })).reverse(),
      denialBursts: raw.denialBursts.map((m) => ({ ...m, requester: person(m.requester) })).reverse(),
      truncated: raw.truncated,
    };
  }

  /** Who a did is, from the ledger (staff names and institutions are consortium data, not patient data). */
  private describe(did: string): Person {
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
    if (!key) return { did };
    if (key.kind === 'patient' || key.kind === 'proxy') return { kind: key.kind };
    const out: Person = { did, kind: key.kind };
    if (key.kind === 'staff' && key.institution) {
      const staff = this.tryQ<Staff>('identity', 'staff', { institution: key.institution, staffId: key.subject });
      out.staffId = key.subject;
      if (staff) out.name = staff.name;
    }
    if (key.institution) {
      out.institution = key.institution;
      const inst = this.tryQ<Institution>('identity', 'institution', { id: key.institution });
      if (inst) out.institutionName = inst.name;
    }
    return out;
  }
}
