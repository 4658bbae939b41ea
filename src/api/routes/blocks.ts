import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { CodedError, LedgerCodes } from '../../ledger/index.js';
import type { MedchainNode } from '../../node/index.js';
import { sendError } from '../errors.js';
import { errorResponses, Height } from '../schemas.js';

const HeadSchema = Type.Object({ height: Type.Integer(), hash: Type.String(), stateHash: Type.String(), time: Type.Integer() });

export function blockRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.get('/v1/head', { schema: { tags: ['blocks'], summary: 'The committed head', response: { 200: HeadSchema } } }, async () => node.ledger.head());

  app.get(
    '/v1/blocks',
    {
      schema: {
        tags: ['blocks'],
        summary: 'Block headers, newest first (or from a height downwards)',
        querystring: Type.Object({ from: Type.Optional(Height), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
        response: { 200: Type.Object({ blocks: Type.Array(Type.Any()) }), ...errorResponses },
      },
    },
    async (request) => {
      const { from, limit = 20 } = request.query as { from?: number; limit?: number };
      const top = Math.min(from ?? node.ledger.head().height, node.ledger.head().height);
      const blocks = [];
      for (let h = top; h >= 0 && blocks.length < limit; h--) {
        const b = node.ledger.store.getBlock(h);
        if (b) blocks.push({ height: h, hash: b.hash, header: b.header });
      }
      return { blocks };
    },
  );

  app.get(
    '/v1/blocks/:height',
    {
      schema: {
        tags: ['blocks'],
        summary: 'A block: header and its transactions (ids and results)',
        params: Type.Object({ height: Height }),
        response: { 200: Type.Any(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { height } = request.params as { height: number };
      const block = node.ledger.store.getBlock(height);
      if (!block) return sendError(reply, new CodedError(LedgerCodes.NOT_FOUND, `no block at height ${height}`));
      const txs = node.ledger.store.blockTxs(height).map((t) => {
        const body = JSON.parse(t.body) as { tx: { contract: string; method: string; signer: string } };
        return { id: t.id, index: t.index, contract: body.tx.contract, method: body.tx.method, signer: body.tx.signer, result: JSON.parse(t.result) };
      });
      return { height, hash: block.hash, header: block.header, txs };
    },
  );

  app.get(
    '/v1/checkpoints',
    {
      schema: {
        tags: ['blocks'],
        summary: "This node's signed checkpoints {height, blockHash, stateHash}, newest first",
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
        response: { 200: Type.Object({ checkpoints: Type.Array(Type.Any()) }), ...errorResponses },
      },
    },
    async (request) => ({ checkpoints: node.ledger.checkpoints((request.query as { limit?: number }).limit ?? 100) }),
  );
}
