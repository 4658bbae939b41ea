import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { base32 } from '@scure/base';
import { afterAll, describe, expect, it } from 'vitest';
import { Ed25519Signer } from '../../src/crypto/index.js';
import { DEMO_CHAIN_ID, demoHandle, demoIdentity } from '../../src/demo/index.js';
import { signTx } from '../../src/ledger/index.js';
import { freePort, runCli, startNodeProcess } from '../helpers/cli-process.js';
import { allTableText } from '../helpers/ledger-fixtures.js';

/**
 * Crash safety through the real CLI and HTTP API: a node is killed with SIGKILL while clients are writing,
 * repeatedly; after each restart every tx that was acknowledged must still be there, and `verify` must pass.
 */

const registrar = demoIdentity(demoHandle.staff('qingshan-county-hospital', 'reg-zhao-min'));
const signer = new Ed25519Signer(registrar.signing.seed);

function newPatientTx() {
  const patientId = 'P' + base32.encode(randomBytes(20)).slice(0, 26);
  return signTx({ chain: DEMO_CHAIN_ID, contract: 'identity', method: 'registerPatient', args: { patientId } }, registrar.did, signer);
}

/** Writes from `clients` concurrent clients until stopped; returns the ids the node acknowledged as committed. */
function writeLoad(url: string, clients: number) {
  const acknowledged: Array<{ id: string; height: number }> = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      try {
        const res = await fetch(`${url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(newPatientTx()) });
        if (res.status === 200) {
          const receipt = (await res.json()) as { id: string; height: number };
          acknowledged.push({ id: receipt.id, height: receipt.height });
        }
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // node is down
      }
    }
  });
  return {
    acknowledged,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('kill -9 under write load', () => {
  it('loses no acknowledged tx across repeated SIGKILLs and verify passes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'medchain-kill9-'));
    dirs.push(root);
    const data = join(root, 'data');
    const init = await runCli(['init', '--data', data, '--demo']);
    expect(init.code, init.stderr).toBe(0);

    const acknowledged: Array<{ id: string; height: number }> = [];
    for (let round = 0; round < 3; round++) {
      const port = await freePort();
      const node = await startNodeProcess(data, port);
      const load = writeLoad(node.url, 24);
      await new Promise((r) => setTimeout(r, 1500 + round * 300));
      await node.stop('SIGKILL');
      await load.stop();
      acknowledged.push(...load.acknowledged);
      expect(load.acknowledged.length, `round ${round} made progress`).toBeGreaterThan(0);
    }

    const db = new Database(join(data, 'ledger.db'), { readonly: true });
    const find = db.prepare<[Buffer], { height: number; result: string }>('SELECT height, result FROM txs WHERE id = ?');
    const missing = acknowledged.filter(({ id, height }) => {
      const row = find.get(Buffer.from(id, 'hex'));
      return !row || row.height !== height || JSON.parse(row.result).status !== 'ok';
    });
    db.close();
    expect(missing).toEqual([]);

    const verify = await runCli(['verify', '--data', data]);
    expect(verify.stdout).toContain('ledger intact');
    expect(verify.code).toBe(0);
  }, 180_000);
});

/**
 * A digest of everything SQLite returns from the file: every table's cells and the tx id index read on its own,
 * or the error when it cannot be read. Two files with the same digest hold the same data.
 */
function readableContent(path: string): string {
  try {
    const db = new Database(path, { readonly: true });
    let index: unknown[];
    try {
      index = db.prepare('SELECT hex(id), height, idx FROM txs INDEXED BY txs_by_id').raw().all();
    } finally {
      db.close();
    }
    return createHash('sha256').update(allTableText(path).text).update('\0').update(JSON.stringify(index)).digest('hex');
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

describe('a byte changed in the SQLite file', () => {
  it('makes verify fail and name the height, for a tx body, a block header and a state row', async () => {
    const root = mkdtempSync(join(tmpdir(), 'medchain-tamper-'));
    dirs.push(root);
    const data = join(root, 'data');
    expect((await runCli(['init', '--data', data, '--demo'])).code).toBe(0);
    // One more tx whose bytes are easy to find in the file.
    const port = await freePort();
    const node = await startNodeProcess(data, port);
    const tx = newPatientTx();
    const res = await fetch(`${node.url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
    expect(res.status).toBe(200);
    const receipt = (await res.json()) as { id: string; height: number };
    await node.stop('SIGTERM');
    expect((await runCli(['verify', '--data', data])).code).toBe(0);

    const patientId = (tx.tx.args as { patientId: string }).patientId;
    // VACUUM drops stale pages and free lists; what it cannot drop is leftover bytes in the unused space of live
    // pages and separator copies in interior pages, so each change below is first checked to alter what SQLite reads.
    const db = new Database(join(data, 'ledger.db'));
    db.exec('VACUUM');
    db.close();

    const targets: Array<{ what: string; needle: string | Buffer }> = [
      { what: 'tx id (row and id index)', needle: Buffer.from(receipt.id, 'hex') },
      { what: 'tx body (nonce)', needle: tx.tx.nonce },
      { what: 'tx body (signature)', needle: tx.sig.slice(10, 40) },
      { what: 'state/history/index (patient id)', needle: patientId.slice(1) },
      { what: 'block header', needle: `"height":${receipt.height},"prevHash"` },
    ];
    for (const { what, needle } of targets) {
      const original = readFileSync(join(data, 'ledger.db'));
      const occurrences: number[] = [];
      for (let at = original.indexOf(needle); at !== -1; at = original.indexOf(needle, at + 1)) {
        occurrences.push(at);
      }
      expect(occurrences.length, `${what} is in the file`).toBeGreaterThan(0);
      const originalContent = readableContent(join(data, 'ledger.db'));
      let changedData = 0;
      for (const at of occurrences) {
        const copy = join(root, `copy-${occurrences.indexOf(at)}`);
        rmSync(copy, { recursive: true, force: true });
        cpSync(data, copy, { recursive: true });
        const bytes = Buffer.from(original);
        const pos = at + needle.length - 2;
        if (typeof needle === 'string') bytes[pos] = bytes[pos] === 0x41 ? 0x42 : 0x41; // change one character
        else bytes[pos] = bytes[pos]! ^ 0x01; // flip one bit
        writeFileSync(join(copy, 'ledger.db'), bytes);
        // Not a stored row (a separator in an interior page, leftover bytes, a page the log shadows): nothing to detect.
        if (readableContent(join(copy, 'ledger.db')) === originalContent) continue;
        changedData++;
        const result = await runCli(['verify', '--data', copy, '--json']);
        expect(result.code, `${what} at offset ${at}: ${result.stdout}${result.stderr}`).toBe(1);
        const report = JSON.parse(result.stdout) as { ok: boolean; firstBadHeight: number };
        expect(report.ok).toBe(false);
        expect(report.firstBadHeight, what).toBe(receipt.height);
      }
      expect(changedData, `${what}: some occurrence is a stored row`).toBeGreaterThan(0);
    }
  }, 240_000);
});
