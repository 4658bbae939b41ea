import { Type, type Static } from '@sinclair/typebox';
import { PatientId } from '../identity/model.js';
import { UserRequest } from '../delegation.js';

/**
 * What the ledger knows of a medical record: metadata and integrity anchors, never content. The content is a
 * FHIR resource encrypted in the custodian's vault; `ciphertextSha256` pins the exact ciphertext and `fieldRoot`
 * the salted per-field digests (records/field-proof.ts), so any copy — whole or redacted — can be checked here.
 */

/** Record ids are FHIR logical ids, unique across the consortium (the custodian's node assigns them). */
export const RecordId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$' });
const Hex64 = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const Coding = Type.Object(
  { system: Type.String({ pattern: '^(https?|urn):[^\\s]{1,200}$' }), code: Type.String({ pattern: '^[^\\s]{1,64}$' }) },
  { additionalProperties: false },
);

/** The metadata a custodian registers for one version. */
export const RecordMeta = Type.Object(
  {
    id: RecordId,
    patientId: PatientId,
    resourceType: Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}$' }),
    category: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,64}$' })),
    /** LOINC / ICD-10 / SNOMED codes: system and code only, no free text. */
    codes: Type.Array(Coding, { maxItems: 20 }),
    /** Clinical date, day precision. */
    date: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' })),
    ciphertextSha256: Hex64,
    fieldRoot: Hex64,
    bytes: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type RecordMeta = Static<typeof RecordMeta>;

export const Relayed = { onBehalfOf: Type.Optional(UserRequest) };

export interface RecordVersion extends RecordMeta {
  version: number;
  custodian: string;
  author: string;
  registeredAt: number;
  txId: string;
  /** The change request this version answers (a correction), if any. */
  resolves?: string;
}

/** The head row: the current version plus the record's status (`erased` is the tombstone). */
export interface RecordHead extends RecordVersion {
  status: 'current' | 'erased';
  erasedAt?: number;
  erasureReason?: ErasureReason;
}

export const ERASURE_REASONS = ['PATIENT_REQUEST', 'ENTERED_IN_ERROR', 'RETENTION_EXPIRED'] as const;
export type ErasureReason = (typeof ERASURE_REASONS)[number];
export const REFUSAL_REASONS = ['LEGAL_RETENTION', 'CLINICALLY_ACCURATE', 'INSUFFICIENT_EVIDENCE', 'OTHER'] as const;

/** A patient's request to correct or erase a record. Its wording stays in the custodian's vault; the ledger has a salted commitment to it. */
export interface ChangeRequest {
  id: string;
  recordId: string;
  patientId: string;
  custodian: string;
  kind: 'correction' | 'erasure';
  /** SHA-256 of `canonicalJson({salt, text})` (records/salted-text.ts): checkable by whoever holds the envelope, not guessable. */
  detailsSha256?: string;
  filedBy: string;
  filedAt: number;
  status: 'open' | 'accepted' | 'refused';
  resolvedAt?: number;
  resolvedBy?: string;
  refusal?: (typeof REFUSAL_REASONS)[number];
  /** For an accepted correction: the version that carries it. */
  version?: number;
}

const pad = (n: number) => String(n).padStart(6, '0');
export const recordKeys = {
  head: (id: string) => `rec/${id}`,
  version: (id: string, v: number) => `recv/${id}/${pad(v)}`,
  versions: (id: string) => `recv/${id}/`,
  request: (id: string) => `recreq/${id}`,
};
