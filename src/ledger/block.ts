import { canonicalBytes, ed25519KeyOfDid, ed25519Verify, fromBase64Url, sha256, toBase64Url, type Ed25519Signer } from '../crypto/index.js';
import { merkleRoot } from './merkle.js';
import type { ParsedTx, SignedTx } from './tx.js';

/**
 * A block is made in two steps (see docs/ARCHITECTURE.md):
 * 1. the sequencer fixes the order: a *proposal* (height, prevHash, time, proposer, txRoot) signed by the proposer;
 * 2. each peer executes it and completes the *header* with the hash of the results and state writes and the
 *    running state hash. Peers that execute the same proposal deterministically compute the same header.
 */
export interface ProposalHeader {
  chain: string;
  height: number;
  prevHash: string;
  /** Milliseconds since the epoch, set by the proposer; never decreases along the chain. */
  time: number;
  proposer: string;
  txRoot: string;
  txCount: number;
}

export interface BlockHeader extends ProposalHeader {
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

const PROPOSAL_DOMAIN = Buffer.from('medchain/proposal/v1\n', 'utf8');
const CHECKPOINT_DOMAIN = Buffer.from('medchain/checkpoint/v1\n', 'utf8');

export function txRootOf(txIds: readonly string[]): string {
  return merkleRoot(txIds.map((id) => Buffer.from(id, 'hex'))).toString('hex');
}

export function proposalMessage(header: ProposalHeader): Buffer {
  return Buffer.concat([PROPOSAL_DOMAIN, canonicalBytes(header)]);
}

export function signProposal(header: ProposalHeader, signer: Ed25519Signer): string {
  return toBase64Url(signer.sign(proposalMessage(header)));
}

/**
 * A signed proposal of `txs` on top of `head`, as every sequencer cuts one: the proposer's clock for the time,
 * but never earlier than the head's, so block times never go backwards.
 */
export function proposeBlock(
  proposer: { chain: string; proposerDid: string; signer: Ed25519Signer },
  head: { height: number; hash: string; time: number },
  txs: ParsedTx[],
  now: number,
): BlockProposal {
  const header: ProposalHeader = {
    chain: proposer.chain,
    height: head.height + 1,
    prevHash: head.hash,
    time: Math.max(now, head.time),
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
