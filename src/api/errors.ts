import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodedError } from '../ledger/index.js';

/**
 * The one place where error codes become HTTP statuses. Every error response is `{code, message}`; nothing
 * else (no stack, no internal detail) reaches a client.
 */
const STATUS_BY_CODE: Record<string, number> = {
  // The request is wrong.
  BODY_MALFORMED: 400,
  INVALID_ARGS: 400,
  INVALID_STATE_KEY: 400,
  TX_MALFORMED: 400,
  TX_WRONG_CHAIN: 400,
  TX_VALIDITY_TOO_LONG: 400,
  INVALID_FHIR: 400,
  UNSUPPORTED_RESOURCE: 400,
  PATIENT_REFERENCE_REQUIRED: 400,
  TOO_MANY_RECORDS: 400,
  INVALID_CODE: 400,
  INVALID_EPCIS: 400,
  UNSUPPORTED_EVENT: 400,
  PRESCRIPTION_REQUIRED: 400,
  // Who signed it is not acceptable.
  TX_BAD_SIGNATURE: 401,
  UNKNOWN_SIGNER: 401,
  SIGNER_REVOKED: 401,
  UNAUTHENTICATED: 401,
  BAD_USER_REQUEST: 401,
  // Known signer, not allowed.
  FORBIDDEN: 403,
  INSTITUTION_INACTIVE: 403,
  NOT_CUSTODIAN: 403,
  NOT_HOLDER: 403,
  NOT_SHIPPED_TO_YOU: 403,
  ACCESS_DENIED: 403,
  NOT_YOUR_REQUEST: 403,
  EXCHANGE_REFUSED: 403,
  // Erased (crypto-shredded): only the tombstone remains.
  GONE: 410,
  // This node does not hold that institution's vault or key.
  NOT_HOSTED: 421,
  // Not there.
  NOT_FOUND: 404,
  UNKNOWN_CODE: 404,
  UNKNOWN_CONTRACT: 404,
  UNKNOWN_METHOD: 404,
  ACCESS_REQUEST_NOT_FOUND: 404,
  PRESCRIPTION_NOT_FOUND: 404,
  // Conflicts with the ledger as it is.
  TX_DUPLICATE: 409,
  ALREADY_EXISTS: 409,
  KEY_IN_USE: 409,
  ALREADY_VOTED: 409,
  PROPOSAL_CLOSED: 409,
  VERSION_CONFLICT: 409,
  DUPLICATE_CODE: 409,
  OUT_OF_ORDER: 409,
  ALREADY_DISPENSED: 409,
  PACK_RECALLED: 409,
  PACK_EXPIRED: 409,
  PACK_NONCONFORMANT: 409,
  PRESCRIPTION_MISMATCH: 409,
  NOT_A_PRESCRIPTION: 409,
  ACCESS_REQUEST_DECIDED: 409,
  ACCESS_REQUEST_EXPIRED: 409,
  // Well-formed but outside its validity window.
  TX_EXPIRED: 422,
  TX_NOT_YET_VALID: 422,
  // Too big.
  TX_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // The node cannot take it now.
  NODE_BUSY: 503,
  NODE_STOPPED: 503,
  COMMIT_TIMEOUT: 504,
  // Another institution's node (record exchange) could not be reached.
  EXCHANGE_UNAVAILABLE: 502,
  CONTRACT_FAILED: 500,
  // Stored ciphertext or a copy's fields do not match the ledger: reported, never served.
  INTEGRITY_ERROR: 500,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
};

export function statusForCode(code: string): number {
  return STATUS_BY_CODE[code] ?? 500;
}

export interface ErrorBody {
  code: string;
  message: string;
}

/** Maps any thrown value to a stable code and message. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof CodedError) return { code: err.code, message: err.message };
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe.validation) return { code: 'INVALID_ARGS', message: `invalid ${fe.validationContext ?? 'request'}: ${fe.message}` };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'BODY_TOO_LARGE', message: 'request body is larger than this route accepts' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'BODY_MALFORMED', message: 'request body is empty' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'BODY_MALFORMED', message: 'request body is not valid JSON' };
  }
  if (fe.statusCode === 400) return { code: 'BODY_MALFORMED', message: 'request body is not valid JSON' };
  return { code: 'INTERNAL', message: 'internal error' };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const body = toErrorBody(err);
  return reply.code(statusForCode(body.code)).send(body);
}

/** Wraps a route handler so that anything it throws is answered as `{code, message}` with the table's status. */
export function handled(fn: (request: FastifyRequest, reply: FastifyReply) => unknown) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      return await fn(request, reply);
    } catch (err) {
      return sendError(reply, err);
    }
  };
}

/** `fallback` may answer a request no route matched (the web application's client-side routes); else 404. */
export function installErrorHandling(app: FastifyInstance, fallback?: (request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined): void {
  app.setErrorHandler((err, request, reply) => {
    const body = toErrorBody(err);
    if (body.code === 'INTERNAL') request.log.error({ err }, 'unhandled error');
    return reply.code(statusForCode(body.code)).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    fallback?.(request, reply) ?? reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}
