import { canonicalJson, sha256Hex } from '../crypto/index.js';
import {
  blockHash,
  nextStateHash,
  proposalHeaderOf,
  txRootOf,
  verifyProposalSignature,
  ZERO_HASH,
  type BlockHeader,
  type BlockProposal,
} from './block.js';
import { CodedError, LedgerCodes } from './errors.js';
import type { BlockCommit, Head, SqliteStore, StateWrite, StoredTx } from './sqlite-store.js';
import { StateOverlay, type IndexSpec, type StateReader } from './state.js';
import { checkValidityWindow, type ParsedTx, type TxEnvelope } from './tx.js';

/** What a tx sees of the block it runs in. */
export interface ExecutionEnv {
  txId: string;
  txIndex: number;
  height: number;
  time: number;
  state: StateOverlay;
}

export interface TxOutcome {
  result?: unknown;
  events?: unknown[];
}

/**
 * The domain on top of the generic log (Trillian calls this a "personality"): here, the contracts runtime.
 * Every method must be deterministic: same state and input, same output, on every peer.
 */
export interface Personality {
  readonly indexes: readonly IndexSpec[];
  /** Key prefixes whose past values need no `history` rows (see SqliteStoreOptions.historyExempt). */
  readonly historyExempt?: readonly string[];
  /** The version of the state layout the contracts write (see SqliteStoreOptions.stateLayout). */
  readonly stateLayout?: string;
  /** Stateless checks done at admission and again at execution: known contract and method, valid args. */
  admit(tx: TxEnvelope): void;
  /** Runs one tx against `env.state`; throws a CodedError for a deterministic, recorded failure. */
  execute(tx: TxEnvelope, env: ExecutionEnv): TxOutcome;
  /** Writes the initial world state from the genesis document. */
  applyGenesis(genesis: unknown, state: StateOverlay): void;
  /** Whether `did` may propose blocks (a node key of an active member institution). */
  isProposer(did: string, state: StateReader): boolean;
}

export type TxResult =
  | { status: 'ok'; result?: unknown; events?: unknown[] }
  | { status: 'error'; code: string; message: string };

export interface ExecutedBlock extends BlockCommit {
  results: TxResult[];
}

/** Thrown when a proposal as a whole is unacceptable (wrong height, link, root or proposer signature). */
export class ProposalRejected extends CodedError {
  constructor(message: string) {
    super('PROPOSAL_REJECTED', message);
  }
}

export class BlockExecutor {
  constructor(
    private readonly store: SqliteStore,
    private readonly personality: Personality,
    private readonly chain: string,
  ) {}

  /** Builds block 0 from the genesis document. */
  executeGenesis(genesis: unknown, time: number): ExecutedBlock {
    const overlay = new StateOverlay(this.store, this.store.indexes);
    this.personality.applyGenesis(genesis, overlay);
    const writes = sortedWrites(overlay, 0);
    const writesHash = hashWrites(writes);
    const header: BlockHeader = {
      chain: this.chain,
      slot: 0,
      time,
      proposer: 'genesis',
      txRoot: txRootOf([]),
      txCount: 0,
      height: 0,
      prevHash: ZERO_HASH,
      proposerSig: '',
      resultsHash: sha256Hex(canonicalJson(genesis)),
      writesHash,
      stateHash: nextStateHash(ZERO_HASH, writesHash),
    };
    return { header, hash: blockHash(header), txs: [], writes, results: [] };
  }

  /**
   * Checks that the proposal may follow `head` (a later slot, no earlier time) and is signed by an authorized
   * proposer. The proposal does not name the previous block: the executing peer links it to its own head.
   */
  checkProposal(proposal: BlockProposal, head: Head): void {
    const h = proposal.header;
    if (h.chain !== this.chain) throw new ProposalRejected(`proposal is for chain ${h.chain}`);
    if (!Number.isSafeInteger(h.slot) || h.slot <= head.slot) throw new ProposalRejected(`proposal slot ${h.slot} does not follow slot ${head.slot}`);
    if (!Number.isSafeInteger(h.time) || h.time < head.time) throw new ProposalRejected('proposal time goes backwards');
    if (h.txCount !== proposal.txs.length) throw new ProposalRejected('proposal txCount does not match its txs');
    if (h.txRoot !== txRootOf(proposal.txs.map((t) => t.id))) throw new ProposalRejected('proposal txRoot does not match its txs');
    if (!this.personality.isProposer(h.proposer, this.store)) throw new ProposalRejected(`${h.proposer} may not propose blocks`);
    if (!verifyProposalSignature(h, proposal.proposerSig)) throw new ProposalRejected('bad proposer signature');
  }

  /**
   * Executes every tx of a checked proposal in order. Invalid txs stay in the block with their error code
   * and write nothing, so that any peer replaying the block reaches the same state.
   * `signatureOk[i]` is the (pure, possibly precomputed) result of checking tx i's signature.
   * `knownAbsent(id)` may answer true for ids the caller knows are not in the store (it spares a lookup); it
   * must never answer true for a stored id.
   */
  execute(
    proposal: BlockProposal,
    head: Head,
    signatureOk: readonly boolean[],
    knownAbsent: (txId: string) => boolean = () => false,
  ): ExecutedBlock {
    const ph = { ...proposalHeaderOf(proposal.header), height: head.height + 1, prevHash: head.hash };
    const blockState = new StateOverlay(this.store, this.store.indexes);
    const seen = new Set<string>();
    const results: TxResult[] = [];
    const txs: StoredTx[] = [];
    const writes: StateWrite[] = [];

    proposal.txs.forEach((tx, index) => {
      const duplicate = seen.has(tx.id) || (!knownAbsent(tx.id) && this.store.hasTx(tx.id));
      const result = this.executeTx(tx, index, ph.height, ph.time, blockState, duplicate, signatureOk[index] === true, writes);
      // Only a correctly signed tx occupies its id (see StoredTx.sigOk).
      if (signatureOk[index] === true) seen.add(tx.id);
      results.push(result);
      txs.push({ height: ph.height, index, id: tx.id, body: tx.storedBytes.toString('utf8'), result: canonicalJson(result), sigOk: signatureOk[index] === true });
    });

    const writesHash = hashWrites(writes);
    const header: BlockHeader = {
      ...ph,
      proposerSig: proposal.proposerSig,
      resultsHash: hashCanonicalArray(txs.map((t) => t.result)),
      writesHash,
      stateHash: nextStateHash(head.stateHash, writesHash),
    };
    return { header, hash: blockHash(header), txs, writes, results };
  }

  private executeTx(
    tx: ParsedTx,
    index: number,
    height: number,
    time: number,
    blockState: StateOverlay,
    duplicate: boolean,
    signatureOk: boolean,
    writes: StateWrite[],
  ): TxResult {
    const envelope = tx.signed.tx;
    const txState = new StateOverlay(blockState, this.store.indexes);
    try {
      if (!signatureOk) throw new CodedError(LedgerCodes.TX_BAD_SIGNATURE, 'signature does not verify');
      if (envelope.chain !== this.chain) throw new CodedError(LedgerCodes.TX_WRONG_CHAIN, `transaction is for chain ${envelope.chain}`);
      checkValidityWindow(envelope, time);
      if (duplicate) throw new CodedError(LedgerCodes.TX_DUPLICATE, 'transaction already sequenced');
      this.personality.admit(envelope);
      const outcome = this.personality.execute(envelope, { txId: tx.id, txIndex: index, height, time, state: txState });
      for (const key of [...txState.writes.keys()].sort()) {
        writes.push({ key, txIndex: index, value: txState.writes.get(key)! });
      }
      txState.mergeInto(blockState);
      const result: TxResult = { status: 'ok' };
      if (outcome.result !== undefined) result.result = outcome.result;
      if (outcome.events && outcome.events.length > 0) result.events = outcome.events;
      return result;
    } catch (err) {
      if (err instanceof CodedError) return { status: 'error', code: err.code, message: err.message };
      // Storage faults are not a property of the tx: abort the whole block instead of recording them.
      if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_')) throw err;
      // A bug in a contract: still deterministic (same code, same input), recorded without the stack.
      return { status: 'error', code: 'CONTRACT_FAILED', message: 'the contract failed unexpectedly' };
    }
  }
}

function sortedWrites(overlay: StateOverlay, txIndex: number): StateWrite[] {
  return [...overlay.writes.keys()].sort().map((key) => ({ key, txIndex, value: overlay.writes.get(key)! }));
}

/**
 * sha256 of the RFC 8785 form of `[[txIndex, key, value], ...]`. Composed by hand because it is on the hot path:
 * keys are printable ASCII and values already canonical text, and JCS escapes strings exactly as JSON.stringify.
 */
export function hashWrites(writes: readonly StateWrite[]): string {
  return hashCanonicalArray(writes.map((w) => `[${w.txIndex},${JSON.stringify(w.key)},${w.value === null ? 'null' : JSON.stringify(w.value)}]`));
}

/** sha256 of the canonical JSON array whose elements are the given canonical texts. */
function hashCanonicalArray(elements: readonly string[]): string {
  return sha256Hex(`[${elements.join(',')}]`);
}
