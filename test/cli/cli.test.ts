import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startNodeProcess, type NodeProcess } from '../helpers/cli-process.js';

/** The `medchain` command line, run as a real process against a real node. */

const root = mkdtempSync(join(tmpdir(), 'medchain-cli-'));
const data = join(root, 'data');
const passphraseFile = join(root, 'pass.txt');
let node: NodeProcess;

beforeAll(async () => {
  writeFileSync(passphraseFile, 'a long and secret passphrase\n');
  const init = await runCli(['init', '--data', data, '--demo']);
  expect(init.code, init.stderr).toBe(0);
  node = await startNodeProcess(data, await freePort());
}, 120_000);

afterAll(async () => {
  await node?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('medchain CLI', () => {
  it('init refuses to overwrite an initialized data directory', async () => {
    const again = await runCli(['init', '--data', data, '--demo']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ALREADY_INITIALIZED');
  });

  it('status, block and query talk to the running node', async () => {
    const status = await runCli(['status', '--url', node.url]);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as { chain: string; head: { height: number } };
    expect(s.chain).toBe('qingshan-county-alliance');
    expect(s.head.height).toBeGreaterThan(0);

    const block = await runCli(['block', '1', '--url', node.url]);
    expect(block.code, block.stderr).toBe(0);
    expect(JSON.parse(block.stdout).height).toBe(1);

    const q = await runCli(['query', 'identity', 'institutions', '--url', node.url]);
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(q.stdout))).toContain('青山县人民医院');

    const bad = await runCli(['query', 'identity', 'nosuch', '--url', node.url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('UNKNOWN_METHOD');
  });

  it('keys generate writes an encrypted key file that only the passphrase opens', async () => {
    const file = join(root, 'me.key.json');
    const gen = await runCli(['keys', 'generate', '--out', file, '--label', 'dr-test', '--passphrase-file', passphraseFile]);
    expect(gen.code, gen.stderr).toBe(0);
    const { did } = JSON.parse(gen.stdout) as { did: string };
    expect(did).toMatch(/^did:key:z6Mk/);
    expect(readFileSync(file, 'utf8')).toContain(did);

    const ok = await runCli(['keys', 'show', file, '--check', '--passphrase-file', passphraseFile]);
    expect(ok.code, ok.stderr).toBe(0);
    const wrong = await runCli(['keys', 'show', file, '--check'], { MEDCHAIN_PASSPHRASE: 'not it' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('KEY_FILE_PASSPHRASE');
  });

  it('tx submit signs with a key file; an unregistered key is refused with a clear code', async () => {
    const file = join(root, 'stranger.key.json');
    expect((await runCli(['keys', 'generate', '--out', file, '--passphrase-file', passphraseFile])).code).toBe(0);
    const res = await runCli([
      'tx', 'submit', '--key', file, '--contract', 'identity', '--method', 'rotateKey',
      '--args', JSON.stringify({ newKey: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK' }),
      '--url', node.url, '--passphrase-file', passphraseFile,
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('UNKNOWN_SIGNER');
    const badArgs = await runCli(['tx', 'submit', '--key', file, '--contract', 'identity', '--method', 'rotateKey', '--args', '{not json', '--url', node.url, '--passphrase-file', passphraseFile]);
    expect(badArgs.code).toBe(1);
    expect(badArgs.stderr).toContain('USAGE');
  });

  it('verify refuses a directory that is not a data directory', async () => {
    const res = await runCli(['verify', '--data', join(root, 'nothing-here')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('NOT_INITIALIZED');
  });

  it('verify passes on the demo ledger (a copy taken while the node runs is consistent)', async () => {
    const res = await runCli(['verify', '--data', data, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as { ok: boolean; txs: number };
    expect(report.ok).toBe(true);
    expect(report.txs).toBeGreaterThan(100);
  });
});
