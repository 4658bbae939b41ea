/**
 * Every failure that crosses a module boundary carries a stable, machine-readable code.
 * The API maps codes to HTTP statuses in exactly one place (api/errors.ts).
 */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'CodedError';
  }
}

/** Codes raised by the ledger core itself (admission, sequencing, storage, verification). */
export const LedgerCodes = {
  TX_MALFORMED: 'TX_MALFORMED',
  TX_TOO_LARGE: 'TX_TOO_LARGE',
  TX_BAD_SIGNATURE: 'TX_BAD_SIGNATURE',
  TX_WRONG_CHAIN: 'TX_WRONG_CHAIN',
  TX_EXPIRED: 'TX_EXPIRED',
  TX_NOT_YET_VALID: 'TX_NOT_YET_VALID',
  TX_VALIDITY_TOO_LONG: 'TX_VALIDITY_TOO_LONG',
  TX_DUPLICATE: 'TX_DUPLICATE',
  UNKNOWN_CONTRACT: 'UNKNOWN_CONTRACT',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  INVALID_ARGS: 'INVALID_ARGS',
  NODE_BUSY: 'NODE_BUSY',
  NODE_STOPPED: 'NODE_STOPPED',
  COMMIT_TIMEOUT: 'COMMIT_TIMEOUT',
  NOT_FOUND: 'NOT_FOUND',
  INTERNAL: 'INTERNAL',
} as const;

export type LedgerCode = (typeof LedgerCodes)[keyof typeof LedgerCodes];
