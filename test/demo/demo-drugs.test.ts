import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoClinicalRecords, demoHostedInstitutions, demoPeople, seedDemoDrugs, writeDemoRecord, type DemoDrugStories } from '../../src/demo/index.js';
import { seedDemo } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { openTestNode } from '../helpers/test-node.js';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import { demoHandle, demoIdentity } from '../../src/demo/index.js';

/** The seeded demo supply chain shows each verification outcome. */

let node: MedchainNode;
let cleanup: () => Promise<void>;
let stories: DemoDrugStories;

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  const { people } = await seedDemo(node);
  // Only the prescriptions the supply chain fills (the full record seed is test/demo/demo-stories.test.ts's).
  for (const p of people.slice(0, 3)) {
    const rx = demoClinicalRecords(p).filter((r) => r.resource.id === `rx-${p.n}-0`);
    expect(rx.map((r) => r.resource.resourceType)).toEqual(['MedicationRequest']);
    for (const r of rx) await writeDemoRecord(node, r);
  }
  stories = await seedDemoDrugs(node, people);
}, 120_000);
afterAll(async () => cleanup());

describe('demo supply chain', () => {
  it('a genuine pack verifies clean with its whole custody chain', async () => {
    const v = await node.drugs.verify(stories.genuine);
    expect(v).toMatchObject({ found: true, verdict: 'ok', warnings: [] });
    expect(v.custody!.map((c) => c.bizStep)).toEqual(['commissioning', 'packing', 'shipping', 'receiving', 'shipping', 'receiving', 'unpacking']);
  });

  it("dispensing filled each patient's own demo prescription (a MedicationRequest on the ledger)", () => {
    const pack = node.query('drugs', 'code', { code: stories.diverted }) as { dispensed?: { patientId: string; prescription?: string } };
    expect(pack.dispensed?.prescription).toBe('rx-1-0');
    const rx = node.query('records', 'get', { id: 'rx-1-0' }) as { patientId: string; resourceType: string };
    expect(rx).toMatchObject({ patientId: pack.dispensed!.patientId, resourceType: 'MedicationRequest' });
  });

  it('the excursion was released, the recall and the diversion and the counterfeit are flagged and reported', async () => {
    const released = await node.drugs.verify(stories.excursionReleased);
    expect(released.release?.note).toContain('超温');
    expect(released.coldChain!.some((c) => c.excursion)).toBe(true);
    expect((await node.drugs.verify(stories.recalled)).warnings).toContain('recalled');
    expect((await node.drugs.verify(stories.diverted)).warnings).toContain('already-dispensed');
    expect((await node.drugs.verify(stories.counterfeit)).found).toBe(false);
    const findings = (node.query('drugs', 'scanReports', {}) as Array<{ finding: string }>).map((r) => r.finding);
    expect(findings).toEqual(expect.arrayContaining(['already-dispensed', 'unknown-code', 'recalled']));
    const nonconformant = (node.query('drugs', 'inventory', { holder: 'kangning-pharmacy' }) as Array<{ nonconformant: number }>).reduce((n, s) => n + s.nonconformant, 0);
    expect(nonconformant).toBe(59); // 60 warm insulin packs reached the pharmacy, one dispensed after release
  });

  it('the regulator dashboard summarises suspicious scans and recalled stock (GET /v1/oversight/drugs), without patient data', async () => {
    const app = await buildApi(node);
    try {
      const get = async (handle: string, url: string) => {
        const res = await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(demoIdentity(handle), 'GET', url) } });
        return { status: res.statusCode, body: res.json(), text: res.body };
      };
      const res = await get(demoHandle.staff('qingshan-health-commission', 'reg-luo-bin'), '/v1/oversight/drugs');
      expect(res.status, res.text).toBe(200);
      const raw = node.query('drugs', 'scanReports', {}) as Array<{ finding: string }>;
      expect(raw.length).toBeGreaterThan(0);
      expect(res.body.suspicious.total).toBe(raw.length);
      for (const f of ['already-dispensed', 'unknown-code', 'recalled']) expect(res.body.suspicious.byFinding[f], f).toBe(raw.filter((r) => r.finding === f).length);
      expect(res.body.suspicious.byDay).toHaveLength(30);
      expect(res.body.suspicious.byDay.reduce((n: number, d: { total: number }) => n + d.total, 0)).toBe(raw.length);
      expect(res.body.suspicious.recent.some((r: { product?: { name: string } }) => r.product?.name)).toBe(true);
      expect(res.body.recalls.length).toBeGreaterThan(0);
      expect(res.body.recalls[0]).toMatchObject({ reason: expect.any(String), recalledBy: expect.any(String), product: { name: expect.any(String) } });
      expect(res.body.recalls[0].packsHeld).toBe(Object.values(res.body.recalls[0].holders as Record<string, number>).reduce((a, b) => a + b, 0));
      for (const p of demoPeople()) expect(res.text.includes(p.patientId)).toBe(false);
      const refused = await get(demoHandle.staff('kangning-pharmacy', 'pharm-gao-ping'), '/v1/oversight/drugs');
      expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    } finally {
      await app.close();
    }
  });
});
