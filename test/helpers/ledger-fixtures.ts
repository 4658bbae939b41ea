import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createContractRuntime, type ReadState } from '../../src/contracts/index.js';
import { Ed25519Signer, type Identity } from '../../src/crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity, seedDemo, type DemoPerson } from '../../src/demo/index.js';
import {
  BlockExecutor,
  InlineSignatureVerifier,
  signProposal,
  SqliteStore,
  txRootOf,
  txSigningMessage,
  verifyLedger,
  type BlockProposal,
  type Head,
  type ParsedTx,
  type ProposalHeader,
  type VerifyReport,
} from '../../src/ledger/index.js';
import { signatureBytes } from '../../src/ledger/tx.js';
import type { MedchainNode } from '../../src/node/index.js';
import { LEAD, openTestNode } from './test-node.js';

/** Shared fixtures for the ledger, verify and contract tests: real stores, real nodes, no mocks. */

export const LIMITS = demoGenesis().limits;
export const CHAIN = DEMO_CHAIN_ID;
export const GENESIS_TIME = demoGenesis().time;
export const LEAD_NODE: Identity = demoIdentity(demoHandle.node(LEAD));

/** A fresh temp directory and its removal. */
export function tempDir(prefix = 'medchain-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A store holding block 0 of the demo genesis (in memory, or in a file when `path` is given, with the meta
 * rows a node writes so that verifyLedger can read it) and an executor over it.
 */
export function genesisLedger(path = ':memory:') {
  const runtime = createContractRuntime();
  const store = new SqliteStore({ path, indexes: runtime.indexes, stateLayout: runtime.stateLayout, synchronous: 'off' });
  const executor = new BlockExecutor(store, runtime, CHAIN);
  const genesis = demoGenesis();
  const block0 = executor.executeGenesis(genesis, genesis.time);
  store.db.transaction(() => {
    store.setMeta('chain', CHAIN);
    store.setMeta('genesis', JSON.stringify(genesis));
    store.commitBlock(block0);
  })();
  return { store, executor, runtime, head: (): Head => store.head()! };
}

/**
 * A proposal extending `head`, signed by `signer` (the lead hospital's node key by default). Overrides are applied
 * before signing, so each one yields a validly signed proposal that is wrong in exactly that respect.
 */
export function buildProposal(
  head: Head,
  txs: ParsedTx[],
  overrides: Partial<ProposalHeader> = {},
  signer: Identity = LEAD_NODE,
): BlockProposal {
  const header: ProposalHeader = {
    chain: CHAIN,
    slot: head.slot + 1,
    time: Math.max(head.time, GENESIS_TIME) + 60_000,
    proposer: signer.did,
    txRoot: txRootOf(txs.map((t) => t.id)),
    txCount: txs.length,
    ...overrides,
  };
  return { header, proposerSig: signProposal(header, new Ed25519Signer(signer.signing.seed)), txs };
}

/** Real signature checks of a proposal's txs, as the ledger computes them before execution. */
export async function signaturesOf(txs: ParsedTx[]): Promise<boolean[]> {
  return new InlineSignatureVerifier().verifyMany(
    txs.map((t) => ({ publicKey: t.signerPublicKey, message: txSigningMessage(t.envelopeBytes), signature: signatureBytes(t.signed) })),
  );
}

/** Committed world state as contracts read it (for resolveSigner and isProposer). */
export function committedState(node: MedchainNode): ReadState {
  const store = node.ledger.store;
  return {
    get<T>(key: string): T | undefined {
      const raw = store.getRaw(key);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    },
    range<T>(prefix: string, options?: { after?: string; limit?: number }) {
      return store.rangeRaw(prefix, options).map((e) => ({ key: e.key, value: JSON.parse(e.value) as T }));
    },
    byIndex<T>(index: string, term: string, options?: { after?: string; limit?: number }) {
      return store.indexRaw(index, term, options).map((e) => ({ key: e.key, value: JSON.parse(e.value) as T }));
    },
  };
}

/** Every row of the derived tables (state, history, idx) of a node, for "nothing was written" assertions. */
export function derivedTables(db: Database.Database): { state: unknown[]; history: unknown[]; idx: unknown[] } {
  return {
    state: db.prepare('SELECT key, value, height, idx FROM state ORDER BY key').all(),
    history: db.prepare('SELECT key, height, idx, value FROM history ORDER BY key, height, idx').all(),
    idx: db.prepare('SELECT name, term, key FROM idx ORDER BY name, term, key').all(),
  };
}

/** A demo ledger filled by seedDemo, with its node closed (so the WAL is checkpointed into ledger.db). */
export async function seededDemoLedger(): Promise<{ dir: string; dbPath: string; people: DemoPerson[]; remove(): void }> {
  const t = await openTestNode();
  const { people } = await seedDemo(t.node);
  await t.node.close();
  const dbPath = join(t.dir, 'ledger.db');
  if (existsSync(`${dbPath}-wal`)) throw new Error('the closed node left a WAL file behind');
  return { dir: t.dir, dbPath, people, remove: () => rmSync(t.dir, { recursive: true, force: true }) };
}

/** Copies a closed ledger database (and its WAL, should one exist) into a new temp dir. */
export function copyLedger(dbPath: string): { dbPath: string; remove(): void } {
  const t = tempDir('medchain-copy-');
  const copy = join(t.dir, 'ledger.db');
  copyFileSync(dbPath, copy);
  for (const suffix of ['-wal', '-shm']) if (existsSync(dbPath + suffix)) copyFileSync(dbPath + suffix, copy + suffix);
  return { dbPath: copy, remove: t.remove };
}

export function verifyDb(path: string): Promise<VerifyReport> {
  return verifyLedger({ path, personality: createContractRuntime(), verifier: new InlineSignatureVerifier(), limits: LIMITS });
}

/** All cell contents of every table of a SQLite file, as text (BLOBs decoded as UTF-8 and as hex). */
export function allTableText(dbPath: string): { text: string; tables: string[] } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((r) => r.name);
    const parts: string[] = [];
    for (const name of tables) {
      for (const row of db.prepare(`SELECT * FROM "${name}"`).raw().iterate() as IterableIterator<unknown[]>) {
        for (const v of row) parts.push(Buffer.isBuffer(v) ? `${v.toString('utf8')}\n${v.toString('hex')}` : String(v));
      }
    }
    return { text: parts.join('\n'), tables };
  } finally {
    db.close();
  }
}

export { prng } from '../../src/demo/prng.js';
