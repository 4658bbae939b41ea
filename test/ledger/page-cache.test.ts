import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createContractRuntime } from '../../src/contracts/index.js';
import { DEFAULT_CACHE_MIB, SqliteStore } from '../../src/ledger/index.js';
import { tempDir } from '../helpers/ledger-fixtures.js';
import { openTestNode } from '../helpers/test-node.js';

/** The ledger's SQLite page cache: 64 MiB unless the node is configured otherwise (node.json `sqliteCacheMiB`). */
const dirs: Array<{ remove(): void }> = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

function open(cacheMiB?: number): SqliteStore {
  const temp = tempDir();
  dirs.push(temp);
  return new SqliteStore({ path: join(temp.dir, 'ledger.db'), indexes: createContractRuntime().indexes, synchronous: 'normal', ...(cacheMiB !== undefined ? { cacheMiB } : {}) });
}

// SQLite reports a cache set in KiB as minus that many KiB.
const cacheKiB = (store: SqliteStore) => -(store.db.pragma('cache_size', { simple: true }) as number);

describe('ledger page cache', () => {
  it('is 64 MiB by default and what the store is opened with otherwise', async () => {
    const byDefault = open();
    const large = open(8192);
    try {
      expect(DEFAULT_CACHE_MIB).toBe(64);
      expect(cacheKiB(byDefault)).toBe(64 * 1024);
      expect(cacheKiB(large)).toBe(8192 * 1024);
    } finally {
      await byDefault.close();
      await large.close();
    }
  });
});

describe('a node configured with sqliteCacheMiB', () => {
  it('opens its ledger with that cache', async () => {
    const t = await openTestNode({ sqliteCacheMiB: 256 });
    try {
      expect(cacheKiB(t.node.ledger.store)).toBe(256 * 1024);
    } finally {
      await t.cleanup();
    }
  });
});
