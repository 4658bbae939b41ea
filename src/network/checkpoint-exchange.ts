import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, StorageType, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { Ed25519Signer } from '../crypto/index.js';
import { signCheckpoint, streamNameOf, subjectToken, verifyCheckpoint, type Checkpoint, type ExecutedBlock, type Ledger } from '../ledger/index.js';
import { CheckpointBoard, type Disagreement } from './checkpoint-board.js';

export interface CheckpointExchangeOptions {
  servers: string[];
  tls?: { caFile: string; certFile?: string; keyFile?: string };
  chain: string;
  institution: string;
  node: { did: string; signer: Ed25519Signer };
  ledger: Ledger;
  /** The member institution whose active node key `did` is, or undefined (then its checkpoints are ignored). */
  institutionOfNodeKey(did: string): string | undefined;
  logger: Logger;
  metrics: Registry;
  /** How often the node signs and publishes its head (besides the every-N-blocks checkpoints). */
  headIntervalMs?: number;
  replicas?: number;
}

export interface ConsortiumHealth {
  chain: string;
  self: { institution: string; nodeDid: string; height: number; blockHash: string; stateHash: string };
  /** Highest height any node is known to have. */
  tip: number;
  nodes: Array<{ institution?: string; nodeDid: string; height: number; lag: number; blockHash: string; stateHash: string; lastSeenMs: number; self: boolean }>;
  agreement: { ok: boolean; disagreements: Disagreement[] };
}

/**
 * Publishes this node's signed checkpoints (its head every second, and the ledger's every-N-blocks ones) on a
 * small JetStream stream and reads everyone else's, feeding a CheckpointBoard. A disagreement raises the alarm
 * three ways: an error log line, the `medchain_checkpoint_disagreements` gauge, and the status/health APIs.
 */
export class CheckpointExchange {
  readonly board: CheckpointBoard;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private messages: ConsumerMessages | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPublishedHeight = -1;
  private lastPublishedAt = 0;
  private closed = false;
  private readonly stream: string;
  private readonly subjectPrefix: string;
  private readonly alarm: Gauge;
  private readonly peerHeight: Gauge;
  private readonly onBlock = (b: ExecutedBlock) => this.raise(this.board.onLocalBlock(b.header.height));
  private readonly onCheckpoint = (cp: Checkpoint) => this.publish(cp);

  constructor(private readonly options: CheckpointExchangeOptions) {
    const store = options.ledger.store;
    this.board = new CheckpointBoard({ nodeDid: options.node.did, institution: options.institution }, (h) => {
      if (h > options.ledger.head().height) return undefined;
      const block = store.getBlock(h);
      return block && { hash: block.hash, stateHash: block.header.stateHash };
    });
    this.stream = `${streamNameOf(options.chain)}_CHECKPOINTS`;
    this.subjectPrefix = `medchain.${subjectToken(options.chain)}.checkpoints`;
    this.alarm = new Gauge({
      name: 'medchain_checkpoint_disagreements',
      help: 'Checkpoint disagreements seen (a fork or a tampered ledger somewhere); 0 when all peers agree',
      registers: [options.metrics],
    });
    this.peerHeight = new Gauge({ name: 'medchain_peer_height', help: 'Latest height signed by each peer', labelNames: ['institution'], registers: [options.metrics] });
  }

  async start(): Promise<void> {
    const nc = await connect({ servers: this.options.servers, name: `medchain checkpoints ${this.options.institution}`, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...(this.options.tls ? { tls: this.options.tls } : {}) });
    this.nc = nc;
    const jsm = await retry(() => jetstreamManager(nc));
    await retry(async () => {
      try {
        await jsm.streams.info(this.stream);
      } catch {
        await jsm.streams.add({
          name: this.stream,
          subjects: [`${this.subjectPrefix}.>`],
          num_replicas: this.options.replicas ?? 3,
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          max_msgs_per_subject: 256,
        });
      }
    });
    this.js = jetstream(nc);
    this.options.ledger.on('block', this.onBlock);
    this.options.ledger.on('checkpoint', this.onCheckpoint);
    void this.consume();
    this.timer = setInterval(() => this.publishHead(), this.options.headIntervalMs ?? 1000);
    this.publishHead();
  }

  private async consume(): Promise<void> {
    while (!this.closed) {
      try {
        const consumer = await this.js!.consumers.get(this.stream, { deliver_policy: DeliverPolicy.All });
        this.messages = await consumer.consume({ max_messages: 256 });
        if (this.closed) this.messages.stop();
        for await (const m of this.messages) this.receive(m.data);
      } catch (err) {
        if (this.closed) return;
        this.options.logger.warn({ err: (err as Error).message }, 'checkpoint stream unavailable; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private receive(data: Uint8Array): void {
    let cp: Checkpoint;
    try {
      cp = JSON.parse(Buffer.from(data).toString('utf8')) as Checkpoint;
    } catch {
      return;
    }
    if (cp?.chain !== this.options.chain || !Number.isSafeInteger(cp.height) || !verifyCheckpoint(cp)) return;
    const institution = cp.signer === this.options.node.did ? this.options.institution : this.options.institutionOfNodeKey(cp.signer);
    if (!institution) return; // not a member's node key: ignored
    if (cp.signer !== this.options.node.did) this.peerHeight.set({ institution }, cp.height);
    this.raise(this.board.observe(cp, institution));
  }

  private raise(found: Disagreement[]): void {
    for (const d of found) {
      this.options.logger.error(
        { height: d.height, sides: d.sides },
        'CHECKPOINT DISAGREEMENT: two nodes hold different blocks or state at the same height (fork or tampered ledger)',
      );
    }
    if (found.length > 0) this.alarm.set(this.board.disagreements().length);
  }

  private publishHead(): void {
    const head = this.options.ledger.head();
    // Republish an unchanged head now and then, so that the health view knows the node is alive.
    if (head.height === this.lastPublishedHeight && Date.now() - this.lastPublishedAt < 5000) return;
    this.publish(
      signCheckpoint(
        { chain: this.options.chain, height: head.height, blockHash: head.hash, stateHash: head.stateHash, signer: this.options.node.did },
        this.options.node.signer,
      ),
    );
  }

  private publish(cp: Checkpoint): void {
    if (this.closed || !this.js) return;
    this.lastPublishedHeight = Math.max(this.lastPublishedHeight, cp.height);
    this.lastPublishedAt = Date.now();
    this.js.publish(`${this.subjectPrefix}.${subjectToken(this.options.institution)}`, JSON.stringify(cp)).catch((err: Error) => {
      this.options.logger.debug({ err: err.message }, 'checkpoint not published');
    });
  }

  health(): ConsortiumHealth {
    const head = this.options.ledger.head();
    const now = Date.now();
    const peers = this.board.peers();
    const tip = Math.max(head.height, ...peers.map((p) => p.height));
    const disagreements = this.board.disagreements();
    return {
      chain: this.options.chain,
      self: { institution: this.options.institution, nodeDid: this.options.node.did, height: head.height, blockHash: head.hash, stateHash: head.stateHash },
      tip,
      nodes: [
        { institution: this.options.institution, nodeDid: this.options.node.did, height: head.height, lag: tip - head.height, blockHash: head.hash, stateHash: head.stateHash, lastSeenMs: 0, self: true },
        ...peers.map((p) => ({ ...p, lag: tip - p.height, lastSeenMs: now - p.seenAt, self: false })).map(({ seenAt: _s, ...rest }) => rest),
      ],
      agreement: { ok: disagreements.length === 0, disagreements },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.options.ledger.off('block', this.onBlock);
    this.options.ledger.off('checkpoint', this.onCheckpoint);
    this.messages?.stop();
    await this.nc?.close().catch(() => undefined);
  }
}

async function retry<T>(attempt: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
