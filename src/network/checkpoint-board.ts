import type { Checkpoint } from '../ledger/index.js';

/**
 * Fork and tamper detection from signed checkpoints `{height, blockHash, stateHash}`. Every peer's checkpoints
 * are compared with this node's own blocks at the same height (as soon as this node has that height) and with
 * every other peer's checkpoint at that height. Any difference is a disagreement: a fork, or a ledger altered
 * by hand, or a non-deterministic contract. Pure bookkeeping, no I/O: the exchange feeds it.
 */

export interface PeerHead {
  nodeDid: string;
  institution?: string;
  height: number;
  blockHash: string;
  stateHash: string;
  /** Local time the latest checkpoint of this peer arrived. */
  seenAt: number;
}

export interface DisagreementSide {
  nodeDid: string;
  institution?: string;
  blockHash: string;
  stateHash: string;
}

export interface Disagreement {
  height: number;
  sides: [DisagreementSide, DisagreementSide];
  detectedAt: number;
}

/** What this node holds at a height (undefined above its head). */
export type LocalBlockAt = (height: number) => { hash: string; stateHash: string } | undefined;

/** Heights of other peers' checkpoints kept for comparison. */
const KEEP_HEIGHTS = 512;

export class CheckpointBoard {
  private readonly byHeight = new Map<number, Map<string, DisagreementSide>>();
  private readonly heads = new Map<string, PeerHead>();
  private readonly found: Disagreement[] = [];
  private readonly reported = new Set<string>();

  constructor(
    private readonly self: { nodeDid: string; institution?: string },
    private readonly localBlockAt: LocalBlockAt,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a verified checkpoint of another peer; returns the disagreements it reveals. */
  observe(cp: Checkpoint, institution?: string): Disagreement[] {
    if (cp.signer === this.self.nodeDid) return [];
    const side: DisagreementSide = { nodeDid: cp.signer, ...(institution ? { institution } : {}), blockHash: cp.blockHash, stateHash: cp.stateHash };
    const head = this.heads.get(cp.signer);
    if (!head || cp.height >= head.height) {
      this.heads.set(cp.signer, { nodeDid: cp.signer, ...(institution ? { institution } : {}), height: cp.height, blockHash: cp.blockHash, stateHash: cp.stateHash, seenAt: this.now() });
    }
    let atHeight = this.byHeight.get(cp.height);
    if (!atHeight) {
      atHeight = new Map();
      this.byHeight.set(cp.height, atHeight);
      this.prune();
    }
    const fresh: Disagreement[] = [];
    for (const other of atHeight.values()) {
      if (other.nodeDid !== side.nodeDid) this.compare(cp.height, other, side, fresh);
    }
    atHeight.set(side.nodeDid, side);
    const mine = this.localSide(cp.height);
    if (mine) this.compare(cp.height, mine, side, fresh);
    return fresh;
  }

  /** Called when this node commits `height`: compares it with the peers' checkpoints already received. */
  onLocalBlock(height: number): Disagreement[] {
    const atHeight = this.byHeight.get(height);
    const mine = atHeight && this.localSide(height);
    if (!atHeight || !mine) return [];
    const fresh: Disagreement[] = [];
    for (const side of atHeight.values()) this.compare(height, mine, side, fresh);
    return fresh;
  }

  peers(): PeerHead[] {
    return [...this.heads.values()].sort((a, b) => a.nodeDid.localeCompare(b.nodeDid));
  }

  disagreements(): Disagreement[] {
    return [...this.found];
  }

  private localSide(height: number): DisagreementSide | undefined {
    const block = this.localBlockAt(height);
    return block && { nodeDid: this.self.nodeDid, ...(this.self.institution ? { institution: this.self.institution } : {}), blockHash: block.hash, stateHash: block.stateHash };
  }

  private compare(height: number, a: DisagreementSide, b: DisagreementSide, fresh: Disagreement[]): void {
    if (a.blockHash === b.blockHash && a.stateHash === b.stateHash) return;
    const key = `${height}|${[a.nodeDid, b.nodeDid].sort().join('|')}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const d: Disagreement = { height, sides: [a, b], detectedAt: this.now() };
    this.found.push(d);
    if (this.found.length > 1000) this.found.shift();
    fresh.push(d);
  }

  private prune(): void {
    if (this.byHeight.size <= KEEP_HEIGHTS) return;
    const heights = [...this.byHeight.keys()].sort((x, y) => x - y);
    for (const h of heights.slice(0, heights.length - KEEP_HEIGHTS)) this.byHeight.delete(h);
  }
}
