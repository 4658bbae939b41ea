import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startNodeProcess, type NodeProcess } from '../helpers/cli-process.js';
import { DEMO_PRODUCTS } from '../../src/demo/index.js';

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
  it('fhir import (per-entry errors), get, export, consent grant/list and the access log', async () => {
    const people = JSON.parse(readFileSync(join(data, 'demo', 'people.json'), 'utf8')) as Array<{ n: number; patientId: string; institutions: string[] }>;
    // A town patient of the county hospital only: no demo consent story touches them.
    const p = people.find((x) => x.institutions.length === 1 && x.institutions[0] === 'qingshan-county-hospital')!;
    const obs = {
      resourceType: 'Observation',
      id: 'cli-obs-1',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2345-7' }] },
      subject: { reference: `Patient/${p.patientId}` },
      effectiveDateTime: '2026-06-01',
      valueQuantity: { value: 6.1, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    };
    const cond = { resourceType: 'Condition', subject: { reference: `Patient/${p.patientId}` }, code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] } };
    const dir = join(root, 'fhir');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }, { resource: { ...obs, id: 'cli-obs-2', valueQuantity: { value: 'x' } } }] }));
    writeFileSync(join(dir, 'b.ndjson'), JSON.stringify(cond) + '\n');
    const url = ['--url', node.url];
    const dr = ['--as', 'dr-zhang-wei@qingshan-county-hospital'];
    const imported = await runCli(['fhir', 'import', dir, ...dr, ...url]);
    expect(imported.code, imported.stderr).toBe(1);
    const summary = JSON.parse(imported.stdout) as { imported: number; failed: Array<{ source: string; code: string }> };
    expect(summary.imported).toBe(2);
    expect(summary.failed).toEqual([expect.objectContaining({ source: expect.stringContaining('a.json#1'), code: 'INVALID_FHIR' })]);
    expect(imported.stderr).toContain('fhir import');

    const li = ['--as', 'dr-li-qiang@baishi-health-centre'];
    const denied = await runCli(['fhir', 'get', 'Observation/cli-obs-1', ...li, ...url]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('ACCESS_DENIED');
    const asPatient = ['--as', `patient:${p.n}`];
    const grant = await runCli(['consent', 'grant', ...asPatient, '--patient', p.patientId, '--to', 'institution:baishi-health-centre', '--purpose', 'TREAT', '--types', 'Observation', ...url]);
    expect(grant.code, grant.stderr).toBe(0);
    const got = await runCli(['fhir', 'get', 'Observation/cli-obs-1', ...li, ...url]);
    expect(got.code, got.stderr).toBe(0);
    expect(JSON.parse(got.stdout).valueQuantity.value).toBe(6.1);
    const consents = await runCli(['consent', 'list', ...asPatient, '--patient', p.patientId, ...url]);
    expect(JSON.parse(consents.stdout).entry.some((e: { resource: { resourceType: string } }) => e.resource.resourceType === 'Consent')).toBe(true);
    const out = join(root, 'export.json');
    const exported = await runCli(['fhir', 'export', ...asPatient, '--patient', p.patientId, '--out', out, ...url]);
    expect(exported.code, exported.stderr).toBe(0);
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as { entry: Array<{ resource: { id?: string } }> };
    expect(bundle.entry.some((e) => e.resource.id === 'cli-obs-1')).toBe(true);
    const log = await runCli(['access', 'log', ...asPatient, '--patient', p.patientId, ...url]);
    const entries = JSON.parse(log.stdout) as Array<{ decision: string; record: { id: string } }>;
    expect(entries.filter((e) => e.record.id === 'cli-obs-1').map((e) => e.decision)).toEqual(expect.arrayContaining(['deny', 'permit']));
    const nobody = await runCli(['access', 'log', ...li, '--patient', p.patientId, ...url]);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('FORBIDDEN');
  }, 180_000); // a dozen CLI processes: on a loaded machine each start takes seconds

  it('drugs: batch, bulk commission, EPCIS capture, verify and QR from the command line', async () => {
    const url = ['--url', node.url];
    const maker = ['--as', 'qa-lin-tao@huakang-pharma'];
    const amoxicillin = DEMO_PRODUCTS[0].gtin;
    const batch = await runCli(['drugs', 'batch', ...maker, '--gtin', amoxicillin, '--lot', 'CLI01', '--manufactured', '2026-05-01', '--expires', '2028-05-01', ...url]);
    expect(batch.code, batch.stderr).toBe(0);
    const commissioned = await runCli(['drugs', 'commission', ...maker, '--gtin', amoxicillin, '--lot', 'CLI01', '--first', '500000', '--count', '2000', ...url]);
    expect(commissioned.code, commissioned.stderr).toBe(0);
    expect(JSON.parse(commissioned.stdout).result.result).toMatchObject({ count: 2000 });
    const good = await runCli(['drugs', 'verify', `(01)${amoxicillin}(10)CLI01(21)500001`, ...url]);
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ found: true, verdict: 'ok' });
    const fake = await runCli(['drugs', 'verify', `https://id.gs1.org/01/${amoxicillin}/21/424242`, ...url]);
    expect(fake.code).toBe(2);
    const svg = join(root, 'pack.svg');
    expect((await runCli(['drugs', 'qr', `sgtin:${amoxicillin}.500001`, '--out', svg, ...url])).code).toBe(0);
    expect(readFileSync(svg, 'utf8')).toContain('<svg');
    const bad = join(root, 'bad-epcis.json');
    writeFileSync(bad, JSON.stringify({ type: 'EPCISDocument', schemaVersion: '2.0', creationDate: '2026-06-01T08:00:00+08:00', epcisBody: { eventList: [{ type: 'ObjectEvent', action: 'JUMP' }] } }));
    const rejected = await runCli(['drugs', 'capture', bad, ...maker, ...url]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('INVALID_EPCIS');
    const events = await runCli(['drugs', 'events', ...maker, '--code', `(01)${amoxicillin}(21)500001`, ...url]);
    expect(events.code, events.stderr).toBe(0);
    expect(JSON.parse(events.stdout).events.map((e: { bizStep: string }) => e.bizStep)).toEqual(['commissioning']);
    const recalled = await runCli(['drugs', 'recall', ...maker, '--gtin', amoxicillin, '--lot', 'CLI01', '--reason', '包装标签印刷错误', ...url]);
    expect(recalled.code, recalled.stderr).toBe(0);
    expect(JSON.parse(recalled.stdout).result.result.holders).toEqual([{ holder: 'huakang-pharma', packs: 2000 }]);
  }, 180_000); // eleven CLI processes: on a loaded machine each start takes seconds

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

  it('oversight stats and anomalies for the regulator; refused for a doctor', async () => {
    const url = ['--url', node.url];
    const stats = await runCli(['oversight', 'stats', '--as', 'reg-luo-bin@qingshan-health-commission', ...url]);
    expect(stats.code, stats.stderr).toBe(0);
    const s = JSON.parse(stats.stdout) as { days: unknown[]; totals: { counts: { entries: number; deny: number; emergency: number } } };
    expect(s.days).toHaveLength(30);
    expect(s.totals.counts.entries).toBeGreaterThan(0);
    expect(s.totals.counts.emergency).toBeGreaterThan(0);
    const anomalies = await runCli(['oversight', 'anomalies', '--as', 'aud-song-jia@qingshan-health-commission', '--limit', '10', ...url]);
    expect(anomalies.code, anomalies.stderr).toBe(0);
    const a = JSON.parse(anomalies.stdout) as { highVolumeReaders: Array<{ requester: { staffId: string } }>; denialBursts: unknown[] };
    expect(a.highVolumeReaders.map((m) => m.requester.staffId)).toContain('nurse-liu-fang');
    expect(a.denialBursts.length).toBeGreaterThan(0);
    const refused = await runCli(['oversight', 'stats', '--as', 'dr-zhang-wei@qingshan-county-hospital', ...url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('FORBIDDEN');
    const bad = await runCli(['oversight', 'stats', '--as', 'reg-luo-bin@qingshan-health-commission', '--from', '2026-02-30', ...url]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('INVALID_ARGS');
  });
});
