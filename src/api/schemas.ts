import { Type } from '@sinclair/typebox';

/** Response and parameter schemas shared by the routes (also what /openapi.json documents). */

export const ErrorBody = Type.Object(
  { code: Type.String({ description: 'stable machine-readable error code' }), message: Type.String() },
  { $id: 'Error', description: 'every error response' },
);

export const TxResult = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    code: Type.Optional(Type.String()),
    message: Type.Optional(Type.String()),
    result: Type.Optional(Type.Any()),
    events: Type.Optional(Type.Array(Type.Any())),
  },
  { additionalProperties: true },
);

export const Receipt = Type.Object({
  id: Type.String({ description: 'tx id: sha256 of the canonical envelope (hex)' }),
  height: Type.Integer(),
  index: Type.Integer({ description: 'position of the tx in its block' }),
  blockHash: Type.String(),
  result: TxResult,
});

export const TxId = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'tx id (64 lowercase hex)' });
export const Height = Type.Integer({ minimum: 0 });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
  422: ErrorBody,
  503: ErrorBody,
  504: ErrorBody,
};

/** A refused tx: the error, plus its receipt when it was committed as invalid. */
export const RefusedTx = Type.Object({
  code: Type.String(),
  message: Type.String(),
  receipt: Type.Optional(Receipt),
});

export const txErrorResponses = Object.fromEntries(Object.keys(errorResponses).map((status) => [status, RefusedTx])) as {
  [status in keyof typeof errorResponses]: typeof RefusedTx;
};
