import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PURPOSES, type PurposeOfUse } from '../../contracts/consent/index.js';
import { REFUSAL_REASONS, type ChangeRequest, type RecordVersion } from '../../contracts/records/model.js';
import { CodedError } from '../../ledger/index.js';
import { verifyRedacted, type RedactedCopy } from '../../records/field-proof.js';
import type { RecordService } from '../../records/service.js';
import { handled } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { signedUser } from '../user-auth.js';

/**
 * Records beyond plain FHIR: a released copy with its proof, checking a copy against the ledger, and the
 * patient's correction and erasure requests. Signed like the FHIR routes; errors are `{code, message}`.
 */
export function recordRoutes(app: FastifyInstance, records: RecordService): void {
  const user = signedUser;
  const tags = ['records'];
  const RecordIdParam = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$' }) });
  const PatientParam = Type.Object({ pid: Type.String({ pattern: '^P[A-Z2-7]{26}$' }) });

  app.get(
    '/v1/records/:id',
    {
      schema: {
        tags,
        summary: 'Read a record with its redaction proof (consent-checked and logged); verify the proof against the ledger yourself',
        params: RecordIdParam,
        querystring: Type.Object({ purpose: Type.Optional(Type.Union(PURPOSES.map((p) => Type.Literal(p)))), version: Type.Optional(Type.Integer({ minimum: 1 })) }),
        response: errorResponses,
      },
    },
    handled(async (request) => {
      const u = user(request);
      const { id } = request.params as { id: string };
      const q = request.query as { purpose?: PurposeOfUse; version?: number };
      const head = records.head(id);
      const read = await records.read(u, head.patientId, [id], q.purpose ?? records.defaultPurpose(u.did), q.version ? { versions: { [id]: q.version } } : {});
      const refused = read.refused[0];
      if (refused) throw new CodedError(refused.decision === 'gone' ? 'GONE' : 'ACCESS_DENIED', refused.reason);
      return { access: read.access, ...read.released[0]! };
    }),
  );

  app.post(
    '/v1/records/:id/verify',
    {
      schema: {
        tags,
        summary: "Check a (possibly redacted) copy against the field root the ledger holds for the record's version",
        params: RecordIdParam,
        body: Type.Object({ version: Type.Integer({ minimum: 1 }), proof: Type.Object({ resourceType: Type.String(), released: Type.Record(Type.String(), Type.Any()), withheld: Type.Record(Type.String(), Type.String()) }) }),
      },
    },
    handled(async (request) => {
      const { id } = request.params as { id: string };
      const { version, proof } = request.body as { version: number; proof: RedactedCopy };
      const meta = records.version(id, version);
      try {
        verifyRedacted(proof, meta.fieldRoot);
        return { valid: true, fieldRoot: meta.fieldRoot, withheld: Object.keys(proof.withheld) };
      } catch (err) {
        if (err instanceof CodedError && err.code === 'INTEGRITY_ERROR') return { valid: false, fieldRoot: meta.fieldRoot, reason: err.message };
        throw err;
      }
    }),
  );

  app.post(
    '/v1/records/:id/requests',
    {
      schema: {
        tags,
        summary: 'The patient (or guardian) asks the custodian to correct or erase a record; the wording stays encrypted at the custodian',
        params: RecordIdParam,
        body: Type.Object({ kind: Type.Union([Type.Literal('correction'), Type.Literal('erasure')]), details: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })) }, { additionalProperties: false }),
      },
    },
    handled(async (request, reply) => {
      const u = user(request);
      const { id } = request.params as { id: string };
      const { kind, details } = request.body as { kind: 'correction' | 'erasure'; details?: string };
      return reply.code(201).send(await records.requestChange(u, id, kind, details));
    }),
  );

  app.post(
    '/v1/requests/:request/refuse',
    {
      schema: {
        tags,
        summary: 'The custodian refuses a request with a coded reason (accepting is PUT of the corrected record with _resolves, or DELETE with request)',
        params: Type.Object({ request: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
        body: Type.Object({ reason: Type.Union(REFUSAL_REASONS.map((r) => Type.Literal(r))) }, { additionalProperties: false }),
      },
    },
    handled(async (request) => {
      const u = user(request);
      const { request: id } = request.params as { request: string };
      await records.refuseRequest(u, id, (request.body as { reason: string }).reason);
      return { request: id, status: 'refused' };
    }),
  );

  app.get(
    '/v1/requests',
    {
      schema: {
        tags,
        summary: "Requests at the caller's institution (custodian staff), with the patient's wording",
        querystring: Type.Object({ status: Type.Union([Type.Literal('open'), Type.Literal('accepted'), Type.Literal('refused')]) }),
      },
    },
    handled(async (request) => {
      const u = user(request);
      return records.requestsAtCallersInstitution(u.did, (request.query as { status: ChangeRequest['status'] }).status);
    }),
  );

  app.get(
    '/v1/patients/:pid/requests',
    { schema: { tags, summary: "A patient's correction and erasure requests and how they were resolved", params: PatientParam } },
    handled(async (request) => {
      const u = user(request);
      const { pid } = request.params as { pid: string };
      records.assertMayOversee(u.did, pid);
      return records.requestsOfPatient(pid);
    }),
  );

  app.get(
    '/v1/patients/:pid/records',
    { schema: { tags, summary: "The ledger's metadata of every record of a patient, across institutions (no content; for the patient's overview)", params: PatientParam } },
    handled(async (request) => {
      const u = user(request);
      const { pid } = request.params as { pid: string };
      records.assertMayOversee(u.did, pid);
      return records.candidates(pid);
    }),
  );

  app.get(
    '/v1/emergencies',
    {
      schema: {
        tags,
        summary:
          "Break-the-glass accesses across the consortium (who, institution, custodian, when, why, decision; no record content): auditors and the regulator. The patient id only for an auditor of the custodian institution",
      },
    },
    handled(async (request) => records.emergencies(user(request).did)),
  );

  app.get(
    '/v1/patients/:pid/access-log',
    { schema: { tags, summary: "Who accessed the patient's records, when, why and with what decision (break-the-glass flagged)", params: PatientParam } },
    handled(async (request) => {
      const u = user(request);
      const { pid } = request.params as { pid: string };
      return records.accessLog(u.did, pid);
    }),
  );
}

export type { RecordVersion };
