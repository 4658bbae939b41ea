import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { Ed25519Signer } from '../crypto/index.js';
import { proposeBlock, type BlockProposal } from './block.js';
import { CodedError } from './errors.js';
import { ProposalRejected } from './executor.js';
import { decodeProposal, encodeProposal, PROPOSAL_OVERHEAD_BYTES } from './proposal-wire.js';
import type { Sequencer, SequencerHost } from './sequencer.js';
import type { ParsedTx, TxLimits } from './tx.js';

export interface JetStreamSequencerOptions {
  chain: string;
  proposerDid: string;
  signer: Ed25519Signer;
  limits: TxLimits;
  /** nats-server client URLs; the client fails over between them. */
  servers: string[];
  /** TLS to the servers (PEM file paths), passed to the NATS client as is. */
  tls?: { caFile: string; certFile?: string; keyFile?: string };
  /** Stream name; defaults to one derived from the chain id. */
  stream?: string;
  /** Stream replicas when this peer creates the stream (3 or 5; the servers must be at least that many). */
  replicas?: number;
  maxTxsPerBlock?: number;
  maxWaitMs?: number;
  /** A block is cut before its wire form would exceed this (must stay below the servers' max_payload). */
  maxBlockBytes?: number;
  /** How long to wait for the cluster to accept the stream at start (a fresh cluster elects leaders first). */
  startTimeoutMs?: number;
  now?: () => number;
}

/**
 * Fairness between proposers (a local courtesy, not part of the protocol — any valid proposal is accepted).
 * A peer that loses a race for a slot says so on a plain NATS subject (`…waiting`, not on the stream). While
 * m - 1 other peers have said so within the last second (and have not proposed since), a peer that proposed one of
 * the last m - 1 blocks lets them go first, for at most twice the time it took to execute the last block after that
 * block (a waiting peer must execute it too before it can propose), between 50 ms and 2 s. Without it the peer that consumes
 * fastest wins every race and the others' txs starve into commit timeouts. Without contention nobody waits: an
 * earlier rule that took turns whenever several peers had proposed lately held a lone busy peer back for up to
 * 2 s after an idle spell.
 */
const MIN_PATIENCE_MS = 50;
const MAX_PATIENCE_MS = 2000;
const CONTENTION_MEMORY_MS = 1000;
const RECENT_BLOCKS = 16;

/**
 * The consumer is re-created by us when it owes us messages (the stream is known to hold more than we consumed)
 * and has delivered nothing for this long. The client's own recovery after a server loss waits on missed
 * heartbeats and then backs off for seconds per attempt (measured: consumers idle for more than 15 s after the
 * stream leader was killed, so every queued tx hit its commit timeout).
 */
const CONSUMER_STALL_MS = 2000;
/** With nothing known to be owed, the stream's end is asked for after this long without a delivery (idle peer). */
const STREAM_PROBE_MS = 5000;
const API_TIMEOUT_MS = 1000;

/** NATS JetStream's code for a failed expected-last-sequence condition. */
const WRONG_LAST_SEQUENCE = 10071;

export function streamNameOf(chain: string): string {
  return `MEDCHAIN_${chain.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function blocksSubjectOf(chain: string): string {
  return `medchain.${chain.replace(/[^A-Za-z0-9_-]/g, '_')}.blocks`;
}

/** Plain NATS subject (not on the stream) where a peer that lost a race for a slot says so. */
function waitingSubjectOf(chain: string): string {
  return `medchain.${chain.replace(/[^A-Za-z0-9_-]/g, '_')}.waiting`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The replicated sequencer: blocks are messages on a JetStream stream replicated over a nats-server cluster
 * (Raft inside NATS; we write no consensus).
 *
 * - Proposing: a peer proposes its own users' txs on top of the head it has committed, publishing with the
 *   expected-last-sequence condition set to the last stream message it has consumed. JetStream appends it only
 *   if no other message got there first, so exactly one proposal wins each slot and the chain never forks.
 *   A peer that loses the race (or cannot learn the outcome) puts its txs back and proposes them again once
 *   it has consumed the winner.
 * - Committing: every peer, the proposer included, consumes the stream in order from its own committed height
 *   and hands each proposal to the ledger, which checks the proposer's signature, the tx signatures and the
 *   link, executes it with the same executor as the solo sequencer and commits it. A submitter's tx is thus
 *   acknowledged only once committed on the node it was submitted to.
 * - Stream sequence vs height: height h is normally at stream sequence h (genesis, height 0, is not on the
 *   stream). A message that is not a valid proposal for the next height (malformed, stale, badly signed) is
 *   skipped by every peer alike, so sequences can run ahead of heights but never behind: a peer resumes from
 *   sequence `height + 1` and skips what it already has.
 */
export class JetStreamSequencer implements Sequencer {
  readonly kind = 'jetstream';
  private host: SequencerHost | undefined;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private messages: ConsumerMessages | undefined;
  private consumeLoopDone: Promise<void> = Promise.resolve();
  /**
   * Messages received and not yet handed to the ledger, decoded on arrival with their signature checks already
   * started on the worker threads, so the checks of block h + 1 run while block h executes.
   */
  private backlog: Received[] = [];
  /** Highest stream sequence put in the backlog (a re-created consumer redelivers what is still there). */
  private acceptedSeq = 0;
  private draining: Promise<void> | undefined;
  private drainFailed = false;
  private readonly stream: string;
  private readonly subject: string;
  private readonly maxTxs: number;
  private readonly maxWaitMs: number;
  private readonly maxBlockBytes: number;
  private readonly now: () => number;

  private queue: ParsedTx[] = [];
  private queuedIds = new Set<string>();
  /** Proposers of the last RECENT_BLOCKS blocks committed from the stream, and when the last one came. */
  private recentProposers: string[] = [];
  private lastBlockAt = 0;
  /** How long executing and committing the last block took here (ms): a waiting peer needs about as long. */
  private lastCommitMs = 0;
  /** Other peers that lost a race lately, and when they said so. */
  private readonly waitingPeers = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Our proposal being appended or waiting to come back on the stream. */
  private inFlight: { proposal: BlockProposal; seq?: number } | undefined;
  private publishing = false;
  private processing = false;
  private stopped = true;
  /** Last stream sequence handed to the ledger (or skipped); proposals are appended after it. */
  private consumedSeq = 0;
  /** Highest stream sequence known to exist; the peer is caught up when it has consumed that far. */
  private knownStreamSeq = 0;
  private caughtUpWaiters: Array<{ target: number; resolve: () => void }> = [];
  private stats = { proposed: 0, lostRaces: 0, unknownOutcomes: 0, skipped: 0, watchdogKicks: 0, consumerRestarts: 0 };
  /** When the consumer last delivered a message (or was created). */
  private lastDeliveryAt = 0;
  private probing = false;
  private publishedAt = 0;
  /** Moving averages (ms) of where a block's time goes: publish to ack, execution and commit, publish to own commit. */
  private timings: Record<string, number> = {};
  /** The largest of each since start (where a latency tail comes from). */
  private maxTimings: Record<string, number> = {};
  /** When this peer first held back for another (see turnWaitMs), until it proposes. */
  private heldBackSince: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly options: JetStreamSequencerOptions) {
    this.stream = options.stream ?? streamNameOf(options.chain);
    this.subject = blocksSubjectOf(options.chain);
    this.maxTxs = options.maxTxsPerBlock ?? 2000;
    this.maxWaitMs = options.maxWaitMs ?? 5;
    this.maxBlockBytes = options.maxBlockBytes ?? 4 * 1024 * 1024;
    this.now = options.now ?? Date.now;
  }

  async start(host: SequencerHost): Promise<void> {
    this.host = host;
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30_000);
    const nc = await connect({
      servers: this.options.servers,
      name: `medchain ${this.options.proposerDid.slice(-12)}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 2000,
      timeout: 5000,
      ...(this.options.tls ? { tls: this.options.tls } : {}),
    });
    this.nc = nc;
    try {
      // Short API timeouts: while the stream elects a new leader, requests go unanswered, and a retry after a 1 s
      // timeout learns of the new leader seconds sooner than one after the client's default of 5 s.
      this.jsm = await retryUntil(deadline, () => jetstreamManager(nc, { timeout: API_TIMEOUT_MS }));
      this.js = jetstream(nc, { timeout: API_TIMEOUT_MS });
      const lastSeq = await retryUntil(deadline, () => this.ensureStream());
      const head = host.head();
      if (lastSeq < head.height) {
        throw new CodedError(
          'STREAM_BEHIND',
          `stream ${this.stream} ends at sequence ${lastSeq} but this node has committed height ${head.height}: wrong cluster or a lost stream`,
        );
      }
      this.consumedSeq = head.height;
      this.knownStreamSeq = lastSeq;
    } catch (err) {
      await nc.close();
      throw err;
    }
    this.stopped = false;
    this.consumeLoopDone = this.consumeLoop();
    const me = this.options.proposerDid;
    nc.subscribe(waitingSubjectOf(this.options.chain), {
      callback: (err, msg) => {
        const did = err ? undefined : msg.string();
        if (did && did !== me) this.waitingPeers.set(did, performance.now());
      },
    });
    // A safety net, counted in status(): queued txs with nothing scheduled to propose them would wait forever.
    this.watchdog = setInterval(() => {
      if (this.queue.length > 0 && !this.timer && !this.publishing && !this.processing && !this.inFlight && this.caughtUp()) {
        this.stats.watchdogKicks++;
        this.cutSoon(0);
      }
      this.checkConsumer();
    }, 500);
    this.watchdog.unref();
  }

  /** Creates the stream if no peer has yet; returns its last sequence. */
  private async ensureStream(): Promise<number> {
    const jsm = this.jsm!;
    try {
      return (await jsm.streams.info(this.stream)).state.last_seq;
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err; // 10059: stream not found
    }
    const info = await jsm.streams.add({
      name: this.stream,
      subjects: [this.subject],
      num_replicas: this.options.replicas ?? 3,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      // The stream is the consortium's history: nothing is ever aged out (a new member syncs from genesis).
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
      max_msg_size: this.maxBlockBytes + PROPOSAL_OVERHEAD_BYTES,
    });
    return info.state.last_seq;
  }

  enqueue(tx: ParsedTx): void {
    if (this.stopped || !this.host) throw new Error('sequencer is not running');
    this.queue.push(tx);
    this.queuedIds.add(tx.id);
    this.cutSoon(this.queue.length >= this.maxTxs ? 0 : this.maxWaitMs);
  }

  pending(): number {
    return this.queue.length + (this.inFlight?.proposal.txs.length ?? 0);
  }

  /** Whether this peer has consumed every message the stream is known to hold. */
  caughtUp(): boolean {
    return this.consumedSeq >= this.knownStreamSeq;
  }

  /**
   * Resolves once the peer has consumed the stream as far as it was known to reach at the call (a fixed target:
   * under load the stream keeps growing, and a restarted node need not chase every block appended meanwhile).
   */
  whenCaughtUp(): Promise<void> {
    const target = this.knownStreamSeq;
    if (this.consumedSeq >= target) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push({ target, resolve }));
  }

  status(): Record<string, unknown> {
    return {
      stream: this.stream,
      connected: this.nc !== undefined && !this.nc.isClosed(),
      server: this.nc?.getServer(),
      consumedSeq: this.consumedSeq,
      streamSeq: this.knownStreamSeq,
      caughtUp: this.caughtUp(),
      ...this.stats,
      // What the proposer is doing now: a peer whose queue stays non-empty shows here why it does not propose.
      queued: this.queue.length,
      inFlight: this.inFlight ? { height: this.inFlight.proposal.header.height, txs: this.inFlight.proposal.txs.length, seq: this.inFlight.seq ?? null } : null,
      publishing: this.publishing,
      processing: this.processing,
      proposeScheduled: this.timer !== undefined,
      msSinceLastBlock: this.lastBlockAt > 0 ? Math.round(performance.now() - this.lastBlockAt) : null,
      timingsMs: Object.fromEntries(Object.entries(this.timings).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      maxTimingsMs: Object.fromEntries(Object.entries(this.maxTimings).map(([k, v]) => [k, Math.round(v)])),
    };
  }

  async stop(): Promise<ParsedTx[]> {
    if (this.stopped) return [];
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.messages?.stop();
    const deadline = Date.now() + 5000;
    while ((this.processing || this.publishing) && Date.now() < deadline) await sleep(2);
    await Promise.race([this.consumeLoopDone, sleep(2000)]);
    await this.nc?.close().catch(() => undefined);
    const left = [...(this.inFlight?.proposal.txs ?? []), ...this.queue];
    this.inFlight = undefined;
    this.queue = [];
    this.queuedIds.clear();
    for (const w of this.caughtUpWaiters.splice(0)) w.resolve();
    return left;
  }

  private timing(name: string, ms: number): void {
    const old = this.timings[name];
    this.timings[name] = old === undefined ? ms : 0.9 * old + 0.1 * ms;
    this.maxTimings[name] = Math.max(this.maxTimings[name] ?? 0, ms);
  }

  // ---- consuming ----------------------------------------------------------------------------------------------

  /** Re-creates a consumer that owes us messages and has gone quiet; asks the stream's end when long quiet. */
  private checkConsumer(): void {
    if (this.stopped || this.processing) return;
    const quietMs = performance.now() - this.lastDeliveryAt;
    const owed = this.knownStreamSeq > this.consumedSeq || (this.inFlight?.seq ?? 0) > this.consumedSeq;
    if (owed && quietMs > CONSUMER_STALL_MS) {
      this.stats.consumerRestarts++;
      this.lastDeliveryAt = performance.now();
      this.host!.onError(new CodedError('SEQUENCER_FAULT', `the block consumer delivered nothing for ${Math.round(quietMs)} ms with messages owed: re-creating it`));
      this.messages?.stop();
    } else if (!owed && quietMs > (this.queue.length > 0 || this.inFlight ? CONSUMER_STALL_MS : STREAM_PROBE_MS) && !this.probing) {
      this.probing = true;
      this.jsm!.streams
        .info(this.stream)
        .then((info) => void (this.knownStreamSeq = Math.max(this.knownStreamSeq, info.state.last_seq)))
        .catch(() => undefined)
        .finally(() => {
          this.probing = false;
          // A probe that finds nothing new counts as a sign of life, so an idle peer asks once per interval.
          if (this.knownStreamSeq <= this.consumedSeq) this.lastDeliveryAt = performance.now();
        });
    }
  }

  private async consumeLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        // An ordered consumer: ephemeral, in order, and re-created by the client from the last delivered
        // sequence when a server fails, so a peer rides through the loss of the server it is connected to.
        const consumer = await this.js!.consumers.get(this.stream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.consumedSeq + 1,
        });
        // Short pulls and heartbeats: a consumer lost with a failed server is noticed (two missed heartbeats)
        // and re-created within seconds instead of the client's default of a minute.
        this.messages = await consumer.consume({ max_messages: 64, expires: 5000, idle_heartbeat: 1000 });
        this.lastDeliveryAt = performance.now();
        if (this.stopped) this.messages.stop();
        for await (const m of this.messages) {
          if (this.stopped) break;
          this.lastDeliveryAt = performance.now();
          this.accept(m.seq, m.data, m.info.pending);
          // Back-pressure: at most about one pull's worth of decoded blocks waits in memory.
          while (this.backlog.length >= 64 && this.draining) await this.draining;
        }
        if (this.drainFailed) {
          this.drainFailed = false;
          await sleep(500);
        }
      } catch (err) {
        this.messages?.stop();
        if (this.stopped) break;
        this.host!.onError(new CodedError('SEQUENCER_FAULT', `consuming the block stream failed: ${(err as Error).message}`));
        await sleep(500);
      }
    }
  }

  /** Queues a received message: decoded now, its signatures checked in the background, delivered in order. */
  private accept(seq: number, data: Uint8Array, pending: number): void {
    if (seq <= this.consumedSeq || seq <= this.acceptedSeq) return; // redelivery after a consumer reset
    this.acceptedSeq = seq;
    const item: Received = { seq, pending };
    if (this.inFlight?.seq === seq) item.proposal = this.inFlight.proposal; // our own: not decoded again
    else {
      try {
        item.proposal = decodeProposal(data, this.options.limits);
        this.host!.prepare?.(item.proposal);
      } catch (err) {
        item.error = (err as Error).message;
      }
    }
    this.backlog.push(item);
    this.draining ??= this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.backlog.length > 0 && !this.stopped) {
        await this.deliver(this.backlog.shift()!);
        this.lastDeliveryAt = performance.now();
      }
    } catch (err) {
      // A storage failure: drop what was decoded and read again from the first message not committed.
      this.backlog = [];
      this.acceptedSeq = this.consumedSeq;
      this.drainFailed = true;
      this.host!.onError(new CodedError('SEQUENCER_FAULT', `committing from the block stream failed: ${(err as Error).message}`));
      this.messages?.stop();
    } finally {
      this.draining = undefined;
    }
  }

  /** Hands one received message to the ledger; a storage failure propagates (see drain). */
  private async deliver(item: Received): Promise<void> {
    const { seq, pending } = item;
    if (seq <= this.consumedSeq) return;
    const host = this.host!;
    this.processing = true;
    try {
      const own = this.inFlight?.seq === seq ? this.inFlight.proposal : undefined;
      const proposal: BlockProposal | undefined = own ?? item.proposal;
      if (!proposal) this.skip(seq, item.error ?? 'no proposal');
      // Anything not proposing the very next height was superseded (or is what we already have): skip it.
      if (proposal && proposal.header.height === host.head().height + 1) {
        try {
          const started = performance.now();
          await host.commit(proposal);
          this.lastCommitMs = performance.now() - started;
          this.timing('commitMs', this.lastCommitMs);
          if (own || this.isOurs(proposal)) this.timing('ownRoundTripMs', performance.now() - this.publishedAt);
          // A peer that was waiting has had its turn once its block lands: holding back for it further would
          // only delay this peer (its signal may be a second old and its queue empty by now).
          this.waitingPeers.delete(proposal.header.proposer);
          this.recentProposers.push(proposal.header.proposer);
          if (this.recentProposers.length > RECENT_BLOCKS) this.recentProposers.shift();
          this.lastBlockAt = performance.now();
          this.forgetCommitted(proposal);
        } catch (err) {
          if (!(err instanceof ProposalRejected)) throw err;
          this.skip(seq, err.message);
        }
      }
      if (this.inFlight && (own || this.isOurs(proposal) || (this.inFlight.seq !== undefined && this.inFlight.seq <= seq))) {
        this.inFlight = undefined;
      }
      this.consumedSeq = seq;
      this.knownStreamSeq = Math.max(this.knownStreamSeq, seq + pending);
    } finally {
      this.processing = false;
    }
    if (this.caughtUpWaiters.length > 0) {
      const reached = this.caughtUpWaiters.filter((w) => w.target <= this.consumedSeq);
      this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.target > this.consumedSeq);
      for (const w of reached) w.resolve();
    }
    if (this.queue.length > 0) this.cutSoon(0);
  }

  /** Whether a delivered proposal is our in-flight one (when the publish outcome was not heard). */
  private isOurs(proposal: BlockProposal | undefined): boolean {
    const mine = this.inFlight?.proposal.header;
    return !!proposal && !!mine && proposal.header.proposer === mine.proposer && proposal.header.txRoot === mine.txRoot && proposal.header.height === mine.height;
  }

  private skip(seq: number, why: string): void {
    this.stats.skipped++;
    this.host!.onError(new CodedError('PROPOSAL_SKIPPED', `stream message ${seq} skipped: ${why}`));
  }

  /** Drops txs from our queue that another proposal already committed (a client that submitted twice). */
  private forgetCommitted(proposal: BlockProposal): void {
    if (this.queuedIds.size === 0) return;
    let hit = false;
    for (const tx of proposal.txs) if (this.queuedIds.delete(tx.id)) hit = true;
    if (hit) this.queue = this.queue.filter((t) => this.queuedIds.has(t.id));
  }

  // ---- proposing ----------------------------------------------------------------------------------------------

  private cutSoon(delayMs: number): void {
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.propose();
    }, delayMs);
  }

  private takeBatch(): ParsedTx[] {
    let bytes = PROPOSAL_OVERHEAD_BYTES;
    let n = 0;
    while (n < this.queue.length && n < this.maxTxs) {
      const size = this.queue[n]!.storedBytes.length + 1;
      if (n > 0 && bytes + size > this.maxBlockBytes) break;
      bytes += size;
      n++;
    }
    const txs = this.queue.splice(0, n);
    for (const t of txs) this.queuedIds.delete(t.id);
    return txs;
  }

  /** 0 when it is this peer's turn to propose (see MIN_PATIENCE_MS), else how long until it may anyway. */
  private turnWaitMs(): number {
    const me = this.options.proposerDid;
    const now = performance.now();
    let waiting = 0;
    for (const [did, at] of this.waitingPeers) {
      if (now - at > CONTENTION_MEMORY_MS) this.waitingPeers.delete(did);
      else waiting++;
    }
    if (waiting === 0 || !this.recentProposers.slice(-waiting).includes(me)) return 0;
    // The waiting peer must first execute the block this peer just committed: give it twice as long as that took.
    const patience = Math.min(MAX_PATIENCE_MS, Math.max(MIN_PATIENCE_MS, 2 * this.lastCommitMs));
    return Math.max(0, Math.ceil(this.lastBlockAt + patience - now));
  }

  private requeue(txs: ParsedTx[]): void {
    this.queue = [...txs, ...this.queue];
    for (const t of txs) this.queuedIds.add(t.id);
  }

  private async propose(): Promise<void> {
    const host = this.host;
    if (!host || this.stopped || this.publishing || this.processing || this.inFlight || this.queue.length === 0) return;
    if (!this.caughtUp()) {
      void this.whenCaughtUp().then(() => this.cutSoon(0));
      return;
    }
    const wait = this.turnWaitMs();
    if (wait > 0) {
      this.heldBackSince ??= performance.now();
      this.cutSoon(wait);
      return;
    }
    if (this.heldBackSince !== undefined) this.timing('heldBackMs', performance.now() - this.heldBackSince);
    this.heldBackSince = undefined;
    this.publishing = true;
    const txs = this.takeBatch();
    const head = host.head();
    const expectedLastSeq = this.consumedSeq;
    const proposal = proposeBlock(this.options, head, txs, this.now());
    const inFlight: { proposal: BlockProposal; seq?: number } = { proposal };
    this.inFlight = inFlight;
    this.publishedAt = performance.now();
    try {
      const ack = await this.js!.publish(this.subject, encodeProposal(proposal), {
        expect: { lastSequence: expectedLastSeq, streamName: this.stream },
        // Past this the outcome is unknown and is learned from the stream (resolveUnknownOutcome).
        timeout: 2000,
      });
      this.stats.proposed++;
      this.timing('publishAckMs', performance.now() - this.publishedAt);
      if (this.inFlight === inFlight) {
        if (ack.seq <= this.consumedSeq) this.inFlight = undefined; // already consumed (and committed) meanwhile
        else inFlight.seq = ack.seq;
      }
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        // Another peer's proposal got this slot: ours was not appended. Propose again after consuming theirs.
        this.stats.lostRaces++;
        this.nc?.publish(waitingSubjectOf(this.options.chain), this.options.proposerDid);
        this.knownStreamSeq = Math.max(this.knownStreamSeq, expectedLastSeq + 1);
        if (this.inFlight === inFlight) this.inFlight = undefined;
        this.requeue(txs);
      } else {
        // Timeout or lost connection: the block may or may not be on the stream. Find out before retrying.
        this.stats.unknownOutcomes++;
        if (!this.stopped) host.onError(new CodedError('SEQUENCER_FAULT', `proposing failed: ${(err as Error).message}`));
        await this.resolveUnknownOutcome(inFlight);
      }
    } finally {
      this.publishing = false;
    }
    if (this.queue.length > 0 && !this.inFlight) this.cutSoon(0);
  }

  /** Learns the stream's end, consumes up to it, and puts the txs back if the proposal did not land. */
  private async resolveUnknownOutcome(inFlight: { proposal: BlockProposal }): Promise<void> {
    while (!this.stopped) {
      try {
        const last = (await this.jsm!.streams.info(this.stream)).state.last_seq;
        this.knownStreamSeq = Math.max(this.knownStreamSeq, last);
        break;
      } catch {
        await sleep(250);
      }
    }
    await this.whenCaughtUp();
    if (this.inFlight === inFlight) {
      this.inFlight = undefined;
      this.requeue(inFlight.proposal.txs);
    }
  }
}

interface Received {
  seq: number;
  /** Messages the consumer said were still pending after this one. */
  pending: number;
  proposal?: BlockProposal;
  /** Why the message is not a proposal (skipped by every peer alike). */
  error?: string;
}

async function retryUntil<T>(deadline: number, attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
