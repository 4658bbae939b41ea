import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { userNonceExpiry } from '../../src/api/user-auth.js';
import { USER_REQUEST_WINDOW_MS } from '../../src/contracts/delegation.js';
import { UsedNonces } from '../../src/node/used-nonces.js';

const dir = mkdtempSync(join(tmpdir(), 'medchain-nonces-'));
const opened: UsedNonces[] = [];
let files = 0;
afterAll(() => {
  for (const s of opened) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function onDisk(path = join(dir, `n${files++}.db`)): UsedNonces {
  const store = new UsedNonces(path);
  opened.push(store);
  return store;
}

describe('UsedNonces with the API\'s window (userNonceExpiry)', () => {
  const t0 = 1_767_225_600_000;

  it('accepts a nonce once per signer while its request is within the window, and forgets it after', () => {
    const used = onDisk();
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
    const used = onDisk();
    for (let i = 0; i < 1000; i++) used.claim(`did:key:a n${i}`, userNonceExpiry(t0 + i * 1000), t0 + i * 1000);
    // The window is 270 s: at 1 request per second, about 270 are kept.
    expect(used.size).toBeGreaterThanOrEqual(270);
    expect(used.size).toBeLessThanOrEqual(272);
    // A request timed ahead of the node clock (allowed up to 270 s) is kept until its own time has passed by the window.
    const ahead = onDisk();
    expect(ahead.claim('did:key:a early', userNonceExpiry(t0 + 200_000), t0)).toBe(true);
    expect(ahead.claim('did:key:a early', userNonceExpiry(t0 + 200_000), t0 + 400_000)).toBe(false);
  });
});

describe('UsedNonces across a restart', () => {
  const t0 = 1_767_225_600_000;

  it('still refuses a claimed nonce after it is closed and opened again (a node restart), until it expires', () => {
    const path = join(dir, 'restart.db');
    const before = onDisk(path);
    expect(before.claim('did:key:a n1', t0 + 60_000, t0)).toBe(true);
    before.close();
    const after = onDisk(path);
    expect(after.claim('did:key:a n1', t0 + 60_000, t0 + 1_000)).toBe(false);
    expect(after.claim('did:key:a n2', t0 + 60_000, t0 + 1_000)).toBe(true);
    expect(after.claim('did:key:a n1', t0 + 120_000, t0 + 60_000)).toBe(true);
  });
});
