import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/index.js';
import { demoIdentity, demoPeople } from '../../src/demo/index.js';
import { openTestNode } from '../helpers/test-node.js';

/** How the node serves the web application beside the API (in-process, with a stand-in build). */

let env: Awaited<ReturnType<typeof openTestNode>>;
let webRoot: string;
let app: FastifyInstance;
let plain: FastifyInstance;
const html = { accept: 'text/html,application/xhtml+xml' };

beforeAll(async () => {
  env = await openTestNode();
  webRoot = mkdtempSync(join(tmpdir(), 'medchain-webroot-'));
  mkdirSync(join(webRoot, 'assets'));
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><div id="root">APP</div>');
  writeFileSync(join(webRoot, 'assets', 'index-abc123.js'), 'console.log(1)');
  app = await buildApi(env.node, { webRoot, demoPeople: demoPeople(3) });
  plain = await buildApi(env.node, { webRoot });
});

afterAll(async () => {
  await app?.close();
  await plain?.close();
  await env?.cleanup();
  rmSync(webRoot, { recursive: true, force: true });
});

describe('web application routes', () => {
  it('serves index.html at / and for client routes, never cached; assets cached for good', async () => {
    for (const url of ['/', '/login', '/patient/consents', '/clinician']) {
      const res = await app.inject({ method: 'GET', url, headers: html });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain('APP');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    const asset = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
  });

  it('never answers API, docs, metrics or Digital Link paths with the app', async () => {
    for (const url of ['/v1/nope', '/fhir/R4/Nope/1', '/epcis/nope', '/health/x', '/metrics/x', '/01/nope', '/assets/missing.js']) {
      const res = await app.inject({ method: 'GET', url, headers: html });
      expect(res.body, url).not.toContain('APP');
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
    }
    expect((await app.inject({ method: 'GET', url: '/v1/status', headers: html })).json()).toHaveProperty('chain');
    expect((await app.inject({ method: 'GET', url: '/docs/', headers: html })).body).toContain('swagger');
    // A JSON client asking for an unknown page gets the JSON 404, not HTML.
    expect((await app.inject({ method: 'GET', url: '/patient' })).json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await app.inject({ method: 'POST', url: '/patient', headers: html })).statusCode).toBe(404);
  });

  it('has the demo sign-in routes only when given the demo people', async () => {
    const people = (await app.inject({ method: 'GET', url: '/v1/demo/people' })).json();
    expect(people.patients).toHaveLength(3);
    expect(people.patients[0]).not.toHaveProperty('nationalId');
    expect(people.patients[0]).not.toHaveProperty('phone');
    expect(people.patients[0]).not.toHaveProperty('address');
    const key = (await app.inject({ method: 'GET', url: '/v1/demo/keys/patient:1' })).json();
    expect(key.did).toBe(demoIdentity('patient:1').did);
    expect((await app.inject({ method: 'GET', url: '/v1/demo/keys/node@qingshan-county-hospital' })).statusCode).toBe(404);
    expect((await plain.inject({ method: 'GET', url: '/v1/demo/people' })).statusCode).toBe(404);
    expect((await plain.inject({ method: 'GET', url: '/v1/demo/keys/patient:1' })).statusCode).toBe(404);
  });
});
