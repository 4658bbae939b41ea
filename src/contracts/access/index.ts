import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, query, type ContractDef } from '../runtime.js';
import { keys as idKeys, PatientId, type Patient } from '../identity/model.js';
import { consentsOf, decide, defaultPolicy, type AccessRequest, type DefaultPolicy, type PurposeOfUse } from '../consent/index.js';
import { Purpose } from '../consent/model.js';
import { actingUser } from '../delegation.js';
import { recordKeys, RecordId, Relayed, type RecordHead } from '../records/model.js';
import type { Signer } from '../runtime.js';
import { oversightQueries, recordAccessFacts, type Outcome } from './oversight.js';

export { OVERSIGHT_THRESHOLDS, MAX_STATS_DAYS, isCalendarDay, oversightDay, type DayStats, type Counts, type EmergencyMarker, type VolumeMarker, type DenialBurstMarker } from './oversight.js';

/**
 * The access log. A read of patient data is a tx: the requester signs it, the contract decides by consent (or
 * break-the-glass), and the entry — permit or deny — is committed before any data is released. The patient lists
 * every entry; the regulator lists emergency accesses (which carry no patient data beyond the pseudonymous id).
 */

export interface AccessEntry {
  id: string;
  patientId: string;
  requester: string;
  requesterKind: string;
  institution?: string;
  roles: readonly string[];
  /** The node that relayed the request, when the requester asked through one. */
  via?: string;
  record: { id: string; resourceType: string; category?: string; date?: string; custodian: string; version: number };
  purpose: string;
  decision: 'permit' | 'deny' | 'gone';
  withheldFields: string[];
  consentUsed?: string;
  reason: string;
  emergency: boolean;
  emergencyReason?: string;
  /** Why the read happened when it is not a plain record read: `search` — the patient was found by a name or id search. */
  context?: 'search';
  time: number;
  height: number;
}

export interface AccessDecision {
  record: string;
  decision: AccessEntry['decision'];
  withheldFields: string[];
  consentUsed?: string;
  reason: string;
}

const accessKey = (pid: string, height: number, txId: string, i: number) =>
  `access/${pid}/${String(height).padStart(12, '0')}/${txId}/${String(i).padStart(3, '0')}`;

/** Roles whose holders may break the glass, for ETREAT only, with a reason. */
export const EMERGENCY_ROLE = 'emergency';
export const MAX_RECORDS_PER_REQUEST = 1000;

type Verdict = Omit<AccessDecision, 'record'>;

function decideOne(s: Signer, head: RecordHead, purpose: PurposeOfUse, emergency: boolean, consents: ReturnType<typeof consentsOf>, policy: DefaultPolicy, time: number): Verdict {
  if (head.status === 'erased') return { decision: 'gone', withheldFields: [], reason: 'the record was erased' };
  if (s.kind === 'patient' && s.subject === head.patientId) return { decision: 'permit', withheldFields: [], reason: 'the patient reads their own record' };
  if (emergency) {
    return s.kind === 'staff' && s.roles.includes(EMERGENCY_ROLE) && purpose === 'ETREAT'
      ? { decision: 'permit', withheldFields: [], reason: 'break-the-glass emergency access' }
      : { decision: 'deny', withheldFields: [], reason: 'break-the-glass needs the emergency role and purpose ETREAT' };
  }
  const req: AccessRequest = {
    requester: { did: s.did, institution: s.institution, institutionType: s.institutionType, roles: s.roles },
    patient: head.patientId,
    record: { id: head.id, resourceType: head.resourceType, category: head.category, date: head.date, custodian: head.custodian },
    purpose,
    time,
  };
  return decide(consents, req, policy);
}

const request = method({
  description:
    'Requests a read of records of one patient: each is decided by consent (or, for an emergency clinician with purpose ETREAT and a reason, ' +
    'break-the-glass) and logged — permits and denials alike — before any data is released. Returns a decision per record.',
  input: Type.Object(
    {
      patientId: PatientId,
      recordIds: Type.Array(RecordId, { minItems: 1, maxItems: MAX_RECORDS_PER_REQUEST, uniqueItems: true }),
      purpose: Purpose,
      emergency: Type.Optional(Type.Object({ reason: Type.String({ minLength: 10, maxLength: 500 }) }, { additionalProperties: false })),
      context: Type.Optional(Type.Literal('search', { description: 'the read releases demographics for a patient search' })),
      ...Relayed,
    },
    { additionalProperties: false },
  ),
  run(ctx, input) {
    if (!ctx.state.get<Patient>(idKeys.patient(input.patientId))) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${input.patientId}`);
    const heads = input.recordIds.map((id) => {
      const head = ctx.state.get<RecordHead>(recordKeys.head(id));
      // Unknown ids and other patients' ids are bad input, refused before anything is written.
      if (!head || head.patientId !== input.patientId) throw new ContractError(ContractCodes.NOT_FOUND, `no record ${id} for this patient`);
      return head;
    });
    const s = actingUser(ctx, input.onBehalfOf);
    const consents = consentsOf(ctx.state, input.patientId);
    const policy = defaultPolicy(ctx.state);
    const decisions: AccessDecision[] = heads.map((head, i) => {
      const verdict = decideOne(s, head, input.purpose, input.emergency !== undefined, consents, policy, ctx.block.time);
      const entry: AccessEntry = {
        id: ctx.tx.id,
        patientId: input.patientId,
        requester: s.did,
        requesterKind: s.kind,
        ...(s.institution ? { institution: s.institution } : {}),
        roles: s.roles,
        ...(input.onBehalfOf ? { via: ctx.signer.did } : {}),
        record: { id: head.id, resourceType: head.resourceType, category: head.category, date: head.date, custodian: head.custodian, version: head.version },
        purpose: input.purpose,
        decision: verdict.decision,
        withheldFields: verdict.withheldFields,
        ...(verdict.consentUsed ? { consentUsed: verdict.consentUsed } : {}),
        reason: verdict.reason,
        emergency: input.emergency !== undefined,
        ...(input.emergency ? { emergencyReason: input.emergency.reason } : {}),
        ...(input.context ? { context: input.context } : {}),
        time: ctx.block.time,
        height: ctx.block.height,
      };
      // The entry is written whatever the decision: a denied attempt is logged too.
      ctx.state.put(accessKey(input.patientId, ctx.block.height, ctx.tx.id, i), entry);
      return { record: head.id, ...verdict };
    });
    recordAccessFacts(ctx.state, {
      signer: s,
      patientId: input.patientId,
      purpose: input.purpose,
      emergency: input.emergency,
      outcomes: decisions.map((d): Outcome => (d.decision === 'permit' && input.emergency ? 'emergency' : d.decision)),
      txId: ctx.tx.id,
      height: ctx.block.height,
      time: ctx.block.time,
    });
    ctx.emit(input.emergency ? 'access.emergency' : 'access.logged', { patientId: input.patientId, records: decisions.length });
    return { access: ctx.tx.id, decisions };
  },
});

export const accessContract: ContractDef = {
  name: 'access',
  description: 'The access log: every read of patient data and every denied attempt, committed before data is released.',
  indexes: [
    { name: 'accessByRequester', prefix: 'access/', terms: (v) => [(v as AccessEntry).requester] },
    { name: 'emergencyAccess', prefix: 'access/', terms: (v) => ((v as AccessEntry).emergency ? ['emergency'] : []) },
  ],
  methods: { request },
  queries: {
    ...oversightQueries,
    logOf: query({
      sensitive: true,
      description: "Who accessed a patient's data, and why (oldest first; pass the last entry's `cursor` as `after` for the next page).",
      input: Type.Object({ patientId: PatientId, after: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { patientId, after, limit }) => ctx.state.range<AccessEntry>(`access/${patientId}/`, { after, limit }).map((e) => ({ ...e.value, cursor: e.key })),
    }),
    byRequester: query({
      sensitive: true,
      description: 'The accesses made by one user (for auditors).',
      input: Type.Object({ did: Type.String({ maxLength: 128 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { did, limit }) => ctx.state.byIndex<AccessEntry>('accessByRequester', did, { limit }).map((e) => e.value),
    }),
    emergencies: query({
      sensitive: true,
      description: 'Break-the-glass accesses: who, where, whose records (custodian), when, why — no record content. The node strips the patient id for the regulator (records/service.ts `emergencies`).',
      input: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { limit }) =>
        ctx.state.byIndex<AccessEntry>('emergencyAccess', 'emergency', { limit }).map(({ value: e }) => ({
          id: e.id,
          patientId: e.patientId,
          requester: e.requester,
          institution: e.institution,
          custodian: e.record.custodian,
          reason: e.emergencyReason,
          decision: e.decision,
          time: e.time,
        })),
    }),
  },
};
