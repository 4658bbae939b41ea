import { Type, type Static } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, query, type MethodDef, type QueryDef, type ReadState, type TxContext } from '../runtime.js';
import { actingUser } from '../delegation.js';
import { Id, keys as idKeys, PatientId, type Patient } from '../identity/model.js';
import { Relayed } from '../records/model.js';
import { actsForPatient, writeConsent } from './grant.js';
import { Purpose } from './model.js';
import type { PurposeOfUse } from './decision.js';

/**
 * Clinicians' access requests: a clinician asks a patient for access (what, for what purpose, for how long, with a
 * message); the patient or a guardian approves — which grants a consent with exactly those terms through the one
 * grant path — or declines; the clinician may cancel while it is pending. A request not decided by `expiresAt`
 * (block time) can no longer be approved. The message itself stays encrypted in the requester's institution's
 * vault; the ledger holds where it is and a salted hash.
 */

export const CLINICAL_ROLES = ['doctor', 'nurse', 'pharmacist', 'lab_technician'] as const;
export const DEFAULT_REQUEST_DAYS = 14;
export const MAX_REQUEST_DAYS = 90;
export const DECLINE_REASONS = ['NOT_NEEDED', 'UNKNOWN_REQUESTER', 'TOO_BROAD', 'OTHER'] as const;
const DAY_MS = 86_400_000;

export interface StoredAccessRequest {
  id: string;
  patientId: string;
  requester: string;
  institution: string;
  roles: readonly string[];
  purposes: PurposeOfUse[];
  scope: { resourceTypes?: string[]; categories?: string[] };
  /** The consent validity asked for (epoch ms); start defaults to the approval's block time. */
  period: { start?: number; end?: number };
  message?: { custodian: string; object: string; sha256: string };
  requestedAt: number;
  expiresAt: number;
  status: 'pending' | 'approved' | 'declined' | 'cancelled';
  decidedAt?: number;
  decidedBy?: string;
  /** The consent granted by the approval (its id is the approving tx's id). */
  consent?: string;
  excludeFields?: string[];
  declineReason?: (typeof DECLINE_REASONS)[number];
}

/** What queries answer: `expired` is a pending request past its `expiresAt` at the queried height. */
export type AccessRequestView = Omit<StoredAccessRequest, 'status'> & { status: StoredAccessRequest['status'] | 'expired' };

export const accessRequestKeys = {
  request: (pid: string, id: string) => `areq/${pid}/${id}`,
  ofPatient: (pid: string) => `areq/${pid}/`,
};

const RequestId = Type.String({ pattern: '^[0-9a-f]{64}$' });
const ResourceType = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}$' });
const FieldPath = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}\\.[a-z][A-Za-z0-9]{0,63}$' });

export const RequestAccessInput = Type.Object(
  {
    patientId: PatientId,
    purposes: Type.Array(Purpose, { minItems: 1, maxItems: 8, uniqueItems: true }),
    scope: Type.Object(
      {
        resourceTypes: Type.Optional(Type.Array(ResourceType, { minItems: 1, maxItems: 50, uniqueItems: true })),
        categories: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9-]{1,64}$' }), { minItems: 1, maxItems: 50, uniqueItems: true })),
      },
      { additionalProperties: false },
    ),
    period: Type.Object({ start: Type.Optional(Type.Integer({ minimum: 0 })), end: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
    message: Type.Optional(
      Type.Object({ custodian: Id, object: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }), sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
    ),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REQUEST_DAYS })),
    ...Relayed,
  },
  { additionalProperties: false },
);

/** The request, or ACCESS_REQUEST_NOT_FOUND. */
function load(state: ReadState, patientId: string, id: string): StoredAccessRequest {
  const r = state.get<StoredAccessRequest>(accessRequestKeys.request(patientId, id));
  if (!r) throw new ContractError(ContractCodes.ACCESS_REQUEST_NOT_FOUND, `no access request ${id} for this patient`);
  return r;
}

/** A pending request that has not expired at this block, or the stable code that says why not. */
function assertOpen(ctx: TxContext, r: StoredAccessRequest): void {
  if (r.status !== 'pending') throw new ContractError(ContractCodes.ACCESS_REQUEST_DECIDED, `the request was already ${r.status}`);
  if (ctx.block.time > r.expiresAt) throw new ContractError(ContractCodes.ACCESS_REQUEST_EXPIRED, 'the request expired before it was decided');
}

const Decide = { patientId: PatientId, request: RequestId };

export const accessRequestMethods: Record<string, MethodDef> = {
  requestAccess: method({
    description: 'A clinician asks a patient for access: record types or categories, purposes, the consent period, an optional message (kept encrypted off the ledger).',
    input: RequestAccessInput,
    run(ctx, input: Static<typeof RequestAccessInput>) {
      const user = actingUser(ctx, input.onBehalfOf);
      if (user.kind !== 'staff' || !user.institution || !CLINICAL_ROLES.some((r) => user.roles.includes(r))) {
        throw new ContractError(ContractCodes.FORBIDDEN, `only clinical staff (${CLINICAL_ROLES.join(', ')}) request access`);
      }
      if (!ctx.state.get<Patient>(idKeys.patient(input.patientId))) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${input.patientId}`);
      const { start, end } = input.period;
      if (end !== undefined && end <= (start ?? ctx.block.time)) throw new ContractError(ContractCodes.INVALID_ARGS, 'the period ends before it starts');
      const request: StoredAccessRequest = {
        id: ctx.tx.id,
        patientId: input.patientId,
        requester: user.did,
        institution: user.institution,
        roles: user.roles,
        purposes: input.purposes,
        scope: input.scope,
        period: input.period,
        ...(input.message ? { message: input.message } : {}),
        requestedAt: ctx.block.time,
        expiresAt: ctx.block.time + (input.expiresInDays ?? DEFAULT_REQUEST_DAYS) * DAY_MS,
        status: 'pending',
      };
      ctx.state.put(accessRequestKeys.request(input.patientId, request.id), request);
      ctx.emit('access-request.created', { patientId: input.patientId, request: request.id });
      return { request: request.id, expiresAt: request.expiresAt };
    },
  }),

  approveRequest: method({
    description: "The patient (or guardian) approves a pending request: a consent permitting the requester, with the request's terms and optionally some fields withheld, is granted.",
    input: Type.Object({ ...Decide, excludeFields: Type.Optional(Type.Array(FieldPath, { maxItems: 50, uniqueItems: true })), ...Relayed }, { additionalProperties: false }),
    run(ctx, { patientId, request: id, excludeFields, onBehalfOf }) {
      const user = actingUser(ctx, onBehalfOf);
      const r = load(ctx.state, patientId, id);
      if (!actsForPatient(ctx.state, user, patientId)) throw new ContractError(ContractCodes.NOT_YOUR_REQUEST, 'only the patient or their guardian decides this request');
      assertOpen(ctx, r);
      const consent = writeConsent(ctx, user.did, {
        patientId,
        provision: 'permit',
        actor: { kind: 'user', did: r.requester },
        purposes: r.purposes,
        scope: r.scope,
        ...(excludeFields?.length ? { excludeFields } : {}),
        period: r.period,
      });
      ctx.state.put(accessRequestKeys.request(patientId, id), {
        ...r,
        status: 'approved',
        decidedAt: ctx.block.time,
        decidedBy: user.did,
        consent,
        ...(excludeFields?.length ? { excludeFields } : {}),
      } satisfies StoredAccessRequest);
      return { request: id, status: 'approved', consent };
    },
  }),

  declineRequest: method({
    description: 'The patient (or guardian) declines a pending request, optionally with a coded reason.',
    input: Type.Object({ ...Decide, reason: Type.Optional(Type.Union(DECLINE_REASONS.map((r) => Type.Literal(r)))), ...Relayed }, { additionalProperties: false }),
    run(ctx, { patientId, request: id, reason, onBehalfOf }) {
      const user = actingUser(ctx, onBehalfOf);
      const r = load(ctx.state, patientId, id);
      if (!actsForPatient(ctx.state, user, patientId)) throw new ContractError(ContractCodes.NOT_YOUR_REQUEST, 'only the patient or their guardian decides this request');
      assertOpen(ctx, r);
      ctx.state.put(accessRequestKeys.request(patientId, id), {
        ...r,
        status: 'declined',
        decidedAt: ctx.block.time,
        decidedBy: user.did,
        ...(reason ? { declineReason: reason } : {}),
      } satisfies StoredAccessRequest);
      return { request: id, status: 'declined' };
    },
  }),

  cancelRequest: method({
    description: 'The requester withdraws a pending request.',
    input: Type.Object({ ...Decide, ...Relayed }, { additionalProperties: false }),
    run(ctx, { patientId, request: id, onBehalfOf }) {
      const user = actingUser(ctx, onBehalfOf);
      const r = load(ctx.state, patientId, id);
      if (r.requester !== user.did) throw new ContractError(ContractCodes.NOT_YOUR_REQUEST, 'only the clinician who asked may cancel the request');
      if (r.status !== 'pending') throw new ContractError(ContractCodes.ACCESS_REQUEST_DECIDED, `the request was already ${r.status}`);
      ctx.state.put(accessRequestKeys.request(patientId, id), { ...r, status: 'cancelled', decidedAt: ctx.block.time, decidedBy: user.did } satisfies StoredAccessRequest);
      return { request: id, status: 'cancelled' };
    },
  }),
};

const view = (r: StoredAccessRequest, time: number): AccessRequestView => (r.status === 'pending' && time > r.expiresAt ? { ...r, status: 'expired' } : r);

export const accessRequestIndexes = [{ name: 'accessRequestsByRequester', prefix: 'areq/', terms: (v: unknown) => [(v as StoredAccessRequest).requester] }];

export const accessRequestQueries: Record<string, QueryDef> = {
  requestsOf: query({
    sensitive: true,
    description: "A patient's access requests (oldest first), with `expired` for pending ones past their time.",
    input: Type.Object({ patientId: PatientId }, { additionalProperties: false }),
    run: (ctx, { patientId }) => ctx.state.range<StoredAccessRequest>(accessRequestKeys.ofPatient(patientId), { limit: 10_000 }).map((e) => view(e.value, ctx.block.time)),
  }),
  requestsBy: query({
    sensitive: true,
    description: 'The access requests one clinician made, and their status.',
    input: Type.Object({ did: Type.String({ maxLength: 128 }) }, { additionalProperties: false }),
    run: (ctx, { did }) => ctx.state.byIndex<StoredAccessRequest>('accessRequestsByRequester', did, { limit: 10_000 }).map((e) => view(e.value, ctx.block.time)),
  }),
};
