import { CodedError } from '../ledger/errors.js';

/** A deterministic, expected failure of a contract method; `code` is stable and documented. */
export class ContractError extends CodedError {
  constructor(code: ContractCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ContractError';
  }
}

export const ContractCodes = {
  INVALID_ARGS: 'INVALID_ARGS',
  UNKNOWN_CONTRACT: 'UNKNOWN_CONTRACT',
  UNKNOWN_METHOD: 'UNKNOWN_METHOD',
  UNKNOWN_SIGNER: 'UNKNOWN_SIGNER',
  SIGNER_REVOKED: 'SIGNER_REVOKED',
  INSTITUTION_INACTIVE: 'INSTITUTION_INACTIVE',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  KEY_IN_USE: 'KEY_IN_USE',
  ALREADY_VOTED: 'ALREADY_VOTED',
  PROPOSAL_CLOSED: 'PROPOSAL_CLOSED',
  INVALID_STATE_KEY: 'INVALID_STATE_KEY',
} as const;

export type ContractCode = (typeof ContractCodes)[keyof typeof ContractCodes];
