import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DECLINE_REASONS, MAX_REQUEST_DAYS, PURPOSES, type AccessRequestView, type PurposeOfUse } from '../../contracts/consent/index.js';
import type { AccessRequestService, NewAccessRequest } from '../../records/access-requests.js';
import type { RecordService } from '../../records/service.js';
import { handled } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { signedUser } from '../user-auth.js';

/**
 * Clinicians' access requests (signed). Errors: ACCESS_REQUEST_NOT_FOUND (404), NOT_YOUR_REQUEST (403),
 * ACCESS_REQUEST_DECIDED (409), ACCESS_REQUEST_EXPIRED (409), FORBIDDEN (403: not clinical staff), NOT_FOUND (404:
 * no such patient), INVALID_ARGS (400).
 */

const Purpose = Type.Union(PURPOSES.map((p) => Type.Literal(p)));
const ResourceType = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}$' });
const FieldPath = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}\\.[a-z][A-Za-z0-9]{0,63}$', description: 'e.g. Patient.address' });
const Status = Type.Union(['pending', 'approved', 'declined', 'cancelled', 'expired'].map((s) => Type.Literal(s)));
const Params = Type.Object({ pid: Type.String({ pattern: '^P[A-Z2-7]{26}$' }) });
const RequestParams = Type.Object({ pid: Type.String({ pattern: '^P[A-Z2-7]{26}$' }), id: Type.String({ pattern: '^[0-9a-f]{64}$' }) });

export const AccessRequestSchema = Type.Object(
  {
    id: Type.String({ description: 'request id (the requesting tx id)' }),
    patientId: Type.String(),
    requester: Type.String({ description: "the clinician's did" }),
    institution: Type.String(),
    roles: Type.Array(Type.String()),
    purposes: Type.Array(Type.String()),
    scope: Type.Object({ resourceTypes: Type.Optional(Type.Array(Type.String())), categories: Type.Optional(Type.Array(Type.String())) }),
    period: Type.Object({ start: Type.Optional(Type.Integer()), end: Type.Optional(Type.Integer()) }, { description: 'consent validity asked for (epoch ms)' }),
    message: Type.Optional(Type.Object({ custodian: Type.String(), object: Type.String(), sha256: Type.String() })),
    messageText: Type.Optional(Type.String({ description: 'the message, when this node holds the vault it is sealed in' })),
    requestedAt: Type.Integer(),
    expiresAt: Type.Integer(),
    status: Status,
    decidedAt: Type.Optional(Type.Integer()),
    decidedBy: Type.Optional(Type.String()),
    consent: Type.Optional(Type.String({ description: 'the consent granted on approval' })),
    excludeFields: Type.Optional(Type.Array(Type.String())),
    declineReason: Type.Optional(Type.String()),
  },
  { $id: 'AccessRequest' },
);

export function accessRequestRoutes(app: FastifyInstance, requests: AccessRequestService, records: RecordService): void {
  app.addSchema(AccessRequestSchema);
  const tags = ['access requests'];
  const user = signedUser;
  const one = { 200: Type.Ref(AccessRequestSchema), ...errorResponses };
  // Every field of a decision's body is optional, so a POST without a body means `{}` (its signature covers the empty body).
  const emptyBodyIsEmptyObject = async (request: FastifyRequest) => {
    if (request.body === undefined) request.body = {};
  };
  const list = { 200: Type.Array(Type.Ref(AccessRequestSchema)), ...errorResponses };

  app.post(
    '/v1/patients/:pid/access-requests',
    {
      schema: {
        tags,
        summary: 'A clinician asks the patient for access (types or categories, purposes, consent period, message); 201 with the pending request',
        params: Params,
        body: Type.Object(
          {
            purposes: Type.Array(Purpose, { minItems: 1, maxItems: 8, uniqueItems: true }),
            resourceTypes: Type.Optional(Type.Array(ResourceType, { minItems: 1, maxItems: 50, uniqueItems: true })),
            categories: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9-]{1,64}$' }), { minItems: 1, maxItems: 50, uniqueItems: true })),
            period: Type.Optional(Type.Object({ start: Type.Optional(Type.Integer({ minimum: 0 })), end: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })),
            message: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'kept encrypted off the ledger' })),
            expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REQUEST_DAYS, description: 'default 14' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Ref(AccessRequestSchema), ...errorResponses },
      },
    },
    handled(async (request, reply) => {
      const u = user(request);
      const { pid } = request.params as { pid: string };
      records.requirePatient(pid);
      return reply.code(201).send(await requests.create(u, pid, request.body as NewAccessRequest));
    }),
  );

  app.get(
    '/v1/patients/:pid/access-requests',
    {
      schema: { tags, summary: "The patient's access requests (for the patient, guardians, an auditor where the patient is registered; not the regulator)", params: Params, querystring: Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false }), response: list },
    },
    handled(async (request) => {
      const { pid } = request.params as { pid: string };
      return requests.ofPatient(user(request).did, pid, (request.query as { status?: AccessRequestView['status'] }).status);
    }),
  );

  app.post(
    '/v1/patients/:pid/access-requests/:id/approve',
    {
      preValidation: emptyBodyIsEmptyObject,
      schema: {
        tags,
        summary: "The patient (or guardian) approves: a consent permitting the clinician with the request's terms is granted (optionally withholding fields)",
        params: RequestParams,
        body: Type.Object({ excludeFields: Type.Optional(Type.Array(FieldPath, { maxItems: 50, uniqueItems: true })) }, { additionalProperties: false }),
        response: one,
      },
    },
    handled(async (request) => {
      const { pid, id } = request.params as { pid: string; id: string };
      return requests.approve(user(request), pid, id, (request.body as { excludeFields?: string[] } | undefined)?.excludeFields);
    }),
  );

  app.post(
    '/v1/patients/:pid/access-requests/:id/decline',
    {
      preValidation: emptyBodyIsEmptyObject,
      schema: {
        tags,
        summary: 'The patient (or guardian) declines, optionally with a coded reason',
        params: RequestParams,
        body: Type.Object({ reason: Type.Optional(Type.Union(DECLINE_REASONS.map((r) => Type.Literal(r)))) }, { additionalProperties: false }),
        response: one,
      },
    },
    handled(async (request) => {
      const { pid, id } = request.params as { pid: string; id: string };
      return requests.decline(user(request), pid, id, (request.body as { reason?: string } | undefined)?.reason);
    }),
  );

  app.post(
    '/v1/patients/:pid/access-requests/:id/cancel',
    { schema: { tags, summary: 'The clinician who asked withdraws a pending request', params: RequestParams, response: one } },
    handled(async (request) => {
      const { pid, id } = request.params as { pid: string; id: string };
      return requests.cancel(user(request), pid, id);
    }),
  );

  app.get(
    '/v1/access-requests',
    {
      schema: { tags, summary: "The caller's own access requests and their status (clinicians)", querystring: Type.Object({ status: Type.Optional(Status) }, { additionalProperties: false }), response: list },
    },
    handled(async (request) => requests.mine(user(request).did, (request.query as { status?: AccessRequestView['status'] }).status)),
  );
}

export type { PurposeOfUse };
