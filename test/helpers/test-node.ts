import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Ed25519Signer, type Identity } from '../../src/crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity } from '../../src/demo/index.js';
import { signTx, type SignedTx, type TxDraft } from '../../src/ledger/index.js';
import { createNode, type MedchainNode, type NodeConfig } from '../../src/node/index.js';

export const LEAD = 'qingshan-county-hospital';

/** A real node of the demo consortium (genesis only) in a fresh temp directory. */
export async function openTestNode(overrides: Partial<NodeConfig> = {}): Promise<{ node: MedchainNode; dir: string; cleanup(): Promise<void> }> {
  // A given data dir is used as it is (and removed by cleanup); otherwise a fresh one, removed if the node fails to open.
  const created = overrides.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'medchain-test-')) : undefined;
  const dir = overrides.dataDir ?? created!;
  let node: MedchainNode;
  try {
    node = await createNode({
      genesis: demoGenesis(),
      identity: demoIdentity(demoHandle.node(LEAD)),
      institution: LEAD,
      signatureWorkers: 0,
      logger: pino({ level: 'silent' }),
      sequencer: { kind: 'solo', maxWaitMs: 2 },
      ...overrides,
      dataDir: dir,
    });
  } catch (err) {
    if (created) rmSync(created, { recursive: true, force: true });
    throw err;
  }
  return {
    node,
    dir,
    cleanup: async () => {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Signs txs as one identity. */
export class Actor {
  readonly signer: Ed25519Signer;
  constructor(readonly identity: Identity) {
    this.signer = new Ed25519Signer(identity.signing.seed);
  }
  static demo(handle: string): Actor {
    return new Actor(demoIdentity(handle));
  }
  get did(): string {
    return this.identity.did;
  }
  tx(contract: string, method: string, args: unknown, extra: Partial<TxDraft> = {}): SignedTx {
    return signTx({ chain: DEMO_CHAIN_ID, contract, method, args, ...extra }, this.identity.did, this.signer);
  }
}

export const admin = (inst: string) => Actor.demo(demoHandle.admin(inst));
export const staff = (inst: string, id: string) => Actor.demo(demoHandle.staff(inst, id));

/** Every row of world state, for "nothing was written" assertions. */
export function stateSnapshot(node: MedchainNode): string {
  return JSON.stringify(node.ledger.store.db.prepare('SELECT key, value, height, idx FROM state ORDER BY key').all());
}
