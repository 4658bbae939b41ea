import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { canonicalBytes, canonicalJson, ed25519KeyOfDid, fromBase64Url, sha256, toBase64Url, type Ed25519Signer } from '../crypto/index.js';
import { CodedError, LedgerCodes } from './errors.js';
import { TX_SIGNING_DOMAIN as TX_SIGNING_DOMAIN_TEXT } from './tx-signing.js';

/**
 * The transaction envelope signed by the person (or node, or device) who acts.
 * `chain` binds the tx to one consortium ledger so it cannot be replayed on another.
 * Times are milliseconds since the Unix epoch, compared against the block time when executed.
 */
export const TxEnvelopeSchema = Type.Object(
  {
    chain: Type.String({ minLength: 1, maxLength: 128 }),
    contract: Type.String({ pattern: '^[a-z][a-z0-9-]{0,63}$' }),
    method: Type.String({ pattern: '^[a-zA-Z][a-zA-Z0-9]{0,63}$' }),
    args: Type.Unknown(),
    signer: Type.String({ minLength: 1, maxLength: 128 }),
    nonce: Type.String({ minLength: 1, maxLength: 64 }),
    notBefore: Type.Integer({ minimum: 0 }),
    notAfter: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type TxEnvelope = Static<typeof TxEnvelopeSchema>;

/** What travels on the wire and is stored in a block: the envelope and an Ed25519 signature over it. */
export const SignedTxSchema = Type.Object(
  { tx: TxEnvelopeSchema, sig: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }) },
  { additionalProperties: false },
);
export type SignedTx = Static<typeof SignedTxSchema>;

const signedTxCheck = TypeCompiler.Compile(SignedTxSchema);
const envelopeCheck = TypeCompiler.Compile(TxEnvelopeSchema);

/** 64 bytes are 86 base64url characters with 4 unused bits; two spellings must never denote one signature. */
function assertCanonicalSig(sig: string): void {
  try {
    fromBase64Url(sig, 64);
  } catch {
    throw new CodedError(LedgerCodes.TX_MALFORMED, 'signature is not canonical base64url of 64 bytes');
  }
}

/** Domain separation: a tx signature can never be mistaken for a signature over anything else. */
const TX_SIGNING_DOMAIN = Buffer.from(TX_SIGNING_DOMAIN_TEXT, 'utf8');

export function txSigningMessage(envelopeBytes: Uint8Array): Buffer {
  return Buffer.concat([TX_SIGNING_DOMAIN, envelopeBytes]);
}

/** A tx that passed the stateless checks: well formed, within size, with its id and canonical bytes computed. */
export interface ParsedTx {
  id: string;
  signed: SignedTx;
  /** Canonical bytes of the envelope: what the id hashes and the signature signs. */
  envelopeBytes: Buffer;
  /** Canonical bytes of the whole signed tx, as stored. */
  storedBytes: Buffer;
  signerPublicKey: Buffer;
}

export interface TxLimits {
  maxTxBytes: number;
  maxValidityMs: number;
}

/** Stateless parsing: shape, did:key signer, size. Does not check the signature (see SignatureVerifier). */
export function parseSignedTx(input: unknown, limits: TxLimits): ParsedTx {
  if (!signedTxCheck.Check(input)) {
    const first = signedTxCheck.Errors(input).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
    throw new CodedError(LedgerCodes.TX_MALFORMED, `malformed transaction (${where})`);
  }
  let envelopeText: string;
  let envelope: unknown;
  try {
    envelopeText = canonicalJson((input as SignedTx).tx);
    envelope = JSON.parse(envelopeText);
  } catch (err) {
    throw new CodedError(LedgerCodes.TX_MALFORMED, `transaction is not canonicalizable JSON: ${(err as Error).message}`);
  }
  // Execute exactly what is signed and stored: values without a JSON form (undefined members, Dates, -0) must not
  // reach a contract in a form that a peer replaying the stored bytes would not see.
  if (!envelopeCheck.Check(envelope)) throw new CodedError(LedgerCodes.TX_MALFORMED, 'transaction does not survive canonical JSON');
  const signed: SignedTx = { tx: envelope, sig: (input as SignedTx).sig };
  assertCanonicalSig(signed.sig);
  const envelopeBytes = Buffer.from(envelopeText, 'utf8');
  // RFC 8785 of {sig, tx}: "sig" sorts before "tx" and the signature is plain base64url (no escaping needed),
  // so the stored form is composed from the already-canonical envelope instead of canonicalizing twice.
  const storedBytes = Buffer.from(`{"sig":"${signed.sig}","tx":${envelopeText}}`, 'utf8');
  if (storedBytes.length > limits.maxTxBytes) {
    throw new CodedError(LedgerCodes.TX_TOO_LARGE, `transaction is ${storedBytes.length} bytes; the limit is ${limits.maxTxBytes}`);
  }
  const signerPublicKey = ed25519KeyOfDid(signed.tx.signer);
  if (!signerPublicKey) throw new CodedError(LedgerCodes.TX_MALFORMED, 'signer must be an Ed25519 did:key');
  if (signed.tx.notAfter < signed.tx.notBefore) {
    throw new CodedError(LedgerCodes.TX_MALFORMED, 'notAfter is before notBefore');
  }
  if (signed.tx.notAfter - signed.tx.notBefore > limits.maxValidityMs) {
    throw new CodedError(LedgerCodes.TX_VALIDITY_TOO_LONG, `validity window exceeds ${limits.maxValidityMs} ms`);
  }
  return { id: sha256(envelopeBytes).toString('hex'), signed, envelopeBytes, storedBytes, signerPublicKey };
}

const STORED_PREFIX = '{"sig":"';
const STORED_MIDDLE = '","tx":';

/**
 * Parses a tx as stored in a block (verify, and peers replaying blocks): the id and signature are computed over
 * the exact stored envelope bytes, so any change to a stored byte changes the id or breaks the signature.
 */
export function parseStoredTx(body: string, limits: TxLimits): ParsedTx {
  const sigEnd = STORED_PREFIX.length + 86;
  if (!body.startsWith(STORED_PREFIX) || body.slice(sigEnd, sigEnd + STORED_MIDDLE.length) !== STORED_MIDDLE || !body.endsWith('}')) {
    throw new CodedError(LedgerCodes.TX_MALFORMED, 'stored transaction is not in canonical {sig, tx} form');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new CodedError(LedgerCodes.TX_MALFORMED, 'stored transaction is not JSON');
  }
  if (!signedTxCheck.Check(parsed)) throw new CodedError(LedgerCodes.TX_MALFORMED, 'stored transaction has the wrong shape');
  const signed = parsed as SignedTx;
  assertCanonicalSig(signed.sig);
  const storedBytes = Buffer.from(body, 'utf8');
  if (storedBytes.length > limits.maxTxBytes) throw new CodedError(LedgerCodes.TX_TOO_LARGE, 'stored transaction exceeds the size limit');
  const envelopeText = body.slice(sigEnd + STORED_MIDDLE.length, -1);
  if (canonicalJson(signed.tx) !== envelopeText) throw new CodedError(LedgerCodes.TX_MALFORMED, 'stored transaction is not in canonical form');
  const envelopeBytes = Buffer.from(envelopeText, 'utf8');
  const signerPublicKey = ed25519KeyOfDid(signed.tx.signer);
  if (!signerPublicKey) throw new CodedError(LedgerCodes.TX_MALFORMED, 'signer must be an Ed25519 did:key');
  return { id: sha256(envelopeBytes).toString('hex'), signed, envelopeBytes, storedBytes, signerPublicKey };
}

/** The time-window rule, applied against block time on execution (and the local clock on admission). */
export function checkValidityWindow(tx: TxEnvelope, time: number): void {
  if (time < tx.notBefore) throw new CodedError(LedgerCodes.TX_NOT_YET_VALID, `transaction is valid from ${tx.notBefore}`);
  if (time > tx.notAfter) throw new CodedError(LedgerCodes.TX_EXPIRED, `transaction expired at ${tx.notAfter}`);
}

export interface TxDraft {
  chain: string;
  contract: string;
  method: string;
  args: unknown;
  nonce?: string;
  /** Defaults to now - 60 s (tolerates clock skew between client and proposer). */
  notBefore?: number;
  /** Defaults to notBefore + 10 minutes. */
  notAfter?: number;
}

let nonceCounter = 0;

/** Builds and signs a tx envelope (for clients, the CLI, the demo and tests). */
export function signTx(draft: TxDraft, signerDid: string, signer: Ed25519Signer, now = Date.now()): SignedTx {
  const notBefore = draft.notBefore ?? now - 60_000;
  const tx: TxEnvelope = {
    chain: draft.chain,
    contract: draft.contract,
    method: draft.method,
    args: draft.args ?? {},
    signer: signerDid,
    nonce: draft.nonce ?? `${now.toString(36)}-${process.pid.toString(36)}-${(nonceCounter++).toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
    notBefore,
    notAfter: draft.notAfter ?? notBefore + 11 * 60_000,
  };
  return { tx, sig: toBase64Url(signer.sign(txSigningMessage(canonicalBytes(tx)))) };
}

export function signatureBytes(signed: SignedTx): Buffer {
  return fromBase64Url(signed.sig, 64);
}
