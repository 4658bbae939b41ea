import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
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
import { proposeBlock, verifyProposalSignature, type BlockProposal } from './block.js';
import { CodedError } from './errors.js';
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
  /**
   * The longest a tx waits in this peer's queue before a proposal is cut for it (default 50 ms). Every block costs
   * every peer a fixed amount of work (a database transaction, hashes, a signature, a log sync), so at moderate load a
   * longer wait trades a few ms of latency for fewer, larger blocks.
   */
  maxWaitMs?: number;
  /** A proposal is cut at once, without waiting, when this many txs are queued (default 500). */
  minBlockTxs?: number;
  /**
   * How many of this peer's proposals may be appended and not yet committed here (default 1): the next is cut once
   * one commits, so a busy peer's blocks grow with its load while the other peers' proposals are in flight too.
   */
  maxOutstanding?: number;
  /** A block is cut before its wire form would exceed this (must stay below the servers' max_payload). */
  maxBlockBytes?: number;
  /**
   * Forward this peer's txs to the peer that proposed the latest block while that peer keeps proposing (default
   * true), so that under load one peer at a time proposes: larger blocks and no races lost. See `forwardTarget`.
   */
  forwardToLeader?: boolean;
  /** A forwarded tx not committed here within this long is taken back and proposed by this peer (default 1500 ms). */
  forwardTimeoutMs?: number;
  /** The proposer of the latest block leads while that block is younger than this (default 1000 ms; see forwardTarget). */
  leaderFreshMs?: number;
  /** How long to wait for the cluster to accept the stream at start (a fresh cluster elects leaders first). */
  startTimeoutMs?: number;
  now?: () => number;
}

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
/** Below this many own txs per `maxWaitMs`, a peer proposes without waiting for more (see scheduleCut). */
const LIGHT_LOAD_TXS = 8;
/** At most this many received blocks, and txs in them, are committed in one database transaction (the JS thread is
 * busy for the whole group: 2,000 txs is ~0.2 s here). */
const MAX_GROUP_BLOCKS = 16;
const MAX_GROUP_TXS = 2000;

/** Own txs are gathered this long before they are forwarded in one message (a few ms of latency, far fewer messages). */
const FORWARD_BATCH_MS = 2;
/** Forwarded txs go in messages of at most this many bytes (well below the servers' max_payload). */
const FORWARD_MAX_BYTES = 256 * 1024;
/** How long the leader has to acknowledge a forwarded message (it checks the txs' signatures first). */
const FORWARD_REPLY_MS = 1000;
/** After forwarding to a peer failed, this peer proposes its own txs for this long before it forwards to that peer again. */
const AVOID_AFTER_FAILURE_MS = 2000;

/** NATS JetStream's code for a failed expected-last-sequence condition. */
const WRONG_LAST_SEQUENCE = 10071;

/** A chain id, DID or institution id as one NATS subject token (also valid in a stream name). */
export function subjectToken(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}

export function streamNameOf(chain: string): string {
  return `MEDCHAIN_${subjectToken(chain)}`;
}

export function blocksSubjectOf(chain: string): string {
  return `medchain.${subjectToken(chain)}.blocks`;
}

/** The core-NATS subject on which a peer takes txs forwarded to it (one per peer: its DID, made subject-safe). */
export function forwardSubjectOf(chain: string, did: string): string {
  return `medchain.${subjectToken(chain)}.fwd.${subjectToken(did)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Lets timers and I/O run. Without it, a backlog of received blocks whose signature checks are done is decoded and
 * committed in one run of microtasks lasting seconds (measured while a new node caught up): the NATS client's
 * heartbeat monitor, a timer, then saw two missed heartbeats, re-created the consumer, and our watchdog re-created it
 * again 2 s later; the API did not answer meanwhile either.
 */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));
/** The consume loop yields at least this often (ms of decoding). */
const YIELD_EVERY_MS = 10;
/** At most about this many txs wait decoded in the backlog (their signature checks run on the workers meanwhile). */
const MAX_BACKLOG_TXS = 8000;

/**
 * The replicated sequencer: proposals are messages on a JetStream stream replicated over a nats-server cluster
 * (Raft inside NATS; we write no consensus). The stream's order is the chain's order.
 *
 * - Proposing: a peer proposes its own users' txs for the stream position right after the last message it has
 *   *received* (`slot`), publishing with the expected-last-sequence condition set to that message. JetStream
 *   appends it only there, or not at all, so exactly one proposal wins each position and the chain never forks.
 *   The proposal does not name the previous block (every peer links it to its own head when it executes it), so a
 *   peer need not have executed the blocks before it: proposals of several peers are in flight while every peer
 *   executes the stream (a pipeline, not one block at a time). A peer that loses a race puts its txs back and
 *   proposes again once it has received the winner; it keeps at most `maxOutstanding` of its own proposals between
 *   append and local commit, so under load blocks grow instead of multiplying.
 * - Committing: every peer, the proposer included, consumes the stream in order from its own committed slot and
 *   hands each proposal to the ledger, which checks the proposer's signature, the tx signatures, slot and time,
 *   executes it with the same executor as the solo sequencer and commits it. A submitter's tx is thus acknowledged
 *   only once committed on the node it was submitted to.
 * - Forwarding: three peers that each propose their own users' txs cut small blocks and race for every position
 *   (measured: at half of peak, ~35-tx blocks and one proposal in eight lost). So the peer that proposed the latest
 *   block leads while it keeps proposing: the others forward their txs to it over core NATS (request/reply, batched
 *   for a few ms), and it admits them as its own (signatures checked, duplicates dropped) and proposes them. A
 *   forwarding peer keeps each tx until it sees it committed; one the leader refuses, does not answer for, or does
 *   not commit within `forwardTimeoutMs` it takes back and proposes itself (a tx in two proposals is executed once;
 *   the second copy is recorded as a duplicate). The stream still decides every position, so a stale or dead
 *   leader costs latency, never a fork. A peer never forwards what was forwarded to it (no loops).
 * - A message that is not a valid proposal for its own position (malformed, badly signed, a copy of a proposal made
 *   for another position, by a non-member) is skipped by every peer alike: blocks are the valid proposals in
 *   stream order, heights count them, and a peer resumes from sequence `head.slot + 1`.
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
  /** Txs in the backlog's proposals. */
  private backlogTxs = 0;
  /** Resolved whenever the backlog shrinks (the consume loop waits on it while the backlog is full). */
  private progressWaiters: Array<() => void> = [];
  /** Highest stream sequence put in the backlog (a re-created consumer redelivers what is still there). */
  private acceptedSeq = 0;
  private draining: Promise<void> | undefined;
  private drainFailed = false;
  private readonly stream: string;
  private readonly subject: string;
  private readonly maxTxs: number;
  private readonly maxWaitMs: number;
  private readonly minBlockTxs: number;
  private readonly maxBlockBytes: number;
  private readonly now: () => number;

  private queue: ParsedTx[] = [];
  private queuedIds = new Set<string>();
  /** When our latest txs were queued (the last `maxWaitMs`, oldest first from `recentFrom`): our own load. */
  private recentQueued: number[] = [];
  private recentFrom = 0;
  /** When each queued tx was first queued (a tx queued again after a lost race keeps its time). */
  private readonly queuedAt = new WeakMap<ParsedTx, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Our proposal being appended (its expected predecessor is `slot - 1`) and its wire bytes, to recognise it on the stream without decoding it. */
  private publishing: { proposal: BlockProposal; bytes: Buffer } | undefined;
  /** Our proposals appended to the stream (by sequence) and not yet committed here. */
  private readonly outstanding = new Map<number, BlockProposal>();
  private processing = false;
  private stopped = true;
  /** Latest time of a block or correctly signed proposal seen: our next proposal's time is at least this. */
  private lastSeenTime = 0;
  /** When the last block was committed here (for the status API). */
  private lastBlockAt = 0;
  /** Last stream sequence handed to the ledger (or skipped); proposals are appended after it. */
  private consumedSeq = 0;
  /** Highest stream sequence known to exist; the peer is caught up when it has consumed that far. */
  private knownStreamSeq = 0;
  private caughtUpWaiters: Array<{ target: number; resolve: () => void }> = [];
  private stats = { proposed: 0, lostRaces: 0, unknownOutcomes: 0, skipped: 0, watchdogKicks: 0, consumerRestarts: 0 };
  private readonly maxOutstanding: number;
  /** When the consumer last delivered a message (or was created). */
  private lastDeliveryAt = 0;
  private probing = false;
  /** When each of our outstanding proposals was published (round-trip timing). */
  private readonly publishedAt = new Map<number, number>();
  /** Moving averages (ms) of where a block's time goes: publish to ack, execution and commit, publish to own commit. */
  private timings: Record<string, number> = {};
  /** The largest of each since start (where a latency tail comes from). */
  private maxTimings: Record<string, number> = {};
  private watchdog: NodeJS.Timeout | undefined;
  private readonly forwardEnabled: boolean;
  private readonly forwardTimeoutMs: number;
  private readonly leaderFreshMs: number;
  /** The proposer of the latest block committed here at the stream's end, and when. */
  private leader: { did: string; at: number } | undefined;
  /** A peer that forwarding to failed lately (see AVOID_AFTER_FAILURE_MS). */
  private avoid: { did: string; until: number } | undefined;
  /** Own txs gathered for the next forwarded message. */
  private forwardBuffer: ParsedTx[] = [];
  private forwardTimer: NodeJS.Timeout | undefined;
  /** Own txs forwarded and not yet seen committed here (insertion order is forwarding order): id -> tx, when, to whom. */
  private readonly forwarded = new Map<string, { tx: ParsedTx; at: number; to: string }>();
  /** The same txs by signature: found in the leader's blocks without parsing them again (decodeProposal's `known`). */
  private readonly forwardedBySig = new Map<string, ParsedTx>();
  private forwardSub: Subscription | undefined;
  private forwardStats = { forwardedTxs: 0, forwardFailures: 0, takenBack: 0, receivedTxs: 0, receivedDropped: 0, reusedTxs: 0 };

  constructor(private readonly options: JetStreamSequencerOptions) {
    this.stream = options.stream ?? streamNameOf(options.chain);
    this.subject = blocksSubjectOf(options.chain);
    this.maxTxs = options.maxTxsPerBlock ?? 2000;
    this.maxWaitMs = options.maxWaitMs ?? 50;
    this.minBlockTxs = Math.max(1, Math.min(options.minBlockTxs ?? 500, this.maxTxs));
    this.maxBlockBytes = options.maxBlockBytes ?? 4 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.maxOutstanding = Math.max(1, options.maxOutstanding ?? 1);
    this.forwardEnabled = options.forwardToLeader ?? true;
    this.forwardTimeoutMs = options.forwardTimeoutMs ?? 1500;
    this.leaderFreshMs = options.leaderFreshMs ?? 1000;
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
      if (lastSeq < head.slot) {
        throw new CodedError(
          'STREAM_BEHIND',
          `stream ${this.stream} ends at sequence ${lastSeq} but this node has committed the block at sequence ${head.slot}: wrong cluster or a lost stream`,
        );
      }
      this.consumedSeq = head.slot;
      this.acceptedSeq = head.slot;
      this.knownStreamSeq = lastSeq;
      this.lastSeenTime = head.time;
    } catch (err) {
      await nc.close();
      throw err;
    }
    this.stopped = false;
    // Always listening, also with forwarding off here: other peers may forward to this one.
    this.forwardSub = nc.subscribe(forwardSubjectOf(this.options.chain, this.options.proposerDid), {
      callback: (err, m) => {
        if (!err) void this.receiveForwarded(m);
      },
    });
    this.consumeLoopDone = this.consumeLoop();
    // A safety net, counted in status(): queued txs with nothing scheduled to propose them would wait forever.
    this.watchdog = setInterval(() => {
      if (this.queue.length > 0 && !this.timer && this.mayPropose()) {
        this.stats.watchdogKicks++;
        this.scheduleCut();
      }
      this.checkConsumer();
      this.takeBackOverdue();
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
    const now = performance.now();
    if (!this.queuedAt.has(tx)) this.queuedAt.set(tx, now);
    if (this.forwardTarget(now)) {
      this.forwardBuffer.push(tx);
      this.forwardTimer ??= setTimeout(() => this.flushForward(), FORWARD_BATCH_MS);
      return;
    }
    this.queueHere(tx, now);
  }

  /** Queues a tx for this peer to propose (its own, or one forwarded to it). */
  private queueHere(tx: ParsedTx, now: number): void {
    this.queue.push(tx);
    this.queuedIds.add(tx.id);
    if (!this.queuedAt.has(tx)) this.queuedAt.set(tx, now);
    this.recentQueued.push(now);
    this.recentLoad(now); // prunes, also while we may not propose
    this.scheduleCut();
  }

  pending(): number {
    let n = this.queue.length + (this.publishing?.proposal.txs.length ?? 0) + this.forwardBuffer.length + this.forwarded.size;
    for (const p of this.outstanding.values()) n += p.txs.length;
    return n;
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
      ...this.forwardStats,
      leader: this.leader?.did ?? null,
      forwardedWaiting: this.forwarded.size,
      // What the proposer is doing now: a peer whose queue stays non-empty shows here why it does not propose.
      queued: this.queue.length,
      receivedSeq: this.acceptedSeq,
      publishing: this.publishing ? { slot: this.publishing.proposal.header.slot, txs: this.publishing.proposal.txs.length } : null,
      outstanding: [...this.outstanding.entries()].map(([seq, p]) => ({ seq, txs: p.txs.length })),
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
    if (this.forwardTimer) clearTimeout(this.forwardTimer);
    this.forwardTimer = undefined;
    this.forwardSub?.unsubscribe();
    this.messages?.stop();
    const deadline = Date.now() + 5000;
    while ((this.processing || this.publishing) && Date.now() < deadline) await sleep(2);
    await Promise.race([this.consumeLoopDone, sleep(2000)]);
    await this.nc?.close().catch(() => undefined);
    const left = [
      ...[...this.outstanding.values()].flatMap((p) => p.txs),
      ...(this.publishing?.proposal.txs ?? []),
      ...this.queue,
      ...[...this.forwarded.values()].map((f) => f.tx),
      ...this.forwardBuffer,
    ];
    this.forwarded.clear();
    this.forwardedBySig.clear();
    this.forwardBuffer = [];
    this.outstanding.clear();
    this.publishing = undefined;
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
    const owed = this.knownStreamSeq > this.consumedSeq || this.outstanding.size > 0;
    if (owed && quietMs > CONSUMER_STALL_MS) {
      this.stats.consumerRestarts++;
      this.lastDeliveryAt = performance.now();
      this.host!.onError(new CodedError('SEQUENCER_FAULT', `the block consumer delivered nothing for ${Math.round(quietMs)} ms with messages owed: re-creating it`));
      this.messages?.stop();
    } else if (!owed && quietMs > (this.queue.length > 0 || this.publishing ? CONSUMER_STALL_MS : STREAM_PROBE_MS) && !this.probing) {
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
        let yieldedAt = performance.now();
        for await (const m of this.messages) {
          if (this.stopped) break;
          this.lastDeliveryAt = performance.now();
          this.accept(m.seq, m.data, m.info.pending);
          // Buffered messages arrive as microtasks: decoding a run of large blocks must not starve timers and I/O.
          if (performance.now() - yieldedAt > YIELD_EVERY_MS) {
            await yieldToEventLoop();
            yieldedAt = performance.now();
          }
          // Back-pressure: at most about one pull's worth of decoded blocks, and MAX_BACKLOG_TXS txs, wait in memory.
          while ((this.backlog.length >= 64 || this.backlogTxs >= MAX_BACKLOG_TXS) && this.draining) await this.nextProgress();
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
    this.knownStreamSeq = Math.max(this.knownStreamSeq, seq + pending);
    const item: Received = { seq, pending };
    const own = this.outstanding.get(seq);
    if (own) item.proposal = own; // ours: not decoded again
    else {
      try {
        if (this.isPublishing(seq, data)) {
          // Our append, received before its acknowledgement (or with the acknowledgement lost): not decoded again.
          this.outstanding.set(seq, this.publishing!.proposal);
          item.proposal = this.publishing!.proposal;
        } else {
          item.proposal = decodeProposal(data, this.options.limits, this.forwardedBySig.size > 0 ? (sig) => this.forwardedBySig.get(sig) : undefined);
          if (this.forwardedBySig.size > 0) {
            for (const tx of item.proposal.txs) if (this.forwardedBySig.get(tx.signed.sig) === tx) this.forwardStats.reusedTxs++;
          }
          if (verifyProposalSignature(item.proposal.header, item.proposal.proposerSig)) this.lastSeenTime = Math.max(this.lastSeenTime, item.proposal.header.time);
          this.host!.prepare?.(item.proposal);
        }
      } catch (err) {
        item.error = (err as Error).message;
      }
    }
    this.backlog.push(item);
    this.backlogTxs += item.proposal?.txs.length ?? 0;
    this.draining ??= this.drain();
    // Having seen this message, we may propose for the next position (after a lost race, or with a slot free).
    this.scheduleCut();
  }

  private async drain(): Promise<void> {
    try {
      while (this.backlog.length > 0 && !this.stopped) {
        await this.deliver(this.takeGroup());
        this.lastDeliveryAt = performance.now();
        this.notifyProgress();
        await yieldToEventLoop(); // a commit is synchronous: let timers and I/O in between groups
      }
    } catch (err) {
      // A storage failure: drop what was decoded and read again from the first message not committed.
      this.backlog = [];
      this.backlogTxs = 0;
      this.acceptedSeq = this.consumedSeq;
      this.drainFailed = true;
      this.host!.onError(new CodedError('SEQUENCER_FAULT', `committing from the block stream failed: ${(err as Error).message}`));
      this.messages?.stop();
    } finally {
      this.draining = undefined;
      this.notifyProgress();
    }
  }

  private nextProgress(): Promise<void> {
    return new Promise((resolve) => this.progressWaiters.push(resolve));
  }

  private notifyProgress(): void {
    for (const resolve of this.progressWaiters.splice(0)) resolve();
  }

  /** Takes the backlog's first message. */
  private shiftBacklog(): Received {
    const item = this.backlog.shift()!;
    this.backlogTxs -= item.proposal?.txs.length ?? 0;
    return item;
  }

  /** The proposal a received message holds (ours as we sent it, else as decoded), if it holds one. */
  private proposalOf(item: Received): BlockProposal | undefined {
    return this.outstanding.get(item.seq) ?? item.proposal;
  }

  /** The proposal a received message holds for its own stream position, if any (else the message is skipped). */
  private committable(item: Received): BlockProposal | undefined {
    const proposal = this.proposalOf(item);
    return proposal && proposal.header.slot === item.seq ? proposal : undefined;
  }

  /**
   * The front of the backlog: a message to skip, or a run of proposals received and waiting — committed together
   * in one database transaction (a peer that fell behind catches up in fewer, larger writes; one that keeps up
   * commits one block at a time, as before).
   */
  private takeGroup(): Received[] {
    const group = [this.shiftBacklog()];
    if (!this.committable(group[0]!)) return group;
    let txs = group[0]!.proposal?.txs.length ?? 0;
    while (group.length < MAX_GROUP_BLOCKS && this.backlog.length > 0) {
      const next = this.committable(this.backlog[0]!);
      if (!next || txs + next.txs.length > MAX_GROUP_TXS) break;
      txs += next.txs.length;
      group.push(this.shiftBacklog());
    }
    return group;
  }

  /** Hands received messages to the ledger (a run of proposals, or one message to skip); a storage failure propagates (see drain). */
  private async deliver(group: Received[]): Promise<void> {
    const fresh = group.filter((item) => item.seq > this.consumedSeq);
    if (fresh.length === 0) return;
    const host = this.host!;
    this.processing = true;
    try {
      const proposals = fresh.map((item) => this.committable(item));
      if (proposals.some((p) => !p)) {
        // takeGroup never mixes: this is a single message that is not a proposal for its own position.
        for (const item of fresh) {
          const proposal = this.proposalOf(item);
          // Signed for another position: a copy re-published later (or a publish without the condition).
          this.skip(item.seq, proposal ? `proposal for position ${proposal.header.slot} found at ${item.seq}` : (item.error ?? 'no proposal'));
        }
      } else {
        const started = performance.now();
        const outcomes = await host.commitMany(proposals as BlockProposal[]);
        this.timing('commitMs', performance.now() - started);
        fresh.forEach((item, i) => {
          const proposal = proposals[i]!;
          const rejected = outcomes[i];
          // The ledger has failed the waiters of a rejected proposal's txs (with the rejection) if it was ours.
          if (rejected) this.skip(item.seq, rejected.message);
          else {
            const publishedAt = this.publishedAt.get(item.seq);
            if (publishedAt !== undefined) this.timing('ownRoundTripMs', performance.now() - publishedAt);
            this.lastSeenTime = Math.max(this.lastSeenTime, proposal.header.time);
            this.forgetCommitted(proposal);
            // Only a recent block at the stream's end names a leader (not an old one a restarted peer catches up to).
            if (item.pending === 0 && this.now() - proposal.header.time < this.leaderFreshMs) {
              this.leader = { did: proposal.header.proposer, at: performance.now() };
            }
          }
        });
        this.lastBlockAt = performance.now();
      }
      for (const item of fresh) {
        this.outstanding.delete(item.seq);
        this.publishedAt.delete(item.seq);
      }
      const last = fresh[fresh.length - 1]!;
      this.consumedSeq = last.seq;
      this.knownStreamSeq = Math.max(this.knownStreamSeq, last.seq + last.pending);
    } finally {
      this.processing = false;
    }
    if (this.caughtUpWaiters.length > 0) {
      const reached = this.caughtUpWaiters.filter((w) => w.target <= this.consumedSeq);
      this.caughtUpWaiters = this.caughtUpWaiters.filter((w) => w.target > this.consumedSeq);
      for (const w of reached) w.resolve();
    }
    this.scheduleCut();
  }

  /** Whether a received message is the proposal we are appending (byte for byte, at its slot). */
  private isPublishing(seq: number, data: Uint8Array): boolean {
    const mine = this.publishing;
    return !!mine && seq === mine.proposal.header.slot && Buffer.compare(data, mine.bytes) === 0;
  }

  private skip(seq: number, why: string): void {
    this.stats.skipped++;
    this.host!.onError(new CodedError('PROPOSAL_SKIPPED', `stream message ${seq} skipped: ${why}`));
  }

  /**
   * Drops committed txs from what we still hold: forwarded ones (the leader proposed them) and queued ones that
   * another proposal already committed (taken back too late, or a client that submitted twice).
   */
  private forgetCommitted(proposal: BlockProposal): void {
    if (this.queuedIds.size === 0 && this.forwarded.size === 0) return;
    let hit = false;
    for (const tx of proposal.txs) {
      if (this.forwarded.delete(tx.id)) this.forwardedBySig.delete(tx.signed.sig);
      if (this.queuedIds.delete(tx.id)) hit = true;
    }
    if (hit) this.queue = this.queue.filter((t) => this.queuedIds.has(t.id));
  }

  // ---- forwarding -------------------------------------------------------------------------------------------

  /**
   * The peer to forward own txs to: the proposer of the latest block committed here, while it is another peer, the
   * block is recent (under load, blocks come every few tens of ms; at light load each peer proposes its own txs and
   * no hop is added) and forwarding to it has not failed lately.
   */
  private forwardTarget(now: number): string | undefined {
    const leader = this.freshLeader(now);
    if (!this.forwardEnabled || !leader || leader === this.options.proposerDid || this.avoiding(leader, now)) return undefined;
    if (!this.nc || this.nc.isClosed()) return undefined;
    return leader;
  }

  /** Whether this peer leads: it proposes for the others too, so one more of its proposals may be in flight. */
  private leading(): boolean {
    return this.forwardEnabled && this.freshLeader(performance.now()) === this.options.proposerDid;
  }

  /** The proposer of the latest block, while that block is younger than `leaderFreshMs`. */
  private freshLeader(now: number): string | undefined {
    return this.leader && now - this.leader.at <= this.leaderFreshMs ? this.leader.did : undefined;
  }

  /** Whether forwarding to `did` failed within the last AVOID_AFTER_FAILURE_MS. */
  private avoiding(did: string, now: number): boolean {
    return this.avoid?.did === did && now < this.avoid.until;
  }

  /** Sends the gathered own txs to the leader (or queues them here when there is none now). */
  private flushForward(): void {
    this.forwardTimer = undefined;
    const txs = this.forwardBuffer;
    this.forwardBuffer = [];
    if (txs.length === 0 || this.stopped) return;
    const now = performance.now();
    const to = this.forwardTarget(now);
    if (!to) {
      for (const tx of txs) this.queueHere(tx, now);
      return;
    }
    const subject = forwardSubjectOf(this.options.chain, to);
    let start = 0;
    while (start < txs.length) {
      let end = start;
      let bytes = 2;
      while (end < txs.length && (end === start || bytes + txs[end]!.storedBytes.length + 1 <= FORWARD_MAX_BYTES)) {
        bytes += txs[end]!.storedBytes.length + 1;
        end++;
      }
      const chunk = txs.slice(start, end);
      start = end;
      for (const tx of chunk) {
        this.forwarded.set(tx.id, { tx, at: now, to });
        this.forwardedBySig.set(tx.signed.sig, tx);
      }
      this.forwardStats.forwardedTxs += chunk.length;
      const body = Buffer.from(`[${chunk.map((t) => t.storedBytes.toString('utf8')).join(',')}]`, 'utf8');
      this.nc!.request(subject, body, { timeout: FORWARD_REPLY_MS }).then(
        (reply) => {
          const answer = parseForwardReply(reply.data);
          if (answer.error !== undefined) this.takeBack(chunk, to, `refused: ${answer.error}`);
        },
        (err: Error) => this.takeBack(chunk, to, err.message),
      );
    }
  }

  /** Proposes here the forwarded txs that are not committed yet, in their order, and avoids that peer for a while. */
  private takeBack(txs: ParsedTx[], to: string, why: string): void {
    if (this.stopped) return;
    this.forwardStats.forwardFailures++;
    const now = performance.now();
    // One log line per failure episode, not one per batch.
    if (!this.avoiding(to, now)) {
      this.host!.onError(new CodedError('SEQUENCER_FAULT', `forwarding txs to ${to} failed (${why}): proposing them here`));
    }
    this.avoid = { did: to, until: now + AVOID_AFTER_FAILURE_MS };
    this.requeueForwarded(txs.filter((tx) => this.forwarded.get(tx.id)?.tx === tx));
  }

  /** Takes back forwarded txs that were not committed within `forwardTimeoutMs` (run by the watchdog). */
  private takeBackOverdue(): void {
    if (this.stopped || this.forwarded.size === 0) return;
    const cutoff = performance.now() - this.forwardTimeoutMs;
    const overdue: ParsedTx[] = [];
    for (const entry of this.forwarded.values()) {
      if (entry.at > cutoff) break; // in forwarding order: the rest are younger
      overdue.push(entry.tx);
    }
    if (overdue.length === 0) return;
    this.takeBack(overdue, this.forwarded.get(overdue[0]!.id)!.to, `${overdue.length} not committed within ${this.forwardTimeoutMs} ms`);
  }

  private requeueForwarded(txs: ParsedTx[]): void {
    if (txs.length === 0) return;
    for (const tx of txs) {
      this.forwarded.delete(tx.id);
      this.forwardedBySig.delete(tx.signed.sig);
    }
    this.forwardStats.takenBack += txs.length;
    this.requeue(txs);
    this.scheduleCut();
  }

  /** Takes txs another peer forwarded: the host admits them, and they are queued here, never forwarded again. */
  private async receiveForwarded(m: Msg): Promise<void> {
    const host = this.host;
    if (this.stopped || !host?.admitForwarded) {
      m.respond(JSON.stringify({ error: 'not taking forwarded txs' }));
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(m.data).toString('utf8'));
    } catch {
      raw = undefined;
    }
    if (!Array.isArray(raw)) {
      this.forwardStats.receivedDropped++;
      m.respond(JSON.stringify({ error: 'not a JSON array of signed txs' }));
      return;
    }
    try {
      const accepted = await host.admitForwarded(raw, (tx) => {
        if (!this.stopped) this.queueHere(tx, performance.now());
      });
      this.forwardStats.receivedTxs += accepted;
      this.forwardStats.receivedDropped += raw.length - accepted;
      m.respond(JSON.stringify({ accepted }));
    } catch (err) {
      m.respond(JSON.stringify({ error: (err as Error).message }));
    }
  }

  // ---- proposing ----------------------------------------------------------------------------------------------

  /** Not appending, a free place for an own proposal, and every message known to exist received. */
  private mayPropose(): boolean {
    return !this.stopped && !this.publishing && this.outstanding.size < this.maxOutstanding + (this.leading() ? 1 : 0) && this.acceptedSeq >= this.knownStreamSeq;
  }

  /**
   * Cuts a proposal when the oldest queued tx has waited `maxWaitMs`, or at once when `minBlockTxs` are queued or
   * this peer's own load is light — fewer than LIGHT_LOAD_TXS txs queued within the last `maxWaitMs` (as Nagle's
   * algorithm: waiting pays only when more txs are coming; a lone tx, such as the access entry a record read waits
   * for, goes at once). Only while we may propose (otherwise the commit of our outstanding proposal, or the next
   * message received, asks again).
   */
  private scheduleCut(): void {
    if (this.queue.length === 0 || !this.mayPropose()) return;
    const now = performance.now();
    if (this.queue.length >= this.minBlockTxs || this.recentLoad(now) < LIGHT_LOAD_TXS) return this.cutSoon(0);
    const oldest = this.queuedAt.get(this.queue[0]!) ?? now;
    this.cutSoon(Math.max(0, oldest + this.maxWaitMs - now));
  }

  /** How many txs were queued here within the last `maxWaitMs` (the current one included). */
  private recentLoad(now: number): number {
    while (this.recentFrom < this.recentQueued.length && this.recentQueued[this.recentFrom]! < now - this.maxWaitMs) this.recentFrom++;
    if (this.recentFrom > 1024) {
      this.recentQueued = this.recentQueued.slice(this.recentFrom);
      this.recentFrom = 0;
    }
    return this.recentQueued.length - this.recentFrom;
  }

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

  private requeue(txs: ParsedTx[]): void {
    this.queue = [...txs, ...this.queue];
    for (const t of txs) this.queuedIds.add(t.id);
  }

  private async propose(): Promise<void> {
    if (!this.host || this.queue.length === 0 || !this.mayPropose()) return;
    // Right after the last message received: JetStream appends it there or nowhere.
    const expectedLastSeq = this.acceptedSeq;
    const proposal = proposeBlock(this.options, { slot: expectedLastSeq + 1, minTime: this.lastSeenTime }, this.takeBatch(), this.now());
    const bytes = encodeProposal(proposal);
    this.publishing = { proposal, bytes };
    const started = performance.now();
    try {
      const ack = await this.js!.publish(this.subject, bytes, {
        expect: { lastSequence: expectedLastSeq, streamName: this.stream },
        // Past this the outcome is unknown and is learned from the stream (resolveUnknownOutcome).
        timeout: 2000,
      });
      this.stats.proposed++;
      this.timing('publishAckMs', performance.now() - started);
      this.lastSeenTime = Math.max(this.lastSeenTime, proposal.header.time);
      // Already received (the ack came after the message itself) or already committed: nothing to track.
      if (ack.seq > this.consumedSeq) {
        this.outstanding.set(ack.seq, proposal);
        this.publishedAt.set(ack.seq, started);
      }
      this.knownStreamSeq = Math.max(this.knownStreamSeq, ack.seq);
      this.publishing = undefined;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        // Another peer's proposal got this position: ours was not appended. Propose again once we have received it.
        this.stats.lostRaces++;
        this.knownStreamSeq = Math.max(this.knownStreamSeq, expectedLastSeq + 1);
        this.publishing = undefined;
        this.requeue(proposal.txs);
      } else {
        // Timeout or lost connection: the proposal may or may not be on the stream. Find out before retrying.
        this.stats.unknownOutcomes++;
        if (!this.stopped) this.host.onError(new CodedError('SEQUENCER_FAULT', `proposing failed: ${(err as Error).message}`));
        await this.resolveUnknownOutcome(proposal);
      }
    }
    this.scheduleCut();
  }

  /**
   * Learns the stream's end and receives up to it; the proposal landed if it was received at its slot (accept()
   * moves it to `outstanding` then), else its txs are queued again. It can land nowhere else, and once the stream
   * has passed its slot, not later either.
   */
  private async resolveUnknownOutcome(proposal: BlockProposal): Promise<void> {
    const slot = proposal.header.slot;
    while (!this.stopped) {
      try {
        const last = (await this.jsm!.streams.info(this.stream)).state.last_seq;
        this.knownStreamSeq = Math.max(this.knownStreamSeq, last);
        if (last < slot || this.acceptedSeq >= slot) break;
      } catch {
        // the cluster is electing a leader: ask again
      }
      await sleep(250);
    }
    if (this.publishing?.proposal === proposal) {
      this.publishing = undefined;
      // Not received at its slot by now (the stream ends before it, or another message holds it): not appended.
      if (![...this.outstanding.values()].includes(proposal)) this.requeue(proposal.txs);
    }
  }
}

/** A leader's answer to forwarded txs: how many it took (the others it knew already or found invalid), or why none. */
function parseForwardReply(data: Uint8Array): { accepted?: number; error?: string } {
  try {
    const o = JSON.parse(Buffer.from(data).toString('utf8')) as { accepted?: unknown; error?: unknown };
    if (typeof o.error === 'string') return { error: o.error };
    if (typeof o.accepted === 'number') return { accepted: o.accepted };
  } catch {
    // fall through
  }
  return { error: 'unreadable reply' };
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
