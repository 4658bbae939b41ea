#!/usr/bin/env node
// Measures the web application: bytes of the first load (what /login downloads before it can render) and of
// every built asset, raw and gzip; and first-load timings in Debian's headless Chromium against a running node,
// each run with a fresh profile (cold cache). Prints one JSON object.
//   node scripts/measure-web.mjs [--url http://127.0.0.1:8080] [--runs 5]
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'web', 'dist');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const url = arg('--url', 'http://127.0.0.1:8080');
const runs = Number(arg('--runs', '5'));

const sizeOf = (file) => {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length };
};
const assets = Object.fromEntries(readdirSync(join(dist, 'assets')).filter((f) => !/\.(gz|br)$/.test(f)).map((f) => [f, sizeOf(join(dist, 'assets', f))]));
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]);
const sum = (names) => names.reduce((a, n) => ({ raw: a.raw + assets[n].raw, gzip: a.gzip + assets[n].gzip, brotli: a.brotli + assets[n].brotli }), { raw: 0, gzip: 0, brotli: 0 });

const timings = [];
for (let i = 0; i < runs; i++) {
  const profile = mkdtempSync(join(tmpdir(), 'medchain-measure-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MEDCHAIN_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const start = Date.now();
  await page.goto(`${url}/login`, { waitUntil: 'load' });
  await page.locator('#demo-person, #passphrase').first().waitFor();
  const interactive = Date.now() - start;
  const t = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const transferred = performance.getEntriesByType('resource').reduce((n, r) => n + (r.transferSize || 0), nav.transferSize || 0);
    return { domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd), loadMs: Math.round(nav.loadEventEnd), firstContentfulPaintMs: fcp ? Math.round(fcp.startTime) : null, transferredBytes: transferred };
  });
  timings.push({ ...t, signInFormVisibleMs: interactive });
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
const median = (key) => {
  const xs = timings.map((t) => t[key]).filter((x) => x !== null).sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
};
process.stdout.write(
  JSON.stringify(
    {
      url,
      runs,
      date: new Date().toISOString(),
      loadAverage: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
      firstLoad: { files: initial, ...sum(initial) },
      allAssets: sum(Object.keys(assets)),
      assets,
      medians: Object.fromEntries(['firstContentfulPaintMs', 'domContentLoadedMs', 'loadMs', 'signInFormVisibleMs', 'transferredBytes'].map((k) => [k, median(k)])),
      timings,
    },
    null,
    2,
  ) + '\n',
);
