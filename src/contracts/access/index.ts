import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, query, type ContractDef } from '../runtime.js';
import { Id, keys as idKeys, PatientId, type Patient } from '../identity/model.js';
import { consentsOf, decide, defaultPolicy, type AccessRequest } from '../consent/index.js';
import { Purpose } from '../consent/model.js';

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
  record: { id: string; resourceType: string; category?: string; date?: string; custodian: string };
  purpose: string;
  decision: 'permit' | 'deny';
  withheldFields: string[];
  consentUsed?: string;
  reason: string;
  emergency: boolean;
  emergencyReason?: string;
  time: number;
  height: number;
}

const accessKey = (pid: string, height: number, txId: string) => `access/${pid}/${String(height).padStart(12, '0')}/${txId}`;

/** Roles whose holders may break the glass, for ETREAT only, with a reason. */
export const EMERGENCY_ROLE = 'emergency';

const request = method({
  description:
    'Requests a read of one record: decided by consent (or, for an emergency clinician with purpose ETREAT and a reason, break-the-glass), ' +
    'and logged — permits and denials alike — before any data is released. Returns the decision.',
  input: Type.Object(
    {
      patientId: PatientId,
      record: Type.Object(
        {
          id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }),
          resourceType: Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}$' }),
          category: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,64}$' })),
          date: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}' })),
          custodian: Id,
        },
        { additionalProperties: false },
      ),
      purpose: Purpose,
      emergency: Type.Optional(Type.Object({ reason: Type.String({ minLength: 10, maxLength: 500 }) }, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
  run(ctx, input) {
    if (!ctx.state.get<Patient>(idKeys.patient(input.patientId))) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${input.patientId}`);
    const s = ctx.signer;
    const selfAccess = s.kind === 'patient' && s.subject === input.patientId;
    let decision: { decision: 'permit' | 'deny'; withheldFields: string[]; consentUsed?: string; reason: string };
    if (selfAccess) {
      decision = { decision: 'permit', withheldFields: [], reason: 'the patient reads their own record' };
    } else if (input.emergency) {
      const allowed = s.kind === 'staff' && s.roles.includes(EMERGENCY_ROLE) && input.purpose === 'ETREAT';
      decision = allowed
        ? { decision: 'permit', withheldFields: [], reason: 'break-the-glass emergency access' }
        : { decision: 'deny', withheldFields: [], reason: 'break-the-glass needs the emergency role and purpose ETREAT' };
    } else {
      const req: AccessRequest = {
        requester: { did: s.did, institution: s.institution, institutionType: s.institutionType, roles: s.roles },
        patient: input.patientId,
        record: input.record,
        purpose: input.purpose,
        time: ctx.block.time,
      };
      decision = decide(consentsOf(ctx.state, input.patientId), req, defaultPolicy(ctx.state));
    }
    const entry: AccessEntry = {
      id: ctx.tx.id,
      patientId: input.patientId,
      requester: s.did,
      requesterKind: s.kind,
      ...(s.institution ? { institution: s.institution } : {}),
      roles: s.roles,
      record: input.record,
      purpose: input.purpose,
      decision: decision.decision,
      withheldFields: decision.withheldFields,
      ...(decision.consentUsed ? { consentUsed: decision.consentUsed } : {}),
      reason: decision.reason,
      emergency: input.emergency !== undefined,
      ...(input.emergency ? { emergencyReason: input.emergency.reason } : {}),
      time: ctx.block.time,
      height: ctx.block.height,
    };
    // The entry is written whatever the decision: a denied attempt is logged too.
    ctx.state.put(accessKey(input.patientId, ctx.block.height, ctx.tx.id), entry);
    ctx.emit(entry.emergency ? 'access.emergency' : 'access.logged', { patientId: input.patientId, decision: entry.decision });
    return { access: entry.id, decision: entry.decision, withheldFields: entry.withheldFields, consentUsed: entry.consentUsed, reason: entry.reason };
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
    logOf: query({
      description: "Who accessed a patient's data, and why (oldest first, paged).",
      input: Type.Object({ patientId: PatientId, after: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { patientId, after, limit }) => ctx.state.range<AccessEntry>(`access/${patientId}/`, { after, limit }).map((e) => e.value),
    }),
    byRequester: query({
      description: 'The accesses made by one user (for auditors).',
      input: Type.Object({ did: Type.String({ maxLength: 128 }), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { did, limit }) => ctx.state.byIndex<AccessEntry>('accessByRequester', did, { limit }).map((e) => e.value),
    }),
    emergencies: query({
      description: 'Break-the-glass accesses, for the regulator: who, where, when, why — no record content.',
      input: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
      run: (ctx, { limit }) =>
        ctx.state.byIndex<AccessEntry>('emergencyAccess', 'emergency', { limit }).map(({ value: e }) => ({
          id: e.id,
          patientId: e.patientId,
          requester: e.requester,
          institution: e.institution,
          reason: e.emergencyReason,
          decision: e.decision,
          time: e.time,
        })),
    }),
  },
};
