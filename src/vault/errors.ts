import { CodedError } from '../ledger/errors.js';

/** Raised when ciphertext, a wrapped key or a stream does not authenticate: it was changed, truncated or reordered. */
export class IntegrityError extends CodedError {
  constructor(message: string) {
    super('INTEGRITY_ERROR', message);
    this.name = 'IntegrityError';
  }
}
