import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Actor } from '../helpers/test-node.js';
import { freePort, runCli } from '../helpers/cli-process.js';
import { isAlive, type ClusterFile } from '../../src/network/local-cluster.js';
import { demoHandle } from '../../src/demo/index.js';

/** `medchain cluster up|status|down` end to end: 3 nats-servers and 2 institution node processes. */

const dir = mkdtempSync(join(tmpdir(), 'medchain-cluster-'));
afterAll(async () => {
  await runCli(['cluster', 'down', '--dir', dir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('medchain cluster', () => {
  it('up starts nats and one node per institution, which share one chain; down stops them all', async () => {
    // The ports after a free one are almost always free too; `up` fails loudly if not.
    const apiPort = await freePort();
    const natsPort = await freePort();
    const up = await runCli(['cluster', 'up', '--dir', dir, '--nodes', '2', '--api-port', String(apiPort), '--nats-port', String(natsPort)]);
    expect(up.code, up.stderr).toBe(0);
    const file = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
    expect(file.nodes.map((n) => n.institution)).toEqual(['qingshan-county-hospital', 'baishi-health-centre']);
    expect(file.natsPids.every(isAlive) && file.nodes.every((n) => isAlive(n.pid))).toBe(true);

    // Each node serves its own institution and has the seeded ledger.
    const [lead, township] = file.nodes;
    const s1 = (await (await fetch(`${township!.url}/v1/status`)).json()) as { institution: string; sequencer: string; head: { height: number } };
    expect(s1).toMatchObject({ institution: 'baishi-health-centre', sequencer: 'jetstream' });
    expect(s1.head.height).toBeGreaterThan(0);

    // A tx submitted at the township centre is committed there, then reaches the lead hospital.
    const nurse = Actor.demo(demoHandle.staff('baishi-health-centre', 'nurse-zhou-yan'));
    const tx = nurse.tx('identity', 'registerPatient', { patientId: 'PCLUSTERTESTAAAAAAAAAAAAAAA' });
    const res = await fetch(`${township!.url}/v1/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(tx) });
    const receipt = (await res.json()) as { id: string; height: number; result: { status: string } };
    expect(res.status, JSON.stringify(receipt)).toBe(200);
    expect(receipt.result.status).toBe('ok');
    let seen = 0;
    for (let i = 0; i < 100 && seen !== 200; i++) {
      seen = (await fetch(`${lead!.url}/v1/txs/${receipt.id}`)).status;
      if (seen !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe(200);

    const status = await runCli(['cluster', 'status', '--dir', dir]);
    const parsed = JSON.parse(status.stdout) as { nats: Array<{ running: boolean }>; nodes: Array<{ height: number; caughtUp: boolean }> };
    expect(parsed.nats.every((n) => n.running)).toBe(true);
    expect(parsed.nodes.every((n) => n.caughtUp && n.height >= receipt.height)).toBe(true);

    const down = await runCli(['cluster', 'down', '--dir', dir]);
    expect(JSON.parse(down.stdout)).toEqual({ stoppedNodes: 2, stoppedNats: 3 });
    expect(file.natsPids.some(isAlive) || file.nodes.some((n) => isAlive(n.pid))).toBe(false);
  }, 120_000);
});
