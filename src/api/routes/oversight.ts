import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OversightService } from '../../oversight/service.js';
import { handled } from '../errors.js';
import { errorResponses } from '../schemas.js';
import { signedUser } from '../user-auth.js';

/**
 * Regulator oversight (signed GETs): access statistics and anomalies without patient data. Allowed for the
 * regulator institution's staff and for auditors; others get 403 FORBIDDEN (logged by the service).
 */

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'calendar day in UTC+8 (China Standard Time), YYYY-MM-DD' });

export const CountsSchema = Type.Object(
  {
    entries: Type.Integer({ description: 'access-log entries (one per record asked for)' }),
    permit: Type.Integer(),
    deny: Type.Integer(),
    emergency: Type.Integer({ description: 'break-the-glass permits' }),
    gone: Type.Integer({ description: 'asked for an erased record' }),
  },
  { $id: 'AccessCounts' },
);

const Breakdowns = {
  requests: Type.Integer({ description: 'access requests (txs); one request may cover many records' }),
  counts: Type.Ref(CountsSchema),
  byInstitution: Type.Record(Type.String(), Type.Ref(CountsSchema), { description: "entries by the requester's institution (patients and proxies have none)" }),
  byPurpose: Type.Record(Type.String(), Type.Integer(), { description: 'entries by HL7 PurposeOfUse' }),
  byRequesterKind: Type.Record(Type.String(), Type.Integer(), { description: 'entries by requester kind (staff, patient, proxy, admin)' }),
};

export const AccessStatsSchema = Type.Object(
  {
    from: Day,
    to: Day,
    timezone: Type.Literal('+08:00'),
    totals: Type.Object(Breakdowns),
    days: Type.Array(Type.Object({ day: Day, ...Breakdowns }), { description: 'every day of the window, oldest first (zeros included)' }),
    institutions: Type.Record(Type.String(), Type.String(), { description: 'institution id → name' }),
  },
  { $id: 'AccessStats' },
);

const PersonSchema = Type.Object(
  {
    did: Type.Optional(Type.String({ description: "absent for patients and proxies (their key would identify a patient)" })),
    kind: Type.Optional(Type.String()),
    staffId: Type.Optional(Type.String()),
    name: Type.Optional(Type.String({ description: "staff member's name (consortium data)" })),
    institution: Type.Optional(Type.String()),
    institutionName: Type.Optional(Type.String()),
  },
  { $id: 'OversightPerson' },
);
const Who = { requester: Type.Ref(PersonSchema), institution: Type.Optional(Type.String()), roles: Type.Array(Type.String()) };

export const AnomaliesSchema = Type.Object(
  {
    from: Day,
    to: Day,
    thresholds: Type.Object({
      distinctPatientsPerDay: Type.Integer(),
      denialBurst: Type.Object({ count: Type.Integer(), windowMs: Type.Integer() }),
    }),
    emergencies: Type.Array(
      Type.Object({
        access: Type.String({ description: 'the access tx id' }),
        ...Who,
        time: Type.Integer(),
        day: Day,
        reason: Type.String(),
        records: Type.Integer(),
        decision: Type.Union([Type.Literal('permit'), Type.Literal('deny')]),
      }),
      { description: 'break-the-glass requests, newest first' },
    ),
    highVolumeReaders: Type.Array(
      Type.Object({ day: Day, ...Who, patients: Type.Integer({ description: 'distinct patients accessed that day' }), threshold: Type.Integer(), firstExceededAt: Type.Integer(), lastAt: Type.Integer() }),
      { description: 'users over the distinct-patients-per-day threshold, newest day first' },
    ),
    denialBursts: Type.Array(
      Type.Object({ day: Day, ...Who, start: Type.Integer(), end: Type.Integer(), denials: Type.Integer(), threshold: Type.Integer(), windowMs: Type.Integer() }),
      { description: 'bursts of denied requests by one user, newest first' },
    ),
    truncated: Type.Boolean({ description: 'a list reached `limit`; narrow the window' }),
  },
  { $id: 'Anomalies' },
);

const Counter = Type.Record(Type.String(), Type.Integer());
export const DrugsSummarySchema = Type.Object(
  {
    from: Day,
    to: Day,
    suspicious: Type.Object({
      total: Type.Integer(),
      byFinding: Type.Record(Type.String(), Type.Integer(), { description: 'unknown-code (suspected counterfeit), already-dispensed (suspected diversion), recalled, expired, temperature-excursion, destroyed' }),
      byReporter: Type.Record(Type.String(), Type.Integer(), { description: 'by the institution whose node reported the scan' }),
      byDay: Type.Array(Type.Object({ day: Day, total: Type.Integer(), byFinding: Counter }), { description: 'every day of the window' }),
      recent: Type.Array(
        Type.Object({
          id: Type.String(),
          code: Type.String({ description: 'the scanned pack code' }),
          finding: Type.String(),
          reportedBy: Type.String(),
          at: Type.Integer(),
          product: Type.Optional(Type.Object({ gtin: Type.String(), name: Type.String(), nameEn: Type.Optional(Type.String()) })),
        }),
        { description: 'the 50 most recent, newest first' },
      ),
    }),
    recalls: Type.Array(
      Type.Object({
        gtin: Type.String(),
        lot: Type.String(),
        product: Type.Optional(Type.Object({ name: Type.String(), nameEn: Type.Optional(Type.String()) })),
        reason: Type.String(),
        recalledAt: Type.Optional(Type.Integer()),
        recalledBy: Type.Optional(Type.String()),
        packsHeld: Type.Integer(),
        holders: Counter,
      }),
      { description: 'recalled batches with packs still held (active or in transit)' },
    ),
    truncated: Type.Boolean(),
  },
  { $id: 'DrugsOversight' },
);

const WindowQuery = Type.Object(
  { from: Type.Optional(Day), to: Type.Optional(Day) },
  { additionalProperties: false, description: 'defaults: the 30 days up to today (UTC+8); at most 366 days' },
);

export function oversightRoutes(app: FastifyInstance, oversight: OversightService): void {
  app.addSchema(CountsSchema);
  app.addSchema(PersonSchema);
  const tags = ['oversight'];
  const did = (request: FastifyRequest) => signedUser(request).did;

  app.get(
    '/v1/oversight/access-stats',
    {
      schema: {
        tags,
        summary: 'Access-log statistics per UTC+8 day: totals, by requesting institution, purpose, outcome (no patient data); regulator staff and auditors',
        querystring: WindowQuery,
        response: { 200: AccessStatsSchema, ...errorResponses },
      },
    },
    handled((request) => {
      const q = request.query as { from?: string; to?: string };
      return oversight.accessStats(did(request), q.from, q.to);
    }),
  );

  app.get(
    '/v1/oversight/anomalies',
    {
      schema: {
        tags,
        summary: 'Break-the-glass accesses, users reading unusually many patients in a day, bursts of denied attempts (no patient data); regulator staff and auditors',
        querystring: Type.Object({ ...WindowQuery.properties, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'per list (default 500)' })) }, { additionalProperties: false }),
        response: { 200: AnomaliesSchema, ...errorResponses },
      },
    },
    handled((request) => {
      const q = request.query as { from?: string; to?: string; limit?: number };
      return oversight.anomalies(did(request), q.from, q.to, q.limit);
    }),
  );

  app.get(
    '/v1/oversight/drugs',
    {
      schema: {
        tags,
        summary: 'Suspected counterfeits and diversions by finding, day and reporter, the most recent ones, and recalled stock still held; regulator staff and auditors',
        querystring: WindowQuery,
        response: { 200: DrugsSummarySchema, ...errorResponses },
      },
    },
    handled((request) => {
      const q = request.query as { from?: string; to?: string };
      return oversight.drugs(did(request), q.from, q.to);
    }),
  );
}
