import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CodedError, LedgerCodes, SignedTxSchema, type Receipt as LedgerReceipt } from '../../ledger/index.js';
import type { MedchainNode } from '../../node/index.js';
import { sendError, statusForCode, toErrorBody } from '../errors.js';
import { errorResponses, Receipt, TxId, txErrorResponses } from '../schemas.js';

// The ledger validates signed txs itself, byte for byte: Fastify must not coerce, strip or default anything in
// them (that would break the signature), so tx bodies are documented here but not validated by Fastify.
const acceptAsIs = () => (value: unknown) => ({ value });

const SUBMIT_DESCRIPTION = `Submits a signed transaction and waits until its block is durably committed.

* **200**: committed and applied; the receipt says where.
* **4xx with \`receipt\`**: committed, but the contract refused it (e.g. \`FORBIDDEN\` for a wrong role). The tx is in
  the ledger, recorded as invalid with its error code; it changed no state.
* **4xx without \`receipt\`**: refused at admission (malformed, bad signature, replay, expired, unknown method,
  invalid arguments, too large...). Nothing was written.`;

function receiptReply(receipt: LedgerReceipt): { status: number; body: unknown } {
  if (receipt.result.status === 'ok') return { status: 200, body: receipt };
  return { status: statusForCode(receipt.result.code), body: { code: receipt.result.code, message: receipt.result.message, receipt } };
}

export function txRoutes(app: FastifyInstance, node: MedchainNode): void {
  const txBodyLimit = node.limits.maxTxBytes * 2 + 1024;

  app.post(
    '/v1/txs',
    {
      bodyLimit: txBodyLimit,
      validatorCompiler: acceptAsIs,
      schema: {
        tags: ['transactions'],
        summary: 'Submit a signed transaction and wait for its commit',
        description: SUBMIT_DESCRIPTION,
        body: SignedTxSchema,
        response: {
          200: Receipt,
          ...txErrorResponses,
        },
      },
    },
    async (request, reply) => {
      try {
        const { status, body } = receiptReply(await node.submit(request.body));
        // The status comes from the error-code table, so it is not one of the literal keys Fastify infers.
        return (reply as FastifyReply).code(status).send(body);
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  app.post(
    '/v1/txs/batch',
    {
      bodyLimit: 32 * 1024 * 1024,
      validatorCompiler: acceptAsIs,
      schema: {
        tags: ['transactions'],
        summary: 'Submit up to 1000 signed transactions; each gets its receipt or error, in order',
        body: Type.Object({ txs: Type.Array(SignedTxSchema, { minItems: 1, maxItems: 1000 }) }),
        response: {
          200: Type.Object({ receipts: Type.Array(Type.Any()) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const txs = (request.body as { txs?: unknown } | null)?.txs;
      if (!Array.isArray(txs) || txs.length === 0 || txs.length > 1000) {
        return sendError(reply, new CodedError('INVALID_ARGS', 'body must be {"txs": [...]} with 1 to 1000 signed transactions'));
      }
      const receipts = await Promise.all(
        txs.map((tx) =>
          node.submit(tx).then(
            (r) => (r.result.status === 'ok' ? r : { code: r.result.code, message: r.result.message, receipt: r }),
            (err: unknown) => toErrorBody(err),
          ),
        ),
      );
      return { receipts };
    },
  );

  app.get(
    '/v1/txs/:id',
    {
      schema: {
        tags: ['transactions'],
        summary: 'A committed transaction with its result',
        params: Type.Object({ id: TxId }),
        response: {
          200: Type.Object({ id: Type.String(), height: Type.Integer(), index: Type.Integer(), tx: Type.Any(), result: Type.Any() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const stored = node.ledger.store.getTx(id);
      if (!stored) return sendError(reply, new CodedError(LedgerCodes.NOT_FOUND, `no transaction ${id}`));
      return { id, height: stored.height, index: stored.index, tx: JSON.parse(stored.body), result: JSON.parse(stored.result) };
    },
  );

  app.get(
    '/v1/txs/:id/proof',
    {
      schema: {
        tags: ['transactions'],
        summary: "RFC 6962 inclusion proof of a transaction in its block's txRoot",
        params: Type.Object({ id: TxId }),
        response: {
          200: Type.Object({
            txId: Type.String(),
            height: Type.Integer(),
            index: Type.Integer(),
            treeSize: Type.Integer(),
            path: Type.Array(Type.String()),
            txRoot: Type.String(),
            blockHash: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      try {
        return node.ledger.proof((request.params as { id: string }).id);
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );
}
