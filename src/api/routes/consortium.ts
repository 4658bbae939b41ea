import type { FastifyInstance } from 'fastify';
import type { MedchainNode } from '../../node/index.js';

export function consortiumRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.get(
    '/v1/consortium/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Consortium health: every node with its signed height and lag, and whether all signed checkpoints agree (fork / tamper alarm)',
      },
    },
    async () => node.consortiumHealth(),
  );
}
