import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, query, type ContractDef, type ReadState, type Signer, type TxContext } from '../runtime.js';
import { keys as idKeys, PatientId, type Patient } from '../identity/model.js';
import { actingUser } from '../delegation.js';
import { assertActsForPatient } from '../consent/index.js';
import {
  ERASURE_REASONS,
  recordKeys,
  RecordId,
  RecordMeta,
  REFUSAL_REASONS,
  Relayed,
  type ChangeRequest,
  type RecordHead,
  type RecordVersion,
} from './model.js';

export * from './model.js';

/** Roles that may write records at their own institution. */
export const RECORD_AUTHOR_ROLES = ['doctor', 'nurse', 'lab_technician', 'pharmacist', 'registrar'] as const;

function custodianOf(user: Signer): string {
  const clinical = user.kind === 'admin' || (user.kind === 'staff' && RECORD_AUTHOR_ROLES.some((r) => user.roles.includes(r)));
  if (!clinical || !user.institution) {
    throw new ContractError(ContractCodes.FORBIDDEN, `records are written by clinical staff (${RECORD_AUTHOR_ROLES.join(', ')}) of the custodian`);
  }
  return user.institution;
}

export function recordHead(state: ReadState, id: string): RecordHead {
  const head = state.get<RecordHead>(recordKeys.head(id));
  if (!head) throw new ContractError(ContractCodes.NOT_FOUND, `no record ${id}`);
  return head;
}

function liveHeldBy(state: ReadState, id: string, custodian: string): RecordHead {
  const head = recordHead(state, id);
  if (head.custodian !== custodian) throw new ContractError(ContractCodes.NOT_CUSTODIAN, `record ${id} is held by ${head.custodian}`);
  if (head.status === 'erased') throw new ContractError(ContractCodes.GONE, `record ${id} was erased`);
  return head;
}

function openRequest(state: ReadState, requestId: string, recordId: string, kind: ChangeRequest['kind']): ChangeRequest {
  const req = state.get<ChangeRequest>(recordKeys.request(requestId));
  if (!req || req.recordId !== recordId || req.kind !== kind) throw new ContractError(ContractCodes.NOT_FOUND, `no ${kind} request ${requestId} for record ${recordId}`);
  if (req.status !== 'open') throw new ContractError(ContractCodes.PROPOSAL_CLOSED, `request ${requestId} is already ${req.status}`);
  return req;
}

function writeVersion(ctx: TxContext, version: RecordVersion): void {
  ctx.state.put(recordKeys.version(version.id, version.version), version);
  ctx.state.put(recordKeys.head(version.id), { ...version, status: 'current' } satisfies RecordHead);
}

const register = method({
  description: 'The custodian registers a new record (version 1): metadata, ciphertext hash and field root — never content.',
  input: Type.Object({ record: RecordMeta, ...Relayed }, { additionalProperties: false }),
  run(ctx, { record, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const custodian = custodianOf(user);
    const patient = ctx.state.get<Patient>(idKeys.patient(record.patientId));
    if (!patient) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${record.patientId}`);
    if (!patient.registrations.some((r) => r.institution === custodian)) {
      throw new ContractError(ContractCodes.FORBIDDEN, `patient is not registered at ${custodian}`);
    }
    if (ctx.state.get(recordKeys.head(record.id))) throw new ContractError(ContractCodes.ALREADY_EXISTS, `record ${record.id} exists`);
    writeVersion(ctx, { ...record, version: 1, custodian, author: user.did, registeredAt: ctx.block.time, txId: ctx.tx.id });
    ctx.emit('record.registered', { id: record.id, patientId: record.patientId, custodian, version: 1 });
    return { id: record.id, version: 1 };
  },
});

const amend = method({
  description: 'The custodian registers a new version of a record (optionally answering a correction request); the old version stays readable.',
  input: Type.Object(
    { record: RecordMeta, baseVersion: Type.Integer({ minimum: 1 }), resolves: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })), ...Relayed },
    { additionalProperties: false },
  ),
  run(ctx, { record, baseVersion, resolves, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const head = liveHeldBy(ctx.state, record.id, custodianOf(user));
    if (record.patientId !== head.patientId) throw new ContractError(ContractCodes.INVALID_ARGS, 'a new version cannot move the record to another patient');
    if (head.version !== baseVersion) throw new ContractError(ContractCodes.VERSION_CONFLICT, `record ${record.id} is at version ${head.version}, not ${baseVersion}`);
    const version = head.version + 1;
    if (resolves) {
      const req = openRequest(ctx.state, resolves, record.id, 'correction');
      ctx.state.put(recordKeys.request(resolves), { ...req, status: 'accepted', resolvedAt: ctx.block.time, resolvedBy: user.did, version } satisfies ChangeRequest);
    }
    writeVersion(ctx, {
      ...record,
      version,
      custodian: head.custodian,
      author: user.did,
      registeredAt: ctx.block.time,
      txId: ctx.tx.id,
      ...(resolves ? { resolves } : {}),
    });
    ctx.emit('record.amended', { id: record.id, version, resolves });
    return { id: record.id, version };
  },
});

const erase = method({
  description: 'The custodian erases a record: the head becomes a tombstone and the vault shreds every version (ciphertext and keys).',
  input: Type.Object(
    {
      id: RecordId,
      reason: Type.Union(ERASURE_REASONS.map((r) => Type.Literal(r))),
      request: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
      ...Relayed,
    },
    { additionalProperties: false },
  ),
  run(ctx, { id, reason, request, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const head = liveHeldBy(ctx.state, id, custodianOf(user));
    if (request) {
      const req = openRequest(ctx.state, request, id, 'erasure');
      ctx.state.put(recordKeys.request(request), { ...req, status: 'accepted', resolvedAt: ctx.block.time, resolvedBy: user.did } satisfies ChangeRequest);
    }
    ctx.state.put(recordKeys.head(id), { ...head, status: 'erased', erasedAt: ctx.block.time, erasureReason: reason } satisfies RecordHead);
    ctx.emit('record.erased', { id, custodian: head.custodian, versions: head.version });
    return { id, erasedAt: ctx.block.time, versions: head.version };
  },
});

const requestChange = method({
  description: "The patient (or guardian) asks the custodian to correct or erase a record; the wording stays in the custodian's vault.",
  input: Type.Object(
    {
      recordId: RecordId,
      kind: Type.Union([Type.Literal('correction'), Type.Literal('erasure')]),
      detailsSha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'salted commitment to the wording: SHA-256 of canonicalJson({salt, text}) (records/salted-text.ts)' })),
      ...Relayed,
    },
    { additionalProperties: false },
  ),
  run(ctx, { recordId, kind, detailsSha256, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const head = recordHead(ctx.state, recordId);
    assertActsForPatient({ ...ctx, signer: user }, head.patientId);
    if (head.status === 'erased') throw new ContractError(ContractCodes.GONE, `record ${recordId} was erased`);
    const req: ChangeRequest = {
      id: ctx.tx.id,
      recordId,
      patientId: head.patientId,
      custodian: head.custodian,
      kind,
      ...(detailsSha256 ? { detailsSha256 } : {}),
      filedBy: user.did,
      filedAt: ctx.block.time,
      status: 'open',
    };
    ctx.state.put(recordKeys.request(req.id), req);
    ctx.emit('record.changeRequested', { request: req.id, recordId, custodian: head.custodian, kind });
    return { request: req.id };
  },
});

const refuseRequest = method({
  description: 'The custodian refuses a correction or erasure request, with a coded reason the patient sees.',
  input: Type.Object(
    { request: Type.String({ pattern: '^[0-9a-f]{64}$' }), reason: Type.Union(REFUSAL_REASONS.map((r) => Type.Literal(r))), ...Relayed },
    { additionalProperties: false },
  ),
  run(ctx, { request, reason, onBehalfOf }) {
    const user = actingUser(ctx, onBehalfOf);
    const custodian = custodianOf(user);
    const req = ctx.state.get<ChangeRequest>(recordKeys.request(request));
    if (!req) throw new ContractError(ContractCodes.NOT_FOUND, `no request ${request}`);
    if (req.custodian !== custodian) throw new ContractError(ContractCodes.NOT_CUSTODIAN, `request ${request} is for ${req.custodian}`);
    if (req.status !== 'open') throw new ContractError(ContractCodes.PROPOSAL_CLOSED, `request ${request} is already ${req.status}`);
    ctx.state.put(recordKeys.request(request), { ...req, status: 'refused', refusal: reason, resolvedAt: ctx.block.time, resolvedBy: user.did } satisfies ChangeRequest);
    return { request, status: 'refused', reason };
  },
});

const Page = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) };

export const recordsContract: ContractDef = {
  name: 'records',
  description: 'Medical record metadata, versions, integrity anchors, erasure tombstones and patients\' change requests.',
  indexes: [
    { name: 'recordsByPatient', prefix: 'rec/', terms: (v) => [(v as RecordHead).patientId] },
    {
      name: 'changeRequests',
      prefix: 'recreq/',
      terms: (v) => {
        const r = v as ChangeRequest;
        return [`patient:${r.patientId}`, `custodian:${r.custodian}:${r.status}`];
      },
    },
  ],
  methods: { register, amend, erase, requestChange, refuseRequest },
  queries: {
    get: query({
      sensitive: true,
      description: "A record's current metadata (or its tombstone).",
      input: Type.Object({ id: RecordId }, { additionalProperties: false }),
      run: (ctx, { id }) => recordHead(ctx.state, id),
    }),
    version: query({
      sensitive: true,
      description: 'One version of a record.',
      input: Type.Object({ id: RecordId, version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      run: (ctx, { id, version }) => {
        const v = ctx.state.get<RecordVersion>(recordKeys.version(id, version));
        if (!v) throw new ContractError(ContractCodes.NOT_FOUND, `no version ${version} of record ${id}`);
        return v;
      },
    }),
    versions: query({
      sensitive: true,
      description: 'Every version of a record, oldest first.',
      input: Type.Object({ id: RecordId }, { additionalProperties: false }),
      run: (ctx, { id }) => ctx.state.range<RecordVersion>(recordKeys.versions(id), { limit: 10_000 }).map((e) => e.value),
    }),
    ofPatient: query({
      sensitive: true,
      description: "Every record of a patient across institutions (metadata and tombstones).",
      input: Type.Object({ patientId: PatientId, ...Page }, { additionalProperties: false }),
      run: (ctx, { patientId, limit }) => ctx.state.byIndex<RecordHead>('recordsByPatient', patientId, { limit: limit ?? 10_000 }).map((e) => e.value),
    }),
    requestsOfPatient: query({
      sensitive: true,
      description: "A patient's correction and erasure requests.",
      input: Type.Object({ patientId: PatientId, ...Page }, { additionalProperties: false }),
      run: (ctx, { patientId, limit }) => ctx.state.byIndex<ChangeRequest>('changeRequests', `patient:${patientId}`, { limit: limit ?? 1000 }).map((e) => e.value),
    }),
    requestsAt: query({
      sensitive: true,
      description: 'Requests waiting at (or resolved by) a custodian.',
      input: Type.Object(
        { custodian: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }), status: Type.Union(['open', 'accepted', 'refused'].map((s) => Type.Literal(s))), ...Page },
        { additionalProperties: false },
      ),
      run: (ctx, { custodian, status, limit }) =>
        ctx.state.byIndex<ChangeRequest>('changeRequests', `custodian:${custodian}:${status}`, { limit: limit ?? 1000 }).map((e) => e.value),
    }),
  },
};
