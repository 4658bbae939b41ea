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

export interface NodeConfig {
  /** Directory holding this node's ledger database. */
  dataDir: string;
  genesis: Genesis;
  /** The node's own key (proposes blocks, signs checkpoints). Must be the node key of `institution`. */
  identity: Identity;
  institution: string;
  sequencer?: { kind: 'solo'; maxTxsPerBlock?: number; maxWaitMs?: number };
  /** Threads for signature checks; 0 checks on the main thread. Defaults to the number of cores. */
  signatureWorkers?: number;
  checkpointInterval?: number;
  maxPending?: number;
  /** SQLite durability; 'full' (default) fsyncs every block before submitters are told it committed. */
  synchronous?: 'full' | 'normal';
  logger?: Logger;
  now?: () => number;
  /**
   * Institutions whose vaults this node holds, with their node identities (the X25519 half opens the vault).
   * Defaults to its own institution; the embedded demo hosts every demo institution.
   */
  hostedInstitutions?: Array<{ id: string; identity: Identity }>;
}

export interface NodeStatus {
  chain: string;
  consortium: string;
  institution: string;
  nodeDid: string;
  sequencer: string;
  head: { height: number; hash: string; stateHash: string; time: number };
  pendingTxs: number;
  lastFault?: { at: number; message: string };
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
  submit(signedTx: unknown): Promise<Receipt>;
  query(contract: string, name: string, args: unknown, callerDid?: string): unknown;
  status(): NodeStatus;
  close(): Promise<void>;
}

export const LEDGER_FILE = 'ledger.db';

/** A node proposes blocks with its key, so the key must be its institution's registered, active node key. */
function isNodeKeyOf(runtime: ContractRuntime, store: SqliteStore, did: string, institution: string): boolean {
  try {
    const key = runtime.query('identity', 'resolveKey', { did }, store, { height: 0, time: 0 }) as { kind: string; institution?: string };
    return key.kind === 'node' && key.institution === institution && runtime.isProposer(did, store);
  } catch {
    return false;
  }
}

/** Wires store, contracts, sequencer, signature workers and ledger for one institution. No globals. */
export async function createNode(config: NodeConfig): Promise<MedchainNode> {
  assertGenesis(config.genesis);
  const genesis = config.genesis;
  const logger = config.logger ?? pino({ level: process.env['MEDCHAIN_LOG_LEVEL'] ?? 'info' });
  mkdirSync(config.dataDir, { recursive: true });
  const runtime = createContractRuntime();
  const store = new SqliteStore({ path: join(config.dataDir, LEDGER_FILE), indexes: runtime.indexes, synchronous: config.synchronous ?? 'full' });
  const limits: TxLimits = genesis.limits;
  const signer = new Ed25519Signer(config.identity.signing.seed);
  const sequencer: Sequencer = new SoloSequencer({
    chain: genesis.chainId,
    proposerDid: config.identity.did,
    signer,
    maxTxsPerBlock: config.sequencer?.maxTxsPerBlock,
    maxWaitMs: config.sequencer?.maxWaitMs,
    now: config.now,
  });
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
    store.close();
    await verifier.close();
    throw err;
  }
  if (!isNodeKeyOf(runtime, store, config.identity.did, config.institution)) {
    await ledger.close();
    await verifier.close();
    throw new CodedError('CONFIG_INVALID', `${config.identity.did} is not the active node key of ${config.institution}`);
  }
  ledger.on('fault', (err: Error) => logger.error({ err: err.message }, 'block commit failed'));
  const { registry, observeCommit } = createMetrics(ledger);
  const startedAt = Date.now();
  let closed = false;

  const hostedSpec = config.hostedInstitutions ?? [{ id: config.institution, identity: config.identity }];
  const vaults = hostedSpec.map((h) => ({ id: h.id, node: h.identity, vault: new VaultStore(join(config.dataDir, 'vault', h.id)) }));
  let records!: RecordService;
  let drugs!: DrugService;
  let oversight!: OversightService;
  let patients!: PatientDirectory;
  let accessRequests!: AccessRequestService;
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
    query(contract, name, args, callerDid) {
      const head = ledger.head();
      return runtime.query(contract, name, args, store, { height: head.height, time: head.time }, callerDid);
    },
    status() {
      const head = ledger.head();
      return {
        chain: genesis.chainId,
        consortium: genesis.consortium.name,
        institution: config.institution,
        nodeDid: config.identity.did,
        sequencer: sequencer.kind,
        head,
        pendingTxs: ledger.pendingCount(),
        ...(ledger.lastFault ? { lastFault: ledger.lastFault } : {}),
        startedAt,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await ledger.close();
      await verifier.close();
      for (const v of vaults) v.vault.close();
    },
  };
  records = new RecordService(node, vaults);
  drugs = new DrugService(node, (user) => records.relayIdentityFor(user));
  oversight = new OversightService(node, config.now);
  patients = new PatientDirectory(node, records);
  accessRequests = new AccessRequestService(node, records);
  const shredded = records.reconcileErasures();
  if (shredded > 0) logger.warn({ shredded }, 'shredded vault objects whose erasure was on the ledger but not yet applied');
  return node;
}
