import type { Ed25519Signer } from '../crypto/index.js';
import { proposeBlock } from './block.js';
import type { Sequencer, SequencerHost } from './sequencer.js';
import type { ParsedTx } from './tx.js';

export interface SoloSequencerOptions {
  chain: string;
  proposerDid: string;
  signer: Ed25519Signer;
  /** Cut a block as soon as this many txs wait. */
  maxTxsPerBlock?: number;
  /** Otherwise cut this long after the first tx arrived. */
  maxWaitMs?: number;
  now?: () => number;
}

/**
 * The embedded sequencer: one process orders everything. Batching is adaptive — while a block commits,
 * new txs accumulate, so under load blocks grow up to `maxTxsPerBlock`; when idle a tx waits at most `maxWaitMs`.
 */
export class SoloSequencer implements Sequencer {
  readonly kind = 'solo';
  private host: SequencerHost | undefined;
  private queue: ParsedTx[] = [];
  private timer: NodeJS.Timeout | undefined;
  private committing = false;
  private stopped = false;
  private readonly maxTxs: number;
  private readonly maxWaitMs: number;
  private readonly now: () => number;

  constructor(private readonly options: SoloSequencerOptions) {
    this.maxTxs = options.maxTxsPerBlock ?? 2000;
    this.maxWaitMs = options.maxWaitMs ?? 5;
    this.now = options.now ?? Date.now;
  }

  async start(host: SequencerHost): Promise<void> {
    this.host = host;
    this.stopped = false;
  }

  enqueue(tx: ParsedTx): void {
    if (this.stopped || !this.host) throw new Error('sequencer is not running');
    this.queue.push(tx);
    if (this.queue.length >= this.maxTxs) this.cutSoon(0);
    else if (!this.timer) this.cutSoon(this.maxWaitMs);
  }

  pending(): number {
    return this.queue.length;
  }

  async stop(): Promise<ParsedTx[]> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.committing) await new Promise((r) => setTimeout(r, 1));
    const left = this.queue;
    this.queue = [];
    return left;
  }

  private cutSoon(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.cut();
    }, delayMs);
  }

  private async cut(): Promise<void> {
    const host = this.host;
    if (this.committing || this.stopped || !host || this.queue.length === 0) return;
    this.committing = true;
    const txs = this.queue.splice(0, this.maxTxs);
    try {
      const head = host.head();
      // Solo: the slot is the height (one proposer, nothing skipped).
      await host.commit(proposeBlock(this.options, { slot: head.slot + 1, minTime: head.time }, txs, this.now()));
    } catch (err) {
      host.onError(err as Error);
    } finally {
      this.committing = false;
    }
    if (this.queue.length >= this.maxTxs) this.cutSoon(0);
    else if (this.queue.length > 0 && !this.timer) this.cutSoon(0);
  }
}
