import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/index.js';
import { signUserRequest } from '../../src/api/user-auth.js';
import type { Identity } from '../../src/crypto/index.js';
import { dayOf } from '../../src/contracts/drugs/index.js';
import { addDays } from '../../src/contracts/drugs/reports.js';
import { demoHostedInstitutions } from '../../src/demo/index.js';
import type { MedchainNode } from '../../src/node/index.js';
import { DIST, epcisEvent, INSULIN, MAKER, PHARMACY, setupDrugChain, shipTo, type DrugChain } from '../helpers/drug-chain.js';
import { type Actor, openTestNode } from '../helpers/test-node.js';
import { sgtinEpc } from '../../src/gs1/codes.js';

/**
 * The expiring-soon report over HTTP: an institution's stock, or every holder's for the regulator, whose batch
 * expires within N days (90 by default), already expired stock flagged, sorted by expiry, from the stock rows.
 */

let node: MedchainNode;
let app: FastifyInstance;
let cleanup: () => Promise<void>;
let chain: DrugChain;
/** The day the batches' expiry dates are counted from (the latest block's day when they were registered). */
let today: string;

type Row = { holder: string; lot: string; expires: string; daysLeft: number; expired: boolean; recalled: boolean; active: number; inTransit: number; product: string };
type Report = { asOf: string; withinDays: number; until: string; stock: Row[]; truncated: boolean };

async function get(as: Identity, url: string) {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: signUserRequest(as, 'GET', url) } });
  return { status: res.statusCode, body: res.json() as Report & { code?: string } };
}
async function ok(actor: Actor, method: string, args: unknown) {
  const r = (await node.submit(actor.tx('drugs', method, args))).result;
  expect(r, JSON.stringify(r)).toMatchObject({ status: 'ok' });
}
const epc = (serial: number) => sgtinEpc(INSULIN, String(serial));
const serials = (first: number, count: number) => Array.from({ length: count }, (_, i) => epc(first + i));
const summary = (r: Report) => r.stock.map((s) => `${s.expires} ${s.holder} ${s.lot} ${s.active}+${s.inTransit}${s.expired ? ' expired' : ''}${s.recalled ? ' recalled' : ''}`);

beforeAll(async () => {
  ({ node, cleanup } = await openTestNode({ hostedInstitutions: demoHostedInstitutions() }));
  app = await buildApi(node);
  chain = await setupDrugChain(node, 10); // lot B2026001 expires 2028-04-30: never in a 90-day report here
  today = dayOf(node.ledger.head().time);
  const { maker, pharmacist } = chain.actors;
  const batch = async (lot: string, expiresIn: number, first: number, count: number) => {
    await ok(maker, 'registerBatch', { gtin: INSULIN, lot, manufactured: addDays(today, -400), expires: addDays(today, expiresIn) });
    await ok(maker, 'commission', { gtin: INSULIN, lot, serials: { first, count }, eventTime: '2026-05-02T08:00:00+08:00' });
  };
  await batch('SOON30', 30, 2000, 10);
  await batch('LATER120', 120, 3000, 5);
  await batch('GONE', -5, 4000, 3);
  await batch('EMPTY10', 10, 5000, 2);
  // SOON30: 4 packs to the pharmacy (received), 2 on their way to the distributor, 4 left at the maker.
  await ok(maker, 'capture', { event: epcisEvent('shipping', serials(2000, 4), shipTo(PHARMACY)) });
  await ok(pharmacist, 'capture', { event: epcisEvent('receiving', serials(2000, 4)) });
  await ok(maker, 'capture', { event: epcisEvent('shipping', serials(2004, 2), shipTo(DIST)) });
  // EMPTY10's packs are destroyed: no stock, not in the report.
  await ok(maker, 'capture', { event: epcisEvent('destroying', serials(5000, 2)) });
  await ok(chain.actors.regulator, 'recall', { gtin: INSULIN, lot: 'LATER120', reason: 'stability failure' });
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

describe('the expiring-soon report', () => {
  it("an institution's stock expiring within 90 days, expired included and flagged, soonest first", async () => {
    const r = await get(chain.people.maker, '/v1/drugs/reports/expiring');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ asOf: today, withinDays: 90, until: addDays(today, 90), truncated: false });
    expect(summary(r.body)).toEqual([`${addDays(today, -5)} ${MAKER} GONE 3+0 expired`, `${addDays(today, 30)} ${MAKER} SOON30 4+2`]);
    expect(r.body.stock.map((s) => s.daysLeft)).toEqual([-5, 30]);
    expect(r.body.stock[0]!.product).toBe('门冬胰岛素注射液');
    // The horizon is a parameter; a recalled batch is flagged.
    const wider = await get(chain.people.maker, `/v1/drugs/reports/expiring?holder=${MAKER}&withinDays=150`);
    expect(summary(wider.body)).toEqual([
      `${addDays(today, -5)} ${MAKER} GONE 3+0 expired`,
      `${addDays(today, 30)} ${MAKER} SOON30 4+2`,
      `${addDays(today, 120)} ${MAKER} LATER120 5+0 recalled`,
    ]);
    const pharmacy = await get(chain.people.pharmacist, '/v1/drugs/reports/expiring');
    expect(summary(pharmacy.body)).toEqual([`${addDays(today, 30)} ${PHARMACY} SOON30 4+0`]);
  });

  it("the regulator sees every holder's (or one holder's); others only their own", async () => {
    const all = await get(chain.people.regulator, '/v1/drugs/reports/expiring');
    expect(all.status).toBe(200);
    expect(summary(all.body)).toEqual([
      `${addDays(today, -5)} ${MAKER} GONE 3+0 expired`,
      `${addDays(today, 30)} ${MAKER} SOON30 4+2`,
      `${addDays(today, 30)} ${PHARMACY} SOON30 4+0`,
    ]);
    const one = await get(chain.people.regulator, `/v1/drugs/reports/expiring?holder=${PHARMACY}`);
    expect(summary(one.body)).toEqual([`${addDays(today, 30)} ${PHARMACY} SOON30 4+0`]);
    const limited = await get(chain.people.regulator, '/v1/drugs/reports/expiring?limit=1');
    expect(limited.body.truncated).toBe(true);
    expect(limited.body.stock).toHaveLength(1);

    const foreign = await get(chain.people.pharmacist, `/v1/drugs/reports/expiring?holder=${MAKER}`);
    expect(foreign.status).toBe(403);
    expect(foreign.body.code).toBe('FORBIDDEN');
    const bad = await get(chain.people.maker, '/v1/drugs/reports/expiring?withinDays=-1');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_ARGS');
    const unsigned = await app.inject({ method: 'GET', url: '/v1/drugs/reports/expiring' });
    expect(unsigned.statusCode).toBe(401);
  });

  it('follows the stock rows as packs move', async () => {
    await ok(chain.actors.dist, 'capture', { event: epcisEvent('receiving', serials(2004, 2)) });
    const all = await get(chain.people.regulator, '/v1/drugs/reports/expiring');
    expect(summary(all.body)).toEqual([
      `${addDays(today, -5)} ${MAKER} GONE 3+0 expired`,
      `${addDays(today, 30)} ${MAKER} SOON30 4+0`,
      `${addDays(today, 30)} ${DIST} SOON30 2+0`,
      `${addDays(today, 30)} ${PHARMACY} SOON30 4+0`,
    ]);
  });
});
