import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MedchainNode } from '../../node/index.js';
import { sendError } from '../errors.js';
import { CodedError } from '../../ledger/index.js';
import { errorResponses } from '../schemas.js';

export function queryRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.post(
    '/v1/query/:contract/:name',
    {
      schema: {
        tags: ['contracts'],
        summary: 'Run a read-only contract query against committed state',
        description:
          'Queries never write. `caller` (a did:key) is resolved like a signer for queries whose answer depends on who asks. ' +
          'Queries that answer about patients (consents, access log, record metadata) are refused here (403): the signed records API serves them to those allowed.',
        params: Type.Object({ contract: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }), name: Type.String({ pattern: '^[a-zA-Z][a-zA-Z0-9]{0,63}$' }) }),
        body: Type.Object(
          { args: Type.Optional(Type.Any()), caller: Type.Optional(Type.String({ maxLength: 128 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ result: Type.Any() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { contract, name } = request.params as { contract: string; name: string };
      const body = (request.body ?? {}) as { args?: unknown; caller?: string };
      try {
        if (node.runtime.isSensitiveQuery(contract, name)) {
          throw new CodedError('FORBIDDEN', `${contract}.${name} answers about patients: use the signed records API (/fhir/R4, /v1/patients/…)`);
        }
        return { result: node.query(contract, name, body.args ?? {}, body.caller) };
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.get(
    '/v1/contracts',
    {
      schema: {
        tags: ['contracts'],
        summary: 'Every contract method and query with its input schema and required roles',
        response: { 200: Type.Object({ contracts: Type.Array(Type.Any()) }) },
      },
    },
    async () => ({ contracts: node.runtime.describe() }),
  );
}
