import type { FastifyInstance } from 'fastify';
import type { MedchainNode } from '../../node/index.js';

/** Node-to-node record exchange (see exchange/protocol.ts): the custodian's side. */
export function exchangeRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.post(
    '/v1/exchange/release',
    {
      schema: {
        tags: ['exchange'],
        summary: "Another member node asks for a record this node holds, against the access entry it committed (signed by that node; nonce and expiry)",
      },
    },
    async (request) => node.exchange.release(request.body),
  );
}
