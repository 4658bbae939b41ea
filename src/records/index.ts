export { commitFields, redact, verifyRedacted, fieldDigest, type FieldCommitment, type RedactedCopy } from './field-proof.js';
