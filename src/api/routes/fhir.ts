import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { UserRequest } from '../../contracts/delegation.js';
import type { PurposeOfUse } from '../../contracts/consent/index.js';
import { PURPOSES } from '../../contracts/consent/index.js';
import { ERASURE_REASONS, type RecordHead, type RecordVersion } from '../../contracts/records/model.js';
import { CodedError } from '../../ledger/index.js';
import type { MedchainNode } from '../../node/index.js';
import { searchBundle } from '../../fhir/bundle.js';
import { FhirInputError, outcomeOf, RECORD_TYPES, resourcesOfBundle } from '../../fhir/validate.js';
import type { ReadOutcome, RecordService, ReleasedRecord } from '../../records/service.js';
import { statusForCode, toErrorBody } from '../errors.js';
import { installSignedBodyParser, signedUser } from '../user-auth.js';

/**
 * The FHIR R4 facade (/fhir/R4). Every request is signed by its user (see user-auth.ts); every read goes through
 * the record service, which commits the access entry before it decrypts. Errors are OperationOutcomes with the
 * same status table as the rest of the API, and the stable code in `issue[0].details.coding`.
 */

export const FHIR_BODY_LIMIT = 8 * 1024 * 1024;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const TYPE_PATTERN = `^(${RECORD_TYPES.join('|')})$`;
const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$';

const ISSUE_BY_STATUS: Record<number, OperationOutcome['issue'][number]['code']> = {
  400: 'invalid',
  401: 'login',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  410: 'deleted',
  413: 'too-costly',
  421: 'not-supported',
};

export function operationOutcomeOf(err: unknown): { status: number; outcome: OperationOutcome } {
  const body = toErrorBody(err);
  const status = statusForCode(body.code);
  const base = err instanceof FhirInputError ? err.outcome : outcomeOf(ISSUE_BY_STATUS[status] ?? 'exception', body.message);
  const outcome: OperationOutcome = {
    ...base,
    issue: base.issue.map((i, n) => (n === 0 ? { ...i, details: { ...i.details, coding: [{ system: 'urn:medchain:error', code: body.code }] } } : i)),
  };
  return { status, outcome };
}

function sendOutcome(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, outcome } = operationOutcomeOf(err);
  return reply.code(status).type(FHIR_JSON).send(outcome);
}

/** meta.extension naming one element a consent withheld from this copy (e.g. `Patient.address`). */
export const WITHHELD_FIELD_EXTENSION = 'urn:medchain:fhir:withheld-field';

/** The resource as released: its version, and a REDACTED security label when elements were withheld. */
export function asFhir(r: ReleasedRecord): Record<string, unknown> {
  const meta = { ...((r.resource['meta'] as object | undefined) ?? {}), versionId: String(r.meta.version), lastUpdated: new Date(r.meta.registeredAt).toISOString() };
  // Which elements the consent withheld, so a reader can tell "not recorded" from "hidden by the patient".
  const security = r.withheld.length
    ? {
        security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED' }],
        extension: r.withheld.map((field) => ({ url: WITHHELD_FIELD_EXTENSION, valueString: field })),
      }
    : {};
  return { ...r.resource, meta: { ...meta, ...security } };
}

function refusedOutcome(read: ReadOutcome): OperationOutcome | undefined {
  if (read.refused.length === 0) return undefined;
  return {
    resourceType: 'OperationOutcome',
    issue: read.refused.map((r) => ({
      severity: 'warning',
      code: r.decision === 'gone' ? 'deleted' : 'forbidden',
      details: { text: `${r.id}: ${r.reason}` },
    })),
  };
}

export function fhirRoutes(app: FastifyInstance, node: MedchainNode, records: RecordService): void {
  installSignedBodyParser(app, FHIR_BODY_LIMIT);
  app.setErrorHandler((err, _request, reply) => sendOutcome(reply, err));

  const user = signedUser;
  const purposeOf = (request: FastifyRequest, u: UserRequest): PurposeOfUse => {
    const asked = (request.query as { _purpose?: string })._purpose;
    if (asked !== undefined) {
      if (!(PURPOSES as readonly string[]).includes(asked)) throw new CodedError('INVALID_ARGS', `_purpose must be one of ${PURPOSES.join(', ')}`);
      return asked as PurposeOfUse;
    }
    return records.defaultPurpose(u.did);
  };
  const emergencyOf = (request: FastifyRequest) => (request.query as { _emergency?: string })._emergency;
  const base = (request: FastifyRequest) => `${request.protocol}://${request.headers.host ?? '127.0.0.1'}/fhir/R4`;
  const handle =
    <T>(fn: (request: FastifyRequest, reply: FastifyReply) => Promise<T>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        const result = await fn(request, reply);
        if (!reply.sent) reply.type(FHIR_JSON);
        return result;
      } catch (err) {
        return sendOutcome(reply, err);
      }
    };
  const TypeParam = Type.Object({ type: Type.String({ pattern: TYPE_PATTERN }) });
  const TypeIdParam = Type.Object({ type: Type.String({ pattern: TYPE_PATTERN }), id: Type.String({ pattern: ID_PATTERN }) });
  const readQuery = { _purpose: Type.Optional(Type.String()), _emergency: Type.Optional(Type.String({ maxLength: 500 })) };
  const tags = ['fhir'];

  app.get('/fhir/R4/metadata', { schema: { tags, summary: 'CapabilityStatement' } }, async (_request, reply) =>
    reply.type(FHIR_JSON).send({
      resourceType: 'CapabilityStatement',
      status: 'active',
      kind: 'instance',
      fhirVersion: '4.0.1',
      format: ['application/fhir+json'],
      date: new Date(node.status().startedAt).toISOString(),
      rest: [
        {
          mode: 'server',
          security: { description: 'Every request is signed by its user: Authorization: MedChain did, ts, nonce, sig. Reads are decided by consent and logged on the ledger.' },
          resource: RECORD_TYPES.map((type) => ({
            type,
            interaction: ['read', 'vread', 'update', 'create', 'delete', 'history-instance', 'search-type'].map((code) => ({ code })),
            searchParam: ['patient', 'category', 'code', 'date'].map((name) => ({ name, type: name === 'date' ? 'date' : name === 'patient' ? 'reference' : 'token' })),
          })),
          operation: [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }],
        },
      ],
    }),
  );

  app.post(
    '/fhir/R4',
    { schema: { tags, summary: 'Import a Bundle (transaction, batch or collection) of records; one entry response each' } },
    handle(async (request, reply) => {
      const u = user(request);
      const resources = resourcesOfBundle(request.body);
      // Each entry is its own record; one bad entry does not undo the others (batch semantics), and says why.
      const entry = [];
      for (const [part, resource] of resources.entries()) {
        try {
          const v = await records.write({ ...u, part }, resource);
          entry.push({ response: { status: v.version === 1 ? '201 Created' : '200 OK', location: `${v.resourceType}/${v.id}/_history/${v.version}`, etag: `W/"${v.version}"` } });
        } catch (err) {
          const { status, outcome } = operationOutcomeOf(err);
          entry.push({ response: { status: String(status), outcome } });
        }
      }
      return reply.type(FHIR_JSON).send({ resourceType: 'Bundle', type: 'batch-response', entry });
    }),
  );

  const write = async (request: FastifyRequest, reply: FastifyReply, id?: string) => {
    const u = user(request);
    const { type } = request.params as { type: string };
    const body = request.body as Record<string, unknown> | undefined;
    if (!body || body['resourceType'] !== type) throw new FhirInputError(outcomeOf('invalid', `the body must be a ${type} resource`));
    if (id !== undefined && body['id'] !== id) throw new FhirInputError(outcomeOf('invalid', 'the resource id must match the URL'));
    if (id === undefined && body['id'] !== undefined) throw new FhirInputError(outcomeOf('invalid', 'create assigns the id: use PUT to write a known id'));
    const ifMatch = /^W\/"(\d+)"$/.exec(String(request.headers['if-match'] ?? ''));
    const resolves = (request.query as { _resolves?: string })._resolves;
    const v = await records.write(u, body, { ...(ifMatch ? { baseVersion: Number(ifMatch[1]) } : {}), ...(resolves ? { resolves } : {}) });
    return reply
      .code(v.version === 1 ? 201 : 200)
      .header('location', `${base(request)}/${v.resourceType}/${v.id}/_history/${v.version}`)
      .header('etag', `W/"${v.version}"`)
      .type(FHIR_JSON)
      .send({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: `${v.resourceType}/${v.id} version ${v.version} stored and registered` } }] });
  };
  app.post('/fhir/R4/:type', { schema: { tags, summary: 'Create a record', params: TypeParam } }, handle((request, reply) => write(request, reply)));
  app.put(
    '/fhir/R4/:type/:id',
    { schema: { tags, summary: 'Update (new version) or create with a known id; If-Match: W/"n" for optimistic locking; _resolves=<request> answers a correction request', params: TypeIdParam } },
    handle((request, reply) => write(request, reply, (request.params as { id: string }).id)),
  );

  /** Reads one record by id (optionally a version), through the access log; a denial answers 403, an erasure 410. */
  const readOne = async (request: FastifyRequest, reply: FastifyReply, version?: number) => {
    const u = user(request);
    const { type, id } = request.params as { type: string; id: string };
    const head = records.head(id);
    if (head.resourceType !== type) throw new CodedError('NOT_FOUND', `no ${type}/${id}`);
    const read = await records.read(u, head.patientId, [id], purposeOf(request, u), {
      ...(emergencyOf(request) ? { emergencyReason: emergencyOf(request)! } : {}),
      ...(version ? { versions: { [id]: version } } : {}),
    });
    const refused = read.refused[0];
    if (refused) throw new CodedError(refused.decision === 'gone' ? 'GONE' : 'ACCESS_DENIED', `${type}/${id}: ${refused.reason}`);
    const released = read.released[0]!;
    return reply.header('etag', `W/"${released.meta.version}"`).type(FHIR_JSON).send(asFhir(released));
  };
  app.get('/fhir/R4/:type/:id', { schema: { tags, summary: 'Read a record (consent-checked, logged)', params: TypeIdParam, querystring: Type.Object(readQuery) } }, handle((request, reply) => readOne(request, reply)));
  app.get(
    '/fhir/R4/:type/:id/_history/:vid',
    { schema: { tags, summary: 'Read one version (vread)', params: Type.Object({ ...TypeIdParam.properties, vid: Type.String({ pattern: '^[1-9][0-9]{0,8}$' }) }), querystring: Type.Object(readQuery) } },
    handle((request, reply) => readOne(request, reply, Number((request.params as { vid: string }).vid))),
  );
  app.get(
    '/fhir/R4/:type/:id/_history',
    { schema: { tags, summary: "A record's version history (each version released under one access decision)", params: TypeIdParam, querystring: Type.Object(readQuery) } },
    handle(async (request, reply) => {
      const u = user(request);
      const { type, id } = request.params as { type: string; id: string };
      const head = records.head(id);
      if (head.resourceType !== type) throw new CodedError('NOT_FOUND', `no ${type}/${id}`);
      const read = await records.read(u, head.patientId, [id], purposeOf(request, u), { allVersions: true });
      const refused = read.refused[0];
      if (refused) throw new CodedError(refused.decision === 'gone' ? 'GONE' : 'ACCESS_DENIED', `${type}/${id}: ${refused.reason}`);
      return reply.type(FHIR_JSON).send(searchBundle(read.released.map(asFhir).reverse(), base(request), 'history'));
    }),
  );

  const search = async (request: FastifyRequest, reply: FastifyReply, patientId: string, types?: string[]) => {
    const u = user(request);
    const q = request.query as { category?: string; code?: string; date?: string | string[]; _count?: string };
    const dates = q.date === undefined ? [] : Array.isArray(q.date) ? q.date : [q.date];
    const filter: { types?: string[]; category?: string; code?: string; from?: string; to?: string } = { ...(types ? { types } : {}) };
    if (q.category) filter.category = q.category.toLowerCase();
    if (q.code) filter.code = q.code;
    for (const d of dates) {
      const m = /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})$/.exec(d);
      if (!m) throw new CodedError('INVALID_ARGS', `date must be [eq|ge|le]YYYY-MM-DD, got ${d}`);
      const [, prefix = 'eq', day] = m;
      if (prefix === 'eq' || prefix === 'ge' || prefix === 'gt') filter.from = day!;
      if (prefix === 'eq' || prefix === 'le' || prefix === 'lt') filter.to = day!;
    }
    records.requirePatient(patientId);
    const count = q._count ? Math.min(Number(q._count) || 100, 1000) : 1000;
    const candidates = records.candidates(patientId, filter).filter((r) => r.status !== 'erased').slice(0, count);
    const read = await records.read(u, patientId, candidates.map((c) => c.id), purposeOf(request, u), emergencyOf(request) ? { emergencyReason: emergencyOf(request)! } : {});
    return reply.type(FHIR_JSON).send(searchBundle(read.released.map(asFhir), base(request), 'searchset', refusedOutcome(read)));
  };
  app.get(
    '/fhir/R4/:type',
    {
      schema: {
        tags,
        summary: 'Search records of one patient by type, category, code and date (each match consent-checked and logged)',
        params: TypeParam,
        querystring: Type.Object({
          patient: Type.String({ pattern: '^(Patient/)?P[A-Z2-7]{26}$' }),
          category: Type.Optional(Type.String({ maxLength: 64 })),
          code: Type.Optional(Type.String({ maxLength: 264 })),
          date: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 2 })])),
          _count: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })),
          ...readQuery,
        }),
      },
    },
    handle((request, reply) => {
      const { type } = request.params as { type: string };
      const patient = (request.query as { patient: string }).patient.replace(/^Patient\//, '');
      return search(request, reply, patient, [type]);
    }),
  );
  app.get(
    '/fhir/R4/Patient/:pid/$everything',
    {
      schema: {
        tags,
        summary: 'Everything held about a patient, across institutions, as one Bundle (the patient\'s export); refused and erased records are listed in an OperationOutcome entry',
        params: Type.Object({ pid: Type.String({ pattern: '^P[A-Z2-7]{26}$' }) }),
        querystring: Type.Object(readQuery),
      },
    },
    handle((request, reply) => search(request, reply, (request.params as { pid: string }).pid)),
  );

  app.delete(
    '/fhir/R4/:type/:id',
    {
      schema: {
        tags,
        summary: 'Erase a record at its custodian (crypto-shredding; a tombstone stays on the ledger)',
        params: TypeIdParam,
        querystring: Type.Object({ reason: Type.Union(ERASURE_REASONS.map((r) => Type.Literal(r))), request: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })) }),
      },
    },
    handle(async (request, reply) => {
      const u = user(request);
      const { type, id } = request.params as { type: string; id: string };
      if (records.head(id).resourceType !== type) throw new CodedError('NOT_FOUND', `no ${type}/${id}`);
      const q = request.query as { reason: (typeof ERASURE_REASONS)[number]; request?: string };
      const erased = await records.erase(u, id, q.reason, q.request);
      return reply.type(FHIR_JSON).send({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'information', code: 'informational', details: { text: `${type}/${id}: ${erased.versions} version(s) crypto-shredded` } }],
      });
    }),
  );

  app.get(
    '/fhir/R4/AuditEvent',
    { schema: { tags, summary: "A patient's access log as AuditEvents (IHE BALP): for the patient, their guardian and an auditor where the patient is registered (not the regulator)", querystring: Type.Object({ patient: Type.String({ pattern: '^(Patient/)?P[A-Z2-7]{26}$' }) }) } },
    handle(async (request, reply) => {
      const u = user(request);
      const patientId = (request.query as { patient: string }).patient.replace(/^Patient\//, '');
      return reply.type(FHIR_JSON).send(searchBundle(records.auditEvents(u.did, patientId), base(request)));
    }),
  );
  app.get(
    '/fhir/R4/Consent',
    { schema: { tags, summary: "A patient's consents as FHIR Consent resources", querystring: Type.Object({ patient: Type.String({ pattern: '^(Patient/)?P[A-Z2-7]{26}$' }) }) } },
    handle(async (request, reply) => {
      const u = user(request);
      const patientId = (request.query as { patient: string }).patient.replace(/^Patient\//, '');
      return reply.type(FHIR_JSON).send(searchBundle(records.consents(u.did, patientId), base(request)));
    }),
  );
}

export type { RecordHead, RecordVersion };
