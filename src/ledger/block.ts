import { canonicalBytes, ed25519KeyOfDid, ed25519Verify, fromBase64Url, sha256, toBase64Url, type Ed25519Signer } from '../crypto/index.js';
import { merkleRoot } from './merkle.js';
import type { ParsedTx, SignedTx } from './tx.js';

/**
 * A block is made in two steps (see docs/ARCHITECTURE.md):
 * 1. the sequencer fixes the order: a *proposal* (slot, time, proposer, txRoot) signed by the proposer;
 * 2. each peer executes it on top of its head and completes the *header*: height, the link to the previous block,
 *    the hash of the results and state writes and the running state hash. Peers that execute the same proposals in
 *    the same order deterministically compute the same headers.
 *
 * A proposal names its place in the sequencer's order (`slot`), not the previous block: a peer can propose the
 * next block as soon as it has *seen* the one before, without having executed it, so proposals from several peers
 * are in flight while every peer executes (the pipeline of the replicated sequencer).
 */
export interface ProposalHeader {
  chain: string;
  /**
   * The proposal's position in the order: the stream sequence it was appended at (replicated sequencer; a copy
   * found at another position is skipped) or the height (solo). Strictly increasing along the chain.
   */
  slot: number;
  /** Milliseconds since the epoch, set by the proposer; never decreases along the chain. */
  time: number;
  proposer: string;
  txRoot: string;
  txCount: number;
}

export interface BlockHeader extends ProposalHeader {
  height: number;
  /** Hash of the block at height - 1 (all zeros for block 0). */
  prevHash: string;
  proposerSig: string;
  /** sha256 of the canonical per-tx results (status, error code, result, events). */
  resultsHash: string;
  /** sha256 of the canonical, key-sorted list of state writes of this block. */
  writesHash: string;
  /** sha256(previous stateHash || writesHash): commits to the whole history of state changes. */
  stateHash: string;
}

export interface BlockProposal {
  header: ProposalHeader;
  proposerSig: string;
  txs: ParsedTx[];
}

export const ZERO_HASH = '0'.repeat(64);

const PROPOSAL_DOMAIN = Buffer.from('medchain/proposal/v2\n', 'utf8');
const CHECKPOINT_DOMAIN = Buffer.from('medchain/checkpoint/v1\n', 'utf8');

export function txRootOf(txIds: readonly string[]): string {
  return merkleRoot(txIds.map((id) => Buffer.from(id, 'hex'))).toString('hex');
}

/** The signed fields of a header, whatever else the object holds (a block header carries the proposal in it). */
export function proposalHeaderOf(h: ProposalHeader): ProposalHeader {
  return { chain: h.chain, slot: h.slot, time: h.time, proposer: h.proposer, txRoot: h.txRoot, txCount: h.txCount };
}

export function proposalMessage(header: ProposalHeader): Buffer {
  return Buffer.concat([PROPOSAL_DOMAIN, canonicalBytes(proposalHeaderOf(header))]);
}

export function signProposal(header: ProposalHeader, signer: Ed25519Signer): string {
  return toBase64Url(signer.sign(proposalMessage(header)));
}

/**
 * A signed proposal of `txs` for position `slot`, as every sequencer cuts one: the proposer's clock for the time,
 * but never earlier than `minTime` (the latest block or proposal the proposer has seen before this slot), so block
 * times never go backwards.
 */
export function proposeBlock(
  proposer: { chain: string; proposerDid: string; signer: Ed25519Signer },
  at: { slot: number; minTime: number },
  txs: ParsedTx[],
  now: number,
): BlockProposal {
  const header: ProposalHeader = {
    chain: proposer.chain,
    slot: at.slot,
    time: Math.max(now, at.minTime),
    proposer: proposer.proposerDid,
    txRoot: txRootOf(txs.map((t) => t.id)),
    txCount: txs.length,
  };
  return { header, proposerSig: signProposal(header, proposer.signer), txs };
}

export function verifyProposalSignature(header: ProposalHeader, sig: string): boolean {
  const key = ed25519KeyOfDid(header.proposer);
  if (!key) return false;
  try {
    return ed25519Verify(key, proposalMessage(header), fromBase64Url(sig, 64));
  } catch {
    return false;
  }
}

export function blockHash(header: BlockHeader): string {
  return sha256(canonicalBytes(header)).toString('hex');
}

export function nextStateHash(prevStateHash: string, writesHash: string): string {
  return sha256(Buffer.from(prevStateHash, 'hex'), Buffer.from(writesHash, 'hex')).toString('hex');
}

/** A signed statement by a peer of the chain it holds at a height; compared across peers to detect forks. */
export interface Checkpoint {
  chain: string;
  height: number;
  blockHash: string;
  stateHash: string;
  signer: string;
  sig: string;
}

export function checkpointMessage(c: Omit<Checkpoint, 'sig'>): Buffer {
  return Buffer.concat([CHECKPOINT_DOMAIN, canonicalBytes(c)]);
}

export function signCheckpoint(c: Omit<Checkpoint, 'sig'>, signer: Ed25519Signer): Checkpoint {
  return { ...c, sig: toBase64Url(signer.sign(checkpointMessage(c))) };
}

export function verifyCheckpoint(c: Checkpoint): boolean {
  const key = ed25519KeyOfDid(c.signer);
  if (!key) return false;
  const { sig, ...body } = c;
  try {
    return ed25519Verify(key, checkpointMessage(body), fromBase64Url(sig, 64));
  } catch {
    return false;
  }
}

/** Serialized form of a proposal, as a replicated sequencer would carry it. */
export interface ProposalWire {
  header: ProposalHeader;
  proposerSig: string;
  txs: SignedTx[];
}
