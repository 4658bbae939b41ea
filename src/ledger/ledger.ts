import { EventEmitter } from 'node:events';
import { canonicalJson, type Ed25519Signer } from '../crypto/index.js';
import { signCheckpoint, type BlockProposal, type Checkpoint } from './block.js';
import { CodedError, LedgerCodes } from './errors.js';
import { BlockExecutor, ProposalRejected, type ExecutedBlock, type Personality, type TxResult } from './executor.js';
import { inclusionProof } from './merkle.js';
import type { Sequencer } from './sequencer.js';
import type { SignatureVerifier } from './signature-pool.js';
import { headOf, type Head, type SqliteStore } from './sqlite-store.js';
import { checkValidityWindow, parseSignedTx, signatureBytes, txSigningMessage, type ParsedTx, type TxLimits } from './tx.js';

export interface LedgerOptions {
  chain: string;
  store: SqliteStore;
  personality: Personality;
  sequencer: Sequencer;
  verifier: SignatureVerifier;
  limits: TxLimits;
  /** The node's own identity: signs checkpoints. */
  node: { did: string; signer: Ed25519Signer };
  /** Sign a checkpoint every this many blocks. */
  checkpointInterval?: number;
  /** Refuse new txs (NODE_BUSY) while this many wait for commit. */
  maxPending?: number;
  /** Give up waiting for a commit after this long (the tx may still commit later). */
  commitTimeoutMs?: number;
  now?: () => number;
}

/** What a submitter learns once its tx is in a durable block. */
export interface Receipt {
  id: string;
  height: number;
  index: number;
  blockHash: string;
  result: TxResult;
}

export interface InclusionProof {
  txId: string;
  height: number;
  index: number;
  treeSize: number;
  /** Audit path (hex), bottom-up, as in RFC 9162. */
  path: string[];
  txRoot: string;
  blockHash: string;
}

interface Waiter {
  resolve(r: Receipt): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The generic log core: admits signed txs, hands them to the sequencer, executes and commits the proposals
 * it gets back, tells submitters when their tx is durable, and signs checkpoints. It knows nothing of the
 * medical domain; that lives in the Personality (contracts).
 *
 * Events: 'block' (ExecutedBlock), 'checkpoint' (Checkpoint), 'error' is never emitted (see 'fault').
 */
export class Ledger extends EventEmitter {
  readonly chain: string;
  readonly store: SqliteStore;
  readonly executor: BlockExecutor;
  private readonly options: LedgerOptions;
  private readonly waiters = new Map<string, Waiter>();
  /**
   * Txs admitted here and not yet committed: `id` -> `sig`. Their signature verified at admission and their id
   * was absent from the store then; any commit of that id since would have removed the entry. Spares a second
   * signature check and a duplicate lookup at commit.
   */
  private readonly verified = new Map<string, string>();
  /** Signature checks started for received proposals not yet committed (see SequencerHost.prepare): id -> result. */
  private readonly prechecked = new Map<string, { sig: string; ok: Promise<boolean> }>();
  private static readonly PRECHECK_LIMIT = 100_000;
  private cachedHead: Head;
  private commitChain: Promise<void> = Promise.resolve();
  /** Resolves once the last committed block is durable and published (receipts, event, checkpoint). */
  private durable: Promise<void> = Promise.resolve();
  private running = false;
  lastFault: { at: number; message: string } | undefined;

  private constructor(options: LedgerOptions, head: Head) {
    super();
    this.options = options;
    this.chain = options.chain;
    this.store = options.store;
    this.executor = new BlockExecutor(options.store, options.personality, options.chain);
    this.cachedHead = head;
  }

  /** Opens a ledger, writing block 0 from `genesis` when the store is empty. */
  static async open(options: LedgerOptions, genesis: { document: unknown; time: number }): Promise<Ledger> {
    const { store } = options;
    let head = store.head();
    if (!head) {
      const executor = new BlockExecutor(store, options.personality, options.chain);
      const block = executor.executeGenesis(genesis.document, genesis.time);
      store.db.transaction(() => {
        store.setMeta('chain', options.chain);
        store.setMeta('genesis', canonicalJson(genesis.document));
        store.commitBlock(block);
      })();
      await store.sync();
      head = store.head()!;
    } else if (store.getMeta('chain') !== options.chain) {
      throw new CodedError('WRONG_DATA_DIR', `the store holds chain ${store.getMeta('chain')}, not ${options.chain}`);
    }
    const ledger = new Ledger(options, head);
    await options.sequencer.start({
      head: () => ledger.cachedHead,
      commit: (p) => ledger.serialized(() => ledger.commitOne(p)),
      commitMany: (ps) => ledger.serialized(() => ledger.commitMany(ps)),
      prepare: (p) => ledger.precheck(p),
      admitForwarded: (raw, accept) => ledger.admitForwarded(raw, accept),
      onError: (err) => ledger.fault(err),
    });
    ledger.running = true;
    return ledger;
  }

  head(): Head {
    return this.cachedHead;
  }

  pendingCount(): number {
    return this.waiters.size;
  }

  /**
   * Every admission check: stateless checks, the signature, then duplicates. Throws a CodedError naming the
   * first problem; nothing is written for a refused tx.
   */
  async admit(input: unknown): Promise<ParsedTx> {
    const tx = await this.checkBeforeDuplicates(input);
    this.assertNotDuplicate(tx);
    return tx;
  }

  private assertNotDuplicate(tx: ParsedTx): void {
    if (this.waiters.has(tx.id) || this.store.hasTx(tx.id)) {
      throw new CodedError(LedgerCodes.TX_DUPLICATE, `transaction ${tx.id} was already submitted`);
    }
  }

  private async checkBeforeDuplicates(input: unknown): Promise<ParsedTx> {
    if (!this.running) throw new CodedError(LedgerCodes.NODE_STOPPED, 'the node is shutting down');
    const tx = parseSignedTx(input, this.options.limits);
    const envelope = tx.signed.tx;
    if (envelope.chain !== this.chain) throw new CodedError(LedgerCodes.TX_WRONG_CHAIN, `this node serves chain ${this.chain}`);
    // Block time is the proposer's clock at cutting, so a tx outside its window now would only be recorded as
    // invalid in its block (using up its id): refuse it here instead. Clients set notBefore a little in the past.
    checkValidityWindow(envelope, (this.options.now ?? Date.now)());
    this.options.personality.admit(envelope);
    if (this.waiters.has(tx.id)) throw new CodedError(LedgerCodes.TX_DUPLICATE, `transaction ${tx.id} was already submitted`);
    const ok = await this.options.verifier.verify({
      publicKey: tx.signerPublicKey,
      message: txSigningMessage(tx.envelopeBytes),
      signature: signatureBytes(tx.signed),
    });
    if (!ok) throw new CodedError(LedgerCodes.TX_BAD_SIGNATURE, 'signature does not verify against the signer did:key');
    return tx;
  }

  /** Admits a tx and resolves with its receipt once its block is durable. */
  async submit(input: unknown): Promise<Receipt> {
    if (this.waiters.size >= (this.options.maxPending ?? 50_000)) {
      throw new CodedError(LedgerCodes.NODE_BUSY, 'too many transactions waiting; retry shortly');
    }
    const tx = await this.checkBeforeDuplicates(input);
    // The duplicate check and the registration below run in one synchronous step: no commit can slip between
    // them, which is what lets `verified` double as a set of ids known to be absent from the store.
    this.assertNotDuplicate(tx);
    return new Promise<Receipt>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(tx.id);
        reject(new CodedError(LedgerCodes.COMMIT_TIMEOUT, 'not committed in time; query the tx id later'));
      }, this.options.commitTimeoutMs ?? 30_000);
      this.waiters.set(tx.id, { resolve, reject, timer });
      this.verified.set(tx.id, tx.signed.sig);
      try {
        this.options.sequencer.enqueue(tx);
      } catch (err) {
        this.settle(tx.id, undefined, new CodedError(LedgerCodes.NODE_STOPPED, (err as Error).message));
      }
    });
  }

  /** See SequencerHost.admitForwarded: txs another peer forwarded for this node to propose (no waiter here). */
  private async admitForwarded(raw: unknown[], accept: (tx: ParsedTx) => void): Promise<number> {
    const checked = await Promise.all(raw.map((input) => this.checkBeforeDuplicates(input).catch(() => undefined)));
    let accepted = 0;
    // One synchronous step from the duplicate checks to the registrations, as in `submit`.
    for (const tx of checked) {
      if (!tx || this.waiters.has(tx.id) || this.verified.has(tx.id) || this.store.hasTx(tx.id)) continue;
      this.verified.set(tx.id, tx.signed.sig);
      accept(tx);
      accepted++;
    }
    return accepted;
  }

  /** Starts the signature checks of a received proposal's txs on the verifier's workers (pure: no state read). */
  private precheck(proposal: BlockProposal): void {
    // Entries of proposals that are skipped rather than committed are never taken: bound the map.
    if (this.prechecked.size > Ledger.PRECHECK_LIMIT) this.prechecked.clear();
    for (const tx of proposal.txs) {
      if (this.verified.get(tx.id) === tx.signed.sig || this.prechecked.get(tx.id)?.sig === tx.signed.sig) continue;
      const ok = this.options.verifier.verify({ publicKey: tx.signerPublicKey, message: txSigningMessage(tx.envelopeBytes), signature: signatureBytes(tx.signed) });
      ok.catch(() => undefined); // a verifier closed meanwhile: commit checks again
      this.prechecked.set(tx.id, { sig: tx.signed.sig, ok });
    }
  }

  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.commitChain.then(run);
    this.commitChain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async commitOne(proposal: BlockProposal): Promise<void> {
    const [rejected] = await this.commitMany([proposal]);
    if (rejected) throw rejected;
  }

  /**
   * Stage two: check, execute and commit consecutive proposals, all in one database transaction — each block's
   * writes are its own, but the B-trees' interior pages are written to the log once for the group instead of once
   * per block (for small blocks, most of the bytes). Resolves once the group is committed, so the sequencer can hand
   * over the next; submitters are answered, and 'block' events and checkpoints follow, once the blocks are also on
   * disk (`SqliteStore.sync`, an fsync off this thread shared by the blocks committed meanwhile), in height order.
   * A rejected proposal is left out (its waiters here get the rejection) and the others still commit; a storage
   * failure rolls the whole group back and rejects.
   */
  private async commitMany(proposals: BlockProposal[]): Promise<Array<ProposalRejected | undefined>> {
    // Signature results are pure and mostly computed already on the workers (precheck): wait for them first, so
    // the transaction below runs without yielding.
    const signatures = await Promise.all(proposals.map((p) => this.signaturesOf(p.txs)));
    const outcomes: Array<ProposalRejected | undefined> = [];
    const executedBlocks: ExecutedBlock[] = [];
    let head = this.cachedHead;
    try {
      this.store.db.transaction(() => {
        proposals.forEach((proposal, i) => {
          try {
            this.executor.checkProposal(proposal, head);
          } catch (err) {
            if (!(err instanceof ProposalRejected)) throw err;
            outcomes[i] = err;
            return;
          }
          const executed = this.executor.execute(proposal, head, signatures[i]!, (id) => this.verified.has(id));
          this.store.commitBlock(executed);
          // Now in the store (the next block's duplicate check finds them there).
          for (const tx of executed.txs) this.verified.delete(tx.id);
          head = headOf(executed.header.height, executed.hash, executed.header);
          executedBlocks.push(executed);
          outcomes[i] = undefined;
        });
      })();
    } catch (err) {
      this.store.forgetCachedValues(); // written by blocks that were rolled back
      for (const proposal of proposals) {
        for (const tx of proposal.txs) {
          this.verified.delete(tx.id);
          this.settle(tx.id, undefined, err as Error);
        }
      }
      throw err;
    }
    this.cachedHead = head;
    proposals.forEach((proposal, i) => {
      const rejected = outcomes[i];
      // Only our own proposal's txs are lost with it: a tx of ours in another peer's rejected proposal (forwarded to
      // it, or a client that sent it to both) is still held by our sequencer, which proposes it or takes it back.
      if (!rejected || proposal.header.proposer !== this.options.node.did) return;
      for (const tx of proposal.txs) {
        // A tx submitted here may be in another, committed block too (a client that sent it to two nodes).
        if (this.store.hasTx(tx.id)) continue;
        this.verified.delete(tx.id);
        this.settle(tx.id, undefined, rejected);
      }
    });
    if (executedBlocks.length > 0) {
      this.durable = this.store.sync().then(
        () => executedBlocks.forEach((b) => this.published(b)),
        (err: Error) => executedBlocks.forEach((b) => this.notDurable(b, err)),
      );
    }
    return outcomes;
  }

  /** Stage three for a durable block: receipts, the 'block' event, a checkpoint when due. */
  private published(executed: ExecutedBlock): void {
    const { header } = executed;
    executed.results.forEach((result, index) => {
      const id = executed.txs[index]!.id;
      this.settle(id, { id, height: header.height, index, blockHash: executed.hash, result });
    });
    this.emit('block', executed);
    this.maybeCheckpoint(headOf(header.height, executed.hash, header));
  }

  /** The block is committed but its fsync failed: its submitters cannot be told it is durable. */
  private notDurable(executed: ExecutedBlock, err: Error): void {
    this.fault(new CodedError('STORAGE_FAULT', `block ${executed.header.height} is committed but not known to be on disk: ${err.message}`));
    for (const tx of executed.txs) {
      this.settle(tx.id, undefined, new CodedError(LedgerCodes.COMMIT_TIMEOUT, 'committed but not confirmed on disk; query the tx id later'));
    }
  }

  private async signaturesOf(txs: ParsedTx[]): Promise<boolean[]> {
    return Promise.all(
      txs.map((tx) => {
        const pre = this.prechecked.get(tx.id);
        if (pre) this.prechecked.delete(tx.id);
        if (this.verified.get(tx.id) === tx.signed.sig) return true;
        if (pre && pre.sig === tx.signed.sig) return pre.ok;
        return this.options.verifier.verify({ publicKey: tx.signerPublicKey, message: txSigningMessage(tx.envelopeBytes), signature: signatureBytes(tx.signed) });
      }),
    );
  }

  private settle(id: string, receipt: Receipt | undefined, err?: Error): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    clearTimeout(w.timer);
    if (receipt) w.resolve(receipt);
    else w.reject(err ?? new Error('not committed'));
  }

  /** Publishes a signed checkpoint of a durable head every `checkpointInterval` blocks. */
  private maybeCheckpoint(head: Head): void {
    const interval = this.options.checkpointInterval ?? 10;
    if (head.height % interval !== 0) return;
    const checkpoint = signCheckpoint(
      { chain: this.chain, height: head.height, blockHash: head.hash, stateHash: head.stateHash, signer: this.options.node.did },
      this.options.node.signer,
    );
    this.store.saveCheckpoint(checkpoint);
    this.emit('checkpoint', checkpoint);
  }

  checkpoints(limit = 100): Checkpoint[] {
    return this.store.checkpoints(Number.MAX_SAFE_INTEGER, limit);
  }

  private fault(err: Error): void {
    this.lastFault = { at: Date.now(), message: err.message };
    this.emit('fault', err);
  }

  /** The inclusion proof of a tx in its block's txRoot. */
  proof(txId: string): InclusionProof {
    const tx = this.store.getTx(txId);
    if (!tx) throw new CodedError(LedgerCodes.NOT_FOUND, `no transaction ${txId}`);
    const block = this.store.getBlock(tx.height)!;
    const ids = this.store.blockTxIds(tx.height);
    return {
      txId,
      height: tx.height,
      index: tx.index,
      treeSize: ids.length,
      path: inclusionProof(ids, tx.index).map((b) => b.toString('hex')),
      txRoot: block.header.txRoot,
      blockHash: block.hash,
    };
  }

  /** Stops sequencing, fails the waiters of txs that never reached a block, and closes the store. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const leftovers = await this.options.sequencer.stop();
    await this.commitChain;
    await this.durable;
    for (const tx of leftovers) this.settle(tx.id, undefined, new CodedError(LedgerCodes.NODE_STOPPED, 'node stopped before commit'));
    for (const id of [...this.waiters.keys()]) this.settle(id, undefined, new CodedError(LedgerCodes.NODE_STOPPED, 'node stopped'));
    await this.store.close();
  }
}
