import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createContractRuntime, type ContractRuntime } from '../contracts/index.js';
import { assertGenesis, type Genesis } from '../contracts/identity/index.js';
import { Ed25519Signer, type Identity } from '../crypto/index.js';
import {
  CodedError,
  InlineSignatureVerifier,
  Ledger,
  JetStreamSequencer,
  SoloSequencer,
  SqliteStore,
  WorkerSignatureVerifier,
  type Receipt,
  type Sequencer,
  type SignatureVerifier,
  type TxLimits,
} from '../ledger/index.js';
import { createMetrics } from './metrics.js';
import { RecordService } from '../records/service.js';
import { DrugService } from '../drugs/service.js';
import { OversightService } from '../oversight/service.js';
import { PatientDirectory } from '../records/patient-directory.js';
import { AccessRequestService } from '../records/access-requests.js';
import { VaultStore } from '../vault/index.js';
import { UsedNonces } from './used-nonces.js';
import { CheckpointExchange, type ConsortiumHealth } from '../network/checkpoint-exchange.js';
import { ExchangeClient } from '../exchange/client.js';
import { ExchangeServer } from '../exchange/server.js';

/** Which sequencer orders this node's blocks: embedded (`solo`) or a JetStream cluster shared by the consortium. */
export type SequencerConfig =
  | { kind: 'solo'; maxTxsPerBlock?: number; maxWaitMs?: number }
  | {
      kind: 'jetstream';
      servers: string[];
      stream?: string;
      replicas?: number;
      maxTxsPerBlock?: number;
      /** The longest a tx waits before this node proposes a block for it (JetStreamSequencerOptions.maxWaitMs). */
      maxWaitMs?: number;
      /** Propose at once when this many txs are queued (JetStreamSequencerOptions.minBlockTxs). */
      minBlockTxs?: number;
      /** Forward own txs to the peer proposing the latest blocks (default true; JetStreamSequencerOptions.forwardToLeader). */
      forwardToLeader?: boolean;
      /** Take back a forwarded tx not committed within this long (JetStreamSequencerOptions.forwardTimeoutMs). */
      forwardTimeoutMs?: number;
      /** A block's proposer leads while the block is younger than this (JetStreamSequencerOptions.leaderFreshMs). */
      leaderFreshMs?: number;
      /** TLS to the nats-servers (PEM files): the consortium CA, and this node's client certificate for mutual TLS. */
      tls?: NatsTls;
    };

export interface NatsTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
}

export interface NodeConfig {
  /** Directory holding this node's ledger database. */
  dataDir: string;
  genesis: Genesis;
  /** The node's own key (proposes blocks, signs checkpoints). Must be the node key of `institution`. */
  identity: Identity;
  institution: string;
  sequencer?: SequencerConfig;
  /** Threads for signature checks; 0 checks on the main thread. Defaults to the number of cores. */
  signatureWorkers?: number;
  checkpointInterval?: number;
  maxPending?: number;
  /** SQLite's page cache for the ledger, MiB (default 64; see SqliteStoreOptions.cacheMiB). */
  sqliteCacheMiB?: number;
  /** SQLite durability; 'full' (default) fsyncs every block before submitters are told it committed. */
  synchronous?: 'full' | 'normal';
  logger?: Logger;
  now?: () => number;
  /**
   * Institutions whose vaults this node holds, with their node identities (the X25519 half opens the vault).
   * Defaults to its own institution; the embedded demo hosts every demo institution.
   */
  hostedInstitutions?: Array<{ id: string; identity: Identity }>;
  /** Where other institutions' nodes answer for record exchange; defaults to the endpoints on the ledger. */
  exchangeEndpoints?: Record<string, string>;
}

export interface NodeStatus {
  chain: string;
  consortium: string;
  institution: string;
  nodeDid: string;
  sequencer: string;
  /** Facts of a replicated sequencer: connection, stream position, whether this node has caught up. */
  sequencerStatus?: Record<string, unknown>;
  head: { height: number; hash: string; stateHash: string; time: number };
  pendingTxs: number;
  lastFault?: { at: number; message: string };
  /** Comparison of signed checkpoints across the consortium's nodes (jetstream only). */
  checkpoints?: { agreement: boolean; disagreements: number; peers: number };
  /** The ledger database's log fsyncs (each receipt waits for one). */
  storage?: { fsyncs: number; avgMs: number; recentMs: number; maxMs: number };
  startedAt: number;
}

/** A running MedChain node: the ledger with the contracts, and what the API and CLI need around it. */
export interface MedchainNode {
  readonly config: NodeConfig;
  readonly ledger: Ledger;
  readonly runtime: ContractRuntime;
  readonly metrics: Registry;
  readonly logger: Logger;
  readonly limits: TxLimits;
  /** The record repository: every record read and write goes through it. */
  readonly records: RecordService;
  /** Drug traceability: EPCIS capture and public verification. */
  readonly drugs: DrugService;
  /** Regulator oversight: access statistics and anomalies without patient data. */
  readonly oversight: OversightService;
  /** Clinicians' patient search over in-memory name indexes of the hosted vaults. */
  readonly patients: PatientDirectory;
  /** Clinicians' access requests to patients, and the patients' decisions. */
  readonly accessRequests: AccessRequestService;
  /** Record exchange: releases records this node holds to other institutions' nodes. */
  readonly exchange: ExchangeServer;
  /** The nonces of signed requests this node accepted (API and record exchange), on disk: refused again after a restart. */
  readonly usedNonces: UsedNonces;
  submit(signedTx: unknown): Promise<Receipt>;
  /** Resolves once the node has every block known to the consortium (at once for the solo sequencer). */
  whenCaughtUp(): Promise<void>;
  query(contract: string, name: string, args: unknown, callerDid?: string): unknown;
  status(): NodeStatus;
  /** Every known node's signed height, its lag, and whether all signed checkpoints agree. */
  consortiumHealth(): ConsortiumHealth;
  close(): Promise<void>;
}

export const LEDGER_FILE = 'ledger.db';
/** Local to the node (not replicated): the nonces of signed requests it accepted. */
export const NONCES_FILE = 'nonces.db';

/** A node proposes blocks with its key, so the key must be its institution's registered, active node key. */
function isNodeKeyOf(runtime: ContractRuntime, store: SqliteStore, did: string, institution: string): boolean {
  try {
    const key = runtime.query('identity', 'resolveKey', { did }, store, { height: 0, time: 0 }) as { kind: string; institution?: string };
    return key.kind === 'node' && key.institution === institution && runtime.isProposer(did, store);
  } catch {
    return false;
  }
}

/** The member institution whose node key `did` is (undefined for any other key). */
function nodeInstitutionOf(runtime: ContractRuntime, store: SqliteStore, did: string): string | undefined {
  try {
    const key = runtime.query('identity', 'resolveKey', { did }, store, { height: 0, time: 0 }) as { kind: string; institution?: string; status?: string };
    return key.kind === 'node' ? key.institution : undefined;
  } catch {
    return undefined;
  }
}

function checkpointSummary(exchange: CheckpointExchange): { agreement: boolean; disagreements: number; peers: number } {
  const h = exchange.health();
  return { agreement: h.agreement.ok, disagreements: h.agreement.disagreements.length, peers: h.nodes.length - 1 };
}

/** Wires store, contracts, sequencer, signature workers and ledger for one institution. No globals. */
export async function createNode(config: NodeConfig): Promise<MedchainNode> {
  assertGenesis(config.genesis);
  const genesis = config.genesis;
  const logger = config.logger ?? pino({ level: process.env['MEDCHAIN_LOG_LEVEL'] ?? 'info' });
  mkdirSync(config.dataDir, { recursive: true });
  const runtime = createContractRuntime();
  const store = new SqliteStore({
    path: join(config.dataDir, LEDGER_FILE),
    indexes: runtime.indexes,
    historyExempt: runtime.historyExempt,
    stateLayout: runtime.stateLayout,
    synchronous: config.synchronous ?? 'full',
    ...(config.sqliteCacheMiB !== undefined ? { cacheMiB: config.sqliteCacheMiB } : {}),
  });
  // A failed background checkpoint leaves the log longer until the next succeeds (or the commit path checkpoints).
  store.onCheckpointError = (message) => logger.warn({ err: message }, 'background WAL checkpoint failed');
  const limits: TxLimits = genesis.limits;
  const signer = new Ed25519Signer(config.identity.signing.seed);
  const seqConfig = config.sequencer ?? { kind: 'solo' };
  const common = {
    chain: genesis.chainId,
    proposerDid: config.identity.did,
    signer,
    maxTxsPerBlock: seqConfig.maxTxsPerBlock,
    maxWaitMs: seqConfig.maxWaitMs,
    now: config.now,
  };
  const sequencer: Sequencer =
    seqConfig.kind === 'jetstream'
      ? new JetStreamSequencer({
          ...common,
          limits,
          servers: seqConfig.servers,
          stream: seqConfig.stream,
          replicas: seqConfig.replicas,
          minBlockTxs: seqConfig.minBlockTxs,
          forwardToLeader: seqConfig.forwardToLeader,
          forwardTimeoutMs: seqConfig.forwardTimeoutMs,
          leaderFreshMs: seqConfig.leaderFreshMs,
          tls: seqConfig.tls,
        })
      : new SoloSequencer(common);
  const workers = config.signatureWorkers ?? undefined;
  const verifier: SignatureVerifier = workers === 0 ? new InlineSignatureVerifier() : new WorkerSignatureVerifier(workers);
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(
      {
        chain: genesis.chainId,
        store,
        personality: runtime,
        sequencer,
        verifier,
        limits,
        node: { did: config.identity.did, signer },
        checkpointInterval: config.checkpointInterval,
        maxPending: config.maxPending,
        now: config.now,
      },
      { document: genesis, time: genesis.time },
    );
  } catch (err) {
    await store.close();
    await verifier.close();
    throw err;
  }
  // A newly admitted institution's node starts from genesis and learns of its own admission from the stream.
  if (!isNodeKeyOf(runtime, store, config.identity.did, config.institution) && sequencer.whenCaughtUp) await sequencer.whenCaughtUp();
  if (!isNodeKeyOf(runtime, store, config.identity.did, config.institution)) {
    await ledger.close();
    await verifier.close();
    throw new CodedError('CONFIG_INVALID', `${config.identity.did} is not the active node key of ${config.institution}`);
  }
  // The code says which part failed (SEQUENCER_FAULT, STORAGE_FAULT, PROPOSAL_SKIPPED, ...): the message alone does not.
  ledger.on('fault', (err: Error) => logger.error({ err: err.message, code: (err as Partial<CodedError>).code }, 'block commit failed'));
  const { registry, observeCommit } = createMetrics(ledger);
  const startedAt = Date.now();
  let closed = false;
  let exchange: CheckpointExchange | undefined;
  if (seqConfig.kind === 'jetstream') {
    exchange = new CheckpointExchange({
      servers: seqConfig.servers,
      tls: seqConfig.tls,
      chain: genesis.chainId,
      institution: config.institution,
      node: { did: config.identity.did, signer },
      ledger,
      institutionOfNodeKey: (did) => nodeInstitutionOf(runtime, store, did),
      logger,
      metrics: registry,
      replicas: seqConfig.replicas,
    });
    try {
      await exchange.start();
    } catch (err) {
      await exchange.close();
      await ledger.close();
      await verifier.close();
      throw err;
    }
  }

  const hostedSpec = config.hostedInstitutions ?? [{ id: config.institution, identity: config.identity }];
  const vaults = hostedSpec.map((h) => ({ id: h.id, node: h.identity, vault: new VaultStore(join(config.dataDir, 'vault', h.id)) }));
  const usedNonces = new UsedNonces(join(config.dataDir, NONCES_FILE));
  let records!: RecordService;
  let drugs!: DrugService;
  let oversight!: OversightService;
  let patients!: PatientDirectory;
  let accessRequests!: AccessRequestService;
  let exchangeServer!: ExchangeServer;
  const node: MedchainNode = {
    config,
    ledger,
    get records() {
      return records;
    },
    get drugs() {
      return drugs;
    },
    get oversight() {
      return oversight;
    },
    get patients() {
      return patients;
    },
    get accessRequests() {
      return accessRequests;
    },
    get exchange() {
      return exchangeServer;
    },
    usedNonces,
    runtime,
    metrics: registry,
    logger,
    limits,
    async submit(signedTx) {
      const t0 = performance.now();
      const receipt = await ledger.submit(signedTx);
      observeCommit(performance.now() - t0);
      return receipt;
    },
    whenCaughtUp() {
      return sequencer.whenCaughtUp ? sequencer.whenCaughtUp() : Promise.resolve();
    },
    query(contract, name, args, callerDid) {
      const head = ledger.head();
      return runtime.query(contract, name, args, store, { height: head.height, time: head.time }, callerDid);
    },
    status() {
      const head = ledger.head();
      const storage = store.syncStatus();
      return {
        chain: genesis.chainId,
        consortium: genesis.consortium.name,
        institution: config.institution,
        nodeDid: config.identity.did,
        sequencer: sequencer.kind,
        ...(sequencer.status ? { sequencerStatus: sequencer.status() } : {}),
        head,
        pendingTxs: ledger.pendingCount(),
        ...(ledger.lastFault ? { lastFault: ledger.lastFault } : {}),
        ...(exchange ? { checkpoints: checkpointSummary(exchange) } : {}),
        ...(storage ? { storage } : {}),
        startedAt,
      };
    },
    consortiumHealth() {
      if (exchange) return exchange.health();
      const head = ledger.head();
      const self = { institution: config.institution, nodeDid: config.identity.did, height: head.height, blockHash: head.hash, stateHash: head.stateHash };
      return { chain: genesis.chainId, self, tip: head.height, nodes: [{ ...self, lag: 0, lastSeenMs: 0, self: true }], agreement: { ok: true, disagreements: [] } };
    },
    async close() {
      if (closed) return;
      closed = true;
      await exchange?.close();
      await ledger.close();
      await verifier.close();
      for (const v of vaults) v.vault.close();
      usedNonces.close();
    },
  };
  records = new RecordService(node, vaults);
  drugs = new DrugService(node, (user) => records.relayIdentityFor(user));
  oversight = new OversightService(node, config.now);
  patients = new PatientDirectory(node, records);
  accessRequests = new AccessRequestService(node, records);
  records.useRemote(new ExchangeClient(node, { endpointOf: (inst) => config.exchangeEndpoints?.[inst] }));
  exchangeServer = new ExchangeServer(node, records, logger);
  const shredded = records.reconcileErasures();
  if (shredded > 0) logger.warn({ shredded }, 'shredded vault objects whose erasure was on the ledger but not yet applied');
  return node;
}
