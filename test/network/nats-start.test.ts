import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NatsCluster, planNatsCluster } from '../../src/network/nats-cluster.js';
import { freePort } from '../helpers/cli-process.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('starting nats-servers', () => {
  it('reports a server that exits at start with its log, at once rather than after the port wait', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medchain-nats-start-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // Another program holds the second server's cluster (route) port: it cannot listen there and exits.
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => squatter.close());
    const taken = (squatter.address() as { port: number }).port;
    const started = Date.now();
    await expect(NatsCluster.start(planNatsCluster(join(dir, 'nats'), [
      [await freePort(), await freePort()],
      [await freePort(), taken],
    ]))).rejects.toThrow(
      /nats-server nats-2 exited at start \(exit code \d+\); the end of \S*nats-2\/nats\.log:\n.*address already in use/s,
    );
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
