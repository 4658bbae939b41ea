import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoHostedInstitutions, demoPeople, seedDemoDrugs, type DemoDrugStories } from '../../src/demo/index.js';
import { seedDemo } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { openTestNode } from '../helpers/test-node.js';

/** The seeded demo supply chain shows each verification outcome. */

let node: MedchainNode;
let cleanup: () => Promise<void>;
let stories: DemoDrugStories;

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  await seedDemo(node);
  stories = await seedDemoDrugs(node, demoPeople());
}, 120_000);
afterAll(async () => cleanup());

describe('demo supply chain', () => {
  it('a genuine pack verifies clean with its whole custody chain', async () => {
    const v = await node.drugs.verify(stories.genuine);
    expect(v).toMatchObject({ found: true, verdict: 'ok', warnings: [] });
    expect(v.custody!.map((c) => c.bizStep)).toEqual(['commissioning', 'packing', 'shipping', 'receiving', 'shipping', 'receiving', 'unpacking']);
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
});
