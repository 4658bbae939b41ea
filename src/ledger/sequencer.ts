import type { BlockProposal } from './block.js';
import type { Head } from './sqlite-store.js';
import type { ParsedTx } from './tx.js';
import type { ProposalRejected } from './executor.js';

/**
 * Stage one of the pipeline: fixing the order of txs. A sequencer turns admitted txs into block proposals and
 * hands every proposal, in height order, to its host for execution and commit — its own proposals and, for a
 * replicated sequencer, those of other peers. Contracts and storage never see which sequencer is in use.
 */
export interface SequencerHost {
  /** The committed head that the next proposal must extend. */
  head(): Head;
  /**
   * Executes and commits a proposal; resolves once it is committed (its submitters are answered once it is also on
   * disk). Throws the ProposalRejected that kept it out of the chain.
   */
  commit(proposal: BlockProposal): Promise<void>;
  /**
   * Executes and commits consecutive proposals in one database transaction; resolves with one outcome per proposal:
   * undefined when it became a block, or the ProposalRejected that kept it out (the others are still committed).
   * Rejects, committing none, on a storage failure.
   */
  commitMany(proposals: BlockProposal[]): Promise<Array<ProposalRejected | undefined>>;
  /**
   * Optional head start for a proposal that will be committed later (received, earlier blocks still executing):
   * starts the pure checks of its txs (signatures) so that commit finds them done.
   */
  prepare?(proposal: BlockProposal): void;
  /**
   * Optional, for a replicated sequencer whose peers forward txs to the one proposing: admits txs another peer
   * forwarded (raw signed txs, as in a proposal). Each is checked as a submitted tx is, signature included; those
   * that fail, or that this node knows already (committed, queued, submitted here), are dropped. `accept` is called
   * for each of the others, in their order, in the same synchronous step that registers it as admitted here.
   * Resolves with how many were accepted.
   */
  admitForwarded?(raw: unknown[], accept: (tx: ParsedTx) => void): Promise<number>;
  /** Reports a failure that is not any single tx's fault (logged and surfaced in /health). */
  onError(err: Error): void;
}

export interface Sequencer {
  readonly kind: string;
  start(host: SequencerHost): Promise<void>;
  /** Offers an admitted tx for ordering. The sequencer owns it until it is proposed. */
  enqueue(tx: ParsedTx): void;
  /** Txs waiting to be proposed (for back-pressure and metrics). */
  pending(): number;
  /** Sequencer-specific facts for the status API (connection, stream position, catch-up). */
  status?(): Record<string, unknown>;
  /** Resolves once the sequencer has handed the host every block known to exist (a replicated one catches up). */
  whenCaughtUp?(): Promise<void>;
  /** Stops cutting blocks; txs still queued are handed back so the host can fail their waiters. */
  stop(): Promise<ParsedTx[]>;
}
