import type { BlockProposal, ProposalHeader } from './block.js';
import { CodedError } from './errors.js';
import { parseSignedTx, type ParsedTx, type TxLimits } from './tx.js';

/**
 * The wire form of a block proposal as a replicated sequencer carries it:
 * `{"header":{…},"proposerSig":"…","txs":[{sig, tx}, …]}` with every tx in its stored (canonical) form.
 * Decoding is strict and total: anything that is not exactly a proposal throws MALFORMED_PROPOSAL, so every
 * peer treats a bad message on the stream the same way (skips it).
 */

export function encodeProposal(p: BlockProposal): Buffer {
  const txs = p.txs.map((t) => t.storedBytes.toString('utf8')).join(',');
  return Buffer.from(`{"header":${JSON.stringify(p.header)},"proposerSig":${JSON.stringify(p.proposerSig)},"txs":[${txs}]}`, 'utf8');
}

/** Bytes the wire form of a proposal needs besides its txs (header, signature, punctuation), with margin. */
export const PROPOSAL_OVERHEAD_BYTES = 1024;

function malformed(why: string): CodedError {
  return new CodedError('MALFORMED_PROPOSAL', `stream message is not a block proposal: ${why}`);
}

function sameAsKnown(t: unknown, known: ((sig: string) => ParsedTx | undefined) | undefined): ParsedTx | undefined {
  if (!known || typeof t !== 'object' || t === null) return undefined;
  const { sig, tx } = t as { sig?: unknown; tx?: unknown };
  const mine = typeof sig === 'string' ? known(sig) : undefined;
  if (!mine || Object.keys(t).length !== 2 || typeof tx !== 'object' || tx === null) return undefined;
  // JSON.stringify keeps the message's member order and number forms: equal bytes only if the envelope is ours as sent.
  return mine.envelopeBytes.equals(Buffer.from(JSON.stringify(tx), 'utf8')) ? mine : undefined;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * `known` may return a tx this peer parsed already (one it forwarded to the proposer), looked up by signature: it is
 * taken instead of parsing again when its envelope is exactly the one in the message (same bytes, so the same tx).
 */
export function decodeProposal(bytes: Uint8Array, limits: TxLimits, known?: (sig: string) => ParsedTx | undefined): BlockProposal {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw malformed('not JSON');
  }
  const o = raw as { header?: Record<string, unknown>; proposerSig?: unknown; txs?: unknown };
  const h = o?.header;
  if (!h || typeof h !== 'object' || typeof o.proposerSig !== 'string' || !Array.isArray(o.txs)) throw malformed('missing fields');
  const { chain, slot, time, proposer, txRoot, txCount } = h;
  if (typeof chain !== 'string' || typeof proposer !== 'string' || typeof txRoot !== 'string') {
    throw malformed('header fields have the wrong type');
  }
  if (!isInt(slot) || !isInt(time) || !isInt(txCount) || Object.keys(h).length !== 6) throw malformed('header fields have the wrong type');
  // Rebuilt field by field so that what is signed and hashed is exactly the six header fields.
  const header: ProposalHeader = { chain, slot, time, proposer, txRoot, txCount };
  try {
    return { header, proposerSig: o.proposerSig, txs: o.txs.map((t) => sameAsKnown(t, known) ?? parseSignedTx(t, limits)) };
  } catch (err) {
    throw malformed(`a tx is malformed (${(err as Error).message})`);
  }
}
