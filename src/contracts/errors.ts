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
  /** A user request relayed by a node failed its signature, freshness or replay check. */
  BAD_USER_REQUEST: 'BAD_USER_REQUEST',
  /** A record change by an institution that does not hold the record. */
  NOT_CUSTODIAN: 'NOT_CUSTODIAN',
  /** The record was erased (crypto-shredded); only its tombstone remains. */
  GONE: 'GONE',
  /** An update based on a version that is no longer the current one. */
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  // Clinicians' access requests (contracts/consent/requests.ts).
  ACCESS_REQUEST_NOT_FOUND: 'ACCESS_REQUEST_NOT_FOUND',
  /** The caller is not the patient (or guardian) of the request, or not the clinician who made it. */
  NOT_YOUR_REQUEST: 'NOT_YOUR_REQUEST',
  ACCESS_REQUEST_DECIDED: 'ACCESS_REQUEST_DECIDED',
  ACCESS_REQUEST_EXPIRED: 'ACCESS_REQUEST_EXPIRED',
  // Drug traceability (contracts/drugs).
  UNKNOWN_CODE: 'UNKNOWN_CODE',
  DUPLICATE_CODE: 'DUPLICATE_CODE',
  NOT_HOLDER: 'NOT_HOLDER',
  OUT_OF_ORDER: 'OUT_OF_ORDER',
  NOT_SHIPPED_TO_YOU: 'NOT_SHIPPED_TO_YOU',
  ALREADY_DISPENSED: 'ALREADY_DISPENSED',
  PACK_RECALLED: 'PACK_RECALLED',
  PACK_EXPIRED: 'PACK_EXPIRED',
  PACK_NONCONFORMANT: 'PACK_NONCONFORMANT',
  UNSUPPORTED_EVENT: 'UNSUPPORTED_EVENT',
} as const;

export type ContractCode = (typeof ContractCodes)[keyof typeof ContractCodes];
