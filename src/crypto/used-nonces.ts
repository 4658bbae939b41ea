/**
 * Replay protection for signed requests: the nonces a receiver accepted, each kept until the request that carried
 * it can no longer pass the receiver's own freshness check (its expiry). In memory, so a receiver that restarts
 * forgets them: `since` is when this set began, and a receiver that knows when a request was signed refuses one
 * signed before then (it may have been accepted by the previous process); callers say what else is left open.
 */
/** What a receiver of signed requests needs of a nonce set (this one, or the node's on-disk store). */
export interface NonceRegistry {
  /** Requests signed before this may have been accepted without the set knowing (0: none). */
  readonly since: number;
  /** Records `key` until `expiresAt` (ms); false if it is already recorded. */
  claim(key: string, expiresAt: number, now: number): boolean;
}

export class UsedNonces implements NonceRegistry {
  private readonly expiries = new Map<string, number>();

  constructor(readonly since: number = Date.now()) {}

  /** Records `key` until `expiresAt` (ms); false if it is already recorded. */
  claim(key: string, expiresAt: number, now: number): boolean {
    // Oldest first (a Map keeps insertion order, and requests arrive in about the order of their expiries): stop at
    // the first still needed, so each claim costs what expired since the last one, never a scan of the whole set.
    for (const [k, expiry] of this.expiries) {
      if (expiry > now) break;
      this.expiries.delete(k);
    }
    if (this.expiries.has(key)) return false;
    this.expiries.set(key, expiresAt);
    return true;
  }

  get size(): number {
    return this.expiries.size;
  }
}
