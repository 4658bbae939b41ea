import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSettings, sharedCoreWorkers } from '../../src/node/index.js';

const dirs: string[] = [];
function dataDirWith(settings: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'medchain-settings-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'node.json'), JSON.stringify({ institution: 'baishi-health-centre', ...settings }));
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('node settings: signature worker threads', () => {
  it('are optional, and taken as written when a whole number from 0 to 256', () => {
    expect(readSettings(dataDirWith({})).signatureWorkers).toBeUndefined();
    expect(readSettings(dataDirWith({ signatureWorkers: 0 })).signatureWorkers).toBe(0);
    expect(readSettings(dataDirWith({ signatureWorkers: 3 })).signatureWorkers).toBe(3);
  });

  it.each([-1, 1.5, '2', null, 257])('refuses %j with CONFIG_INVALID', (value) => {
    const dir = dataDirWith({ signatureWorkers: value });
    expect(() => readSettings(dir)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('signatureWorkers') }));
  });

  it('share the cores among nodes on one machine, one each at least', () => {
    const cores = availableParallelism();
    expect(sharedCoreWorkers(1)).toBe(cores);
    expect(sharedCoreWorkers(3)).toBe(Math.max(1, Math.floor(cores / 3)));
    expect(sharedCoreWorkers(cores * 4)).toBe(1);
    expect(sharedCoreWorkers(0)).toBe(cores);
  });
});

describe('node settings: SQLite page cache', () => {
  it('is optional, and taken as written when a whole number of MiB from 1 up', () => {
    expect(readSettings(dataDirWith({})).sqliteCacheMiB).toBeUndefined();
    expect(readSettings(dataDirWith({ sqliteCacheMiB: 1 })).sqliteCacheMiB).toBe(1);
    expect(readSettings(dataDirWith({ sqliteCacheMiB: 8192 })).sqliteCacheMiB).toBe(8192);
  });

  it.each([0, -64, 2.5, '512', null, 2 ** 21])('refuses %j with CONFIG_INVALID', (value) => {
    const dir = dataDirWith({ sqliteCacheMiB: value });
    expect(() => readSettings(dir)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('sqliteCacheMiB') }));
  });
});
