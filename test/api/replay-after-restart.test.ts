import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import { demoHandle, demoIdentity } from '../../src/demo/index.js';
import { openTestNode } from '../helpers/test-node.js';

/**
 * A signed request accepted before the node restarted is refused as a replay after it: the node keeps the nonces it
 * accepted in its data dir (nonces.db). Requests signed just before the restart and sent after it are served.
 */

const dir = mkdtempSync(join(tmpdir(), 'medchain-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// An institution's admin key is in the genesis document, so a genesis-only node knows the signer.
const regulator = demoIdentity(demoHandle.admin('qingshan-health-commission'));
const url = '/v1/oversight/access-stats';

async function once<T>(run: (app: Awaited<ReturnType<typeof buildApi>>) => Promise<T>): Promise<T> {
  const { node } = await openTestNode({ dataDir: dir });
  const app = await buildApi(node, { webRoot: false });
  try {
    return await run(app);
  } finally {
    await app.close();
    await node.close();
  }
}

describe('replay protection across a node restart', () => {
  it('refuses after the restart what was accepted before it, and serves what was only signed before it', async () => {
    const used = signUserRequest(regulator, 'GET', url);
    const signedOnly = signUserRequest(regulator, 'GET', url);
    const first = await once((app) => app.inject({ method: 'GET', url, headers: { authorization: used } }));
    // Authenticated (the route itself decides what a genesis-only node shows this user).
    expect(first.statusCode, first.body).not.toBe(401);

    const [replay, fresh] = await once(async (app) => [
      await app.inject({ method: 'GET', url, headers: { authorization: used } }),
      await app.inject({ method: 'GET', url, headers: { authorization: signedOnly } }),
    ]);
    expect(replay.statusCode).toBe(401);
    expect(JSON.stringify(replay.json())).toMatch(/already used \(replay\)/);
    expect(fresh.statusCode).toBe(first.statusCode);
  });
});
