import { ContractError, type ContractCode } from '../errors.js';

/** The drugs contract's refusal codes (each has its HTTP status in api/errors.ts). */
export const DrugErrors = {
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
  /** A `dispensing` event names no prescription record. */
  PRESCRIPTION_REQUIRED: 'PRESCRIPTION_REQUIRED',
  /** The named prescription is not on the ledger (or was erased). */
  PRESCRIPTION_NOT_FOUND: 'PRESCRIPTION_NOT_FOUND',
  /** The named record is not a FHIR MedicationRequest. */
  NOT_A_PRESCRIPTION: 'NOT_A_PRESCRIPTION',
  /** The named prescription belongs to another patient. */
  PRESCRIPTION_MISMATCH: 'PRESCRIPTION_MISMATCH',
} as const;

export function fail(code: keyof typeof DrugErrors | ContractCode, message: string): never {
  throw new ContractError(code as ContractCode, message);
}
