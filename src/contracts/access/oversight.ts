import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { query, type QueryDef, type ReadState, type Signer, type WriteState } from '../runtime.js';

/**
 * Oversight figures for the regulator, kept by the access contract at commit time so that a query is a short
 * range scan whatever the size of the ledger: per-day counters of access-log entries with their breakdowns, and
 * anomaly markers (break-the-glass requests, users who read unusually many distinct patients in a day, bursts of
 * denied requests by one user). None of them holds a patient id, a record id or anything a patient wrote; the only
 * per-patient keys (`ostat/seen/…`, to count distinct patients) are never returned by these queries.
 *
 * Everything is a function of the tx, the state and the block time: days are UTC+8 calendar days of the block
 * time (China Standard Time, where the consortium works), counters are plain maps serialized as canonical JSON.
 */

/** Documented thresholds (see docs/ARCHITECTURE.md). Changing them changes consensus: they are part of the contract. */
export const OVERSIGHT_THRESHOLDS = {
  /** A user who accesses records of more than this many distinct patients (not themselves) in one day is flagged. */
  distinctPatientsPerDay: 20,
  /** `count` denied requests by one user within `windowMs` make a burst (a request with any denied record counts once). */
  denialBurst: { count: 5, windowMs: 10 * 60 * 1000 },
} as const;

/** UTC+8 offset: days are China Standard Time calendar days. */
export const OVERSIGHT_TZ_OFFSET_MS = 8 * 60 * 60 * 1000;
export const MAX_STATS_DAYS = 366;

/** The UTC+8 day (YYYY-MM-DD) of an epoch-ms time. Deterministic: formats a given instant, never reads the clock. */
export function oversightDay(time: number): string {
  return new Date(time + OVERSIGHT_TZ_OFFSET_MS).toISOString().slice(0, 10);
}

/** How one access-log entry is counted: break-the-glass permits are `emergency`, not `permit`. */
export type Outcome = 'permit' | 'deny' | 'emergency' | 'gone';

export interface Counts {
  entries: number;
  permit: number;
  deny: number;
  emergency: number;
  gone: number;
}

export interface DayStats {
  day: string;
  /** Access requests (txs); one request can cover many records. */
  requests: number;
  /** Access-log entries (one per record asked for) and their outcomes. */
  counts: Counts;
  byInstitution: Record<string, Counts>;
  byPurpose: Record<string, number>;
  byRequesterKind: Record<string, number>;
}

export interface EmergencyMarker {
  /** The access tx id (ledger reference, not a patient reference). */
  access: string;
  requester: string;
  institution?: string;
  roles: readonly string[];
  time: number;
  day: string;
  reason: string;
  records: number;
  /** `permit` when the glass was broken; `deny` when a user without the emergency role tried. */
  decision: 'permit' | 'deny';
}

export interface VolumeMarker {
  day: string;
  requester: string;
  institution?: string;
  roles: readonly string[];
  /** Distinct patients whose records the user accessed that day (so far). */
  patients: number;
  threshold: number;
  firstExceededAt: number;
  lastAt: number;
}

export interface DenialBurstMarker {
  requester: string;
  institution?: string;
  roles: readonly string[];
  day: string;
  start: number;
  end: number;
  /** Denied requests in the burst (grows while denials keep coming within the window). */
  denials: number;
  threshold: number;
  windowMs: number;
}

interface DenialTrack {
  /** Times of the most recent denied requests (at most `denialBurst.count`). */
  recent: number[];
  /** The open burst's marker key, while denials continue within the window. */
  burst?: string;
}

const pad12 = (n: number) => String(n).padStart(12, '0');
export const oversightKeys = {
  day: (day: string) => `ostat/day/${day}`,
  dayPrefix: 'ostat/day/',
  seen: (day: string, did: string, pid: string) => `ostat/seen/${day}/${did}/${pid}`,
  readers: (day: string, did: string) => `ostat/readers/${day}/${did}`,
  denials: (did: string) => `ostat/denials/${did}`,
  emergency: (day: string, height: number, txId: string) => `anom/emergency/${day}/${pad12(height)}/${txId}`,
  emergencyPrefix: 'anom/emergency/',
  volume: (day: string, did: string) => `anom/volume/${day}/${did}`,
  volumePrefix: 'anom/volume/',
  denialBurst: (day: string, height: number, txId: string) => `anom/denials/${day}/${pad12(height)}/${txId}`,
  denialPrefix: 'anom/denials/',
};

const zero = (): Counts => ({ entries: 0, permit: 0, deny: 0, emergency: 0, gone: 0 });

/** What the access contract tells the oversight counters about one committed access request. */
export interface AccessFacts {
  signer: Signer;
  patientId: string;
  purpose: string;
  emergency?: { reason: string };
  outcomes: Outcome[];
  txId: string;
  height: number;
  time: number;
}

/** Updates counters and anomaly markers for one access request; called by `access.request` after it logs. */
export function recordAccessFacts(state: WriteState, f: AccessFacts): void {
  const day = oversightDay(f.time);
  const s = f.signer;
  const stats = state.get<DayStats>(oversightKeys.day(day)) ?? { day, requests: 0, counts: zero(), byInstitution: {}, byPurpose: {}, byRequesterKind: {} };
  stats.requests += 1;
  const inst = s.institution ? (stats.byInstitution[s.institution] ??= zero()) : undefined;
  for (const o of f.outcomes) {
    stats.counts.entries += 1;
    stats.counts[o] += 1;
    if (inst) {
      inst.entries += 1;
      inst[o] += 1;
    }
  }
  stats.byPurpose[f.purpose] = (stats.byPurpose[f.purpose] ?? 0) + f.outcomes.length;
  stats.byRequesterKind[s.kind] = (stats.byRequesterKind[s.kind] ?? 0) + f.outcomes.length;
  state.put(oversightKeys.day(day), stats);

  const who = { requester: s.did, ...(s.institution ? { institution: s.institution } : {}), roles: s.roles };
  if (f.emergency) {
    const marker: EmergencyMarker = {
      access: f.txId,
      ...who,
      time: f.time,
      day,
      reason: f.emergency.reason,
      records: f.outcomes.length,
      decision: f.outcomes.includes('emergency') ? 'permit' : 'deny',
    };
    state.put(oversightKeys.emergency(day, f.height, f.txId), marker);
  }

  // Distinct patients per user and day; a patient reading their own records is not counted.
  const self = s.kind === 'patient' && s.subject === f.patientId;
  if (!self && state.get(oversightKeys.seen(day, s.did, f.patientId)) === undefined) {
    state.put(oversightKeys.seen(day, s.did, f.patientId), 1);
    const patients = (state.get<number>(oversightKeys.readers(day, s.did)) ?? 0) + 1;
    state.put(oversightKeys.readers(day, s.did), patients);
    const threshold = OVERSIGHT_THRESHOLDS.distinctPatientsPerDay;
    if (patients > threshold) {
      const prior = state.get<VolumeMarker>(oversightKeys.volume(day, s.did));
      const marker: VolumeMarker = { day, ...who, patients, threshold, firstExceededAt: prior?.firstExceededAt ?? f.time, lastAt: f.time };
      state.put(oversightKeys.volume(day, s.did), marker);
    }
  }

  if (f.outcomes.includes('deny')) trackDenial(state, f, day, who);
}

function trackDenial(state: WriteState, f: AccessFacts, day: string, who: Pick<DenialBurstMarker, 'requester' | 'institution' | 'roles'>): void {
  const { count, windowMs } = OVERSIGHT_THRESHOLDS.denialBurst;
  const track = state.get<DenialTrack>(oversightKeys.denials(who.requester)) ?? { recent: [] };
  const last = track.recent[track.recent.length - 1];
  const recent = [...track.recent, f.time].slice(-count);
  let burst = track.burst;
  if (burst && last !== undefined && f.time - last <= windowMs) {
    // The open burst continues: one more denial within the window of the previous one.
    const marker = state.get<DenialBurstMarker>(burst)!;
    state.put(burst, { ...marker, end: f.time, denials: marker.denials + 1 });
  } else if (recent.length === count && f.time - recent[0]! <= windowMs) {
    burst = oversightKeys.denialBurst(oversightDay(recent[0]!), f.height, f.txId);
    const marker: DenialBurstMarker = { ...who, day: oversightDay(recent[0]!), start: recent[0]!, end: f.time, denials: count, threshold: count, windowMs };
    state.put(burst, marker);
  } else {
    burst = undefined;
  }
  state.put(oversightKeys.denials(who.requester), { recent, ...(burst ? { burst } : {}) });
}

/** Every key of `prefix` whose day segment lies in [from, to], in key order (a range scan from `from`). */
function scanDays<T>(state: ReadState, prefix: string, from: string, to: string, limit: number): { rows: T[]; truncated: boolean } {
  // Keys are printable ASCII: the last character of `from` decremented, then '~', sorts just below every key ≥ from.
  const below = `${prefix}${from.slice(0, -1)}${String.fromCharCode(from.charCodeAt(from.length - 1) - 1)}~`;
  const rows: T[] = [];
  let after = below;
  for (;;) {
    const page = state.range<T>(prefix, { after, limit: Math.min(1000, limit + 1 - rows.length) });
    for (const e of page) {
      if (e.key.slice(prefix.length, prefix.length + 10) > to) return { rows, truncated: false };
      if (rows.length === limit) return { rows, truncated: true };
      rows.push(e.value);
    }
    if (page.length === 0) return { rows, truncated: false };
    after = page[page.length - 1]!.key;
  }
}

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'UTC+8 calendar day' });
const Window = { from: Day, to: Day };

/** A real calendar day written YYYY-MM-DD (2026-02-30 is not). */
export function isCalendarDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === day;
}

function checkWindow(from: string, to: string): void {
  if (!isCalendarDay(from) || !isCalendarDay(to)) throw new ContractError(ContractCodes.INVALID_ARGS, 'from and to must be calendar days (YYYY-MM-DD)');
  const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
  if (span < 0) throw new ContractError(ContractCodes.INVALID_ARGS, 'from is after to');
  if (span >= MAX_STATS_DAYS) throw new ContractError(ContractCodes.INVALID_ARGS, `a window covers at most ${MAX_STATS_DAYS} days`);
}

export const oversightQueries: Record<string, QueryDef> = {
  stats: query({
    sensitive: true,
    description: 'Access-log counts per UTC+8 day in [from, to], by outcome, requesting institution, purpose and requester kind (no patient data). For the regulator and auditors.',
    input: Type.Object(Window, { additionalProperties: false }),
    run: (ctx, { from, to }) => {
      checkWindow(from, to);
      return scanDays<DayStats>(ctx.state, oversightKeys.dayPrefix, from, to, MAX_STATS_DAYS).rows;
    },
  }),
  anomalies: query({
    sensitive: true,
    description:
      'Break-the-glass requests, users over the distinct-patients-per-day threshold, and bursts of denied requests, in [from, to] (UTC+8 days; no patient data). For the regulator and auditors.',
    input: Type.Object({ ...Window, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
    run: (ctx, { from, to, limit = 500 }) => {
      checkWindow(from, to);
      const emergencies = scanDays<EmergencyMarker>(ctx.state, oversightKeys.emergencyPrefix, from, to, limit);
      const volume = scanDays<VolumeMarker>(ctx.state, oversightKeys.volumePrefix, from, to, limit);
      const denials = scanDays<DenialBurstMarker>(ctx.state, oversightKeys.denialPrefix, from, to, limit);
      return {
        thresholds: OVERSIGHT_THRESHOLDS,
        emergencies: emergencies.rows,
        highVolumeReaders: volume.rows,
        denialBursts: denials.rows,
        truncated: emergencies.truncated || volume.truncated || denials.truncated,
      };
    },
  }),
};
