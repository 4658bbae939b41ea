import { describe, expect, it } from 'vitest';
import { userNonceExpiry } from '../../src/api/user-auth.js';
import { UsedNonces } from '../../src/crypto/index.js';
import { USER_REQUEST_WINDOW_MS } from '../../src/contracts/delegation.js';

describe('UsedNonces with the API\'s window (userNonceExpiry)', () => {
  const t0 = 1_767_225_600_000;

  it('accepts a nonce once per signer while its request is within the window, and forgets it after', () => {
    const used = new UsedNonces();
    expect(used.claim('did:key:a n1', userNonceExpiry(t0), t0)).toBe(true);
    expect(used.claim('did:key:a n1', userNonceExpiry(t0), t0 + 1000)).toBe(false);
    // Another signer's nonce is another nonce.
    expect(used.claim('did:key:b n1', userNonceExpiry(t0), t0 + 1000)).toBe(true);
    // Still refused at the last moment the request could pass the node's time check...
    const lastValid = t0 + USER_REQUEST_WINDOW_MS - 30_000;
    expect(used.claim('did:key:a n1', userNonceExpiry(t0), lastValid)).toBe(false);
    // ...and forgotten once it no longer could (the time check refuses it by then).
    expect(used.claim('did:key:a n1', userNonceExpiry(t0), lastValid + 1)).toBe(true);
  });

  it('drops expired nonces as new ones arrive, so the set holds one window of requests', () => {
    const used = new UsedNonces();
    for (let i = 0; i < 1000; i++) used.claim(`did:key:a n${i}`, userNonceExpiry(t0 + i * 1000), t0 + i * 1000);
    // The window is 270 s: at 1 request per second, about 270 are kept.
    expect(used.size).toBeGreaterThanOrEqual(270);
    expect(used.size).toBeLessThanOrEqual(272);
    // A request timed ahead of the node clock (allowed up to 270 s) is kept until its own time has passed by the window.
    const ahead = new UsedNonces();
    expect(ahead.claim('did:key:a early', userNonceExpiry(t0 + 200_000), t0)).toBe(true);
    expect(ahead.claim('did:key:a early', userNonceExpiry(t0 + 200_000), t0 + 400_000)).toBe(false);
  });
});
