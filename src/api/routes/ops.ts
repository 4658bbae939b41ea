import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MedchainNode } from '../../node/index.js';

const FAULT_WINDOW_MS = 60_000;

export function opsRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.get('/v1/status', { schema: { tags: ['operations'], summary: 'Node status: chain, institution, head, pending txs' } }, async () => node.status());

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and readiness: 200 ok, or 503 degraded after a commit failure in the last minute',
        response: {
          200: Type.Object({ status: Type.String(), height: Type.Integer(), pendingTxs: Type.Integer() }, { additionalProperties: true }),
          503: Type.Object({ status: Type.String(), height: Type.Integer(), pendingTxs: Type.Integer() }, { additionalProperties: true }),
        },
      },
    },
    async (_request, reply) => {
      const s = node.status();
      const degraded = s.lastFault !== undefined && Date.now() - s.lastFault.at < FAULT_WINDOW_MS;
      return reply
        .code(degraded ? 503 : 200)
        .send({ status: degraded ? 'degraded' : 'ok', height: s.head.height, pendingTxs: s.pendingTxs, ...(s.lastFault ? { lastFault: s.lastFault } : {}) });
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await node.metrics.metrics();
    return reply.type(node.metrics.contentType).send(text);
  });
}
