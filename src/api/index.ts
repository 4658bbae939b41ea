import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { MedchainNode } from '../node/index.js';
import { installErrorHandling } from './errors.js';
import { blockRoutes } from './routes/blocks.js';
import { opsRoutes } from './routes/ops.js';
import { queryRoutes } from './routes/query.js';
import { txRoutes } from './routes/txs.js';
import { FHIR_BODY_LIMIT, fhirRoutes } from './routes/fhir.js';
import { installSignedBodyParser } from './user-auth.js';
import { recordRoutes } from './routes/records.js';
import { drugRoutes } from './routes/drugs.js';
import { demoRoutes } from './routes/demo.js';
import { defaultWebRoot, webRoutes } from './routes/web.js';
import type { DemoPerson } from '../demo/index.js';
import { oversightRoutes } from './routes/oversight.js';
import { patientRoutes } from './routes/patients.js';
import { accessRequestRoutes } from './routes/access-requests.js';
import { consortiumRoutes } from './routes/consortium.js';
import { exchangeRoutes } from './routes/exchange.js';

export { statusForCode, toErrorBody } from './errors.js';

export interface ApiOptions {
  /** Fastify's logger option (false by default: the node logs what matters). */
  logger?: boolean | object;
  /** Body limit for routes without their own (bytes). */
  bodyLimit?: number;
  /** The built web application (default web/dist of this package); false serves none. */
  webRoot?: string | false;
  /** DEMO ONLY: the demo people, when the node runs the demo consortium (enables /v1/demo/…). */
  demoPeople?: readonly DemoPerson[];
}

/**
 * The node's HTTP API: REST v1, OpenAPI at /openapi.json, interactive docs at /docs, /health and /metrics.
 * Built per node (no globals); test it in-process with `app.inject()`.
 */
export async function buildApi(node: MedchainNode, options: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Reject unknown properties instead of silently dropping them; never invent defaults.
    ajv: { customOptions: { removeAdditional: false, useDefaults: false } },
  });
  // Before any route scope is registered, so that every scope sees it.
  app.decorate('usedNonces', node.usedNonces);
  let spaFallback: Parameters<typeof installErrorHandling>[1] = undefined;
  installErrorHandling(app, (request, reply) => spaFallback?.(request, reply));
  // JSON only: a text body must not reach the tx routes as a string.
  app.removeContentTypeParser('text/plain');
  const status = node.status();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'MedChain API',
        version: '0.1.0',
        description: `医链 MedChain node of ${status.consortium} (${status.institution}). Errors are \`{code, message}\` with a stable code.`,
      },
      tags: [
        { name: 'transactions', description: 'Signed transactions: submit and wait for commit, look up, prove inclusion' },
        { name: 'blocks', description: 'Blocks, head and signed checkpoints' },
        { name: 'contracts', description: 'Read-only queries and the contract catalogue' },
        { name: 'operations', description: 'Status, health and metrics' },
        { name: 'fhir', description: 'FHIR R4 facade: records, consent-checked and logged reads, search, $everything, erasure, AuditEvent and Consent' },
        { name: 'records', description: 'Record proofs and patients\' correction and erasure requests' },
        { name: 'demo', description: 'DEMO ONLY (demo consortium): demo people and their derived keys for the web application' },
        { name: 'access requests', description: 'Clinicians ask patients for access; patients approve (a consent is granted) or decline' },
        { name: 'oversight', description: 'Regulator oversight without patient data: access statistics and anomalies' },
        { name: 'drugs', description: 'Drug traceability: GS1 Digital Link resolver, verification, QR codes, EPCIS 2.0 capture and query' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  txRoutes(app, node);
  blockRoutes(app, node);
  queryRoutes(app, node);
  opsRoutes(app, node);
  consortiumRoutes(app, node);
  exchangeRoutes(app, node);
  if (options.demoPeople) demoRoutes(app, options.demoPeople);
  spaFallback = await webRoutes(app, node, options.webRoot ?? defaultWebRoot());
  // Signed-request routes parse bodies themselves (they hash the raw bytes), so they live in their own scope.
  await app.register(async (scope) => fhirRoutes(scope, node, node.records));
  await app.register(async (scope) => {
    installSignedBodyParser(scope, FHIR_BODY_LIMIT);
    recordRoutes(scope, node.records);
    drugRoutes(scope, node, node.drugs);
    oversightRoutes(scope, node.oversight);
    patientRoutes(scope, node.patients);
    accessRequestRoutes(scope, node.accessRequests, node.records);
  });
  await app.ready();
  return app;
}
