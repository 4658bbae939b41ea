#!/usr/bin/env node
// Builds the web application (web/) into web/dist with Vite when it is missing or older than its sources.
// Run by `npm run build:web`, by `prestart`, and by the end-to-end tests. `--force` always rebuilds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const built = join(web, 'dist', 'index.html');

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

// The web sources, and what they import from the server's pure modules, and the dependency lock.
const inputs = [join(web, 'src'), join(web, 'public'), join(web, 'index.html'), join(web, 'vite.config.ts'), join(root, 'package-lock.json'),
  join(root, 'src', 'contracts', 'user-request-message.ts'), join(root, 'src', 'ledger', 'tx-signing.ts'), join(root, 'src', 'ledger', 'merkle-inclusion.ts')];
const force = process.argv.includes('--force');
const stale = force || !existsSync(built) || Math.max(...inputs.map(newest)) > statSync(built).mtimeMs;
if (!stale) {
  process.stdout.write('web: web/dist is up to date\n');
  process.exit(0);
}
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
const result = spawnSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts'), '--logLevel', process.env.CI ? 'warn' : 'info'], { cwd: web, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// Pre-compressed copies: the node serves .br or .gz to browsers that accept them (@fastify/static preCompressed),
// so the first load moves about a third of the bytes without compressing on every request.
const assets = join(web, 'dist', 'assets');
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg)$/.test(name)) continue;
  const bytes = readFileSync(join(assets, name));
  writeFileSync(join(assets, `${name}.gz`), gzipSync(bytes, { level: 9 }));
  writeFileSync(join(assets, `${name}.br`), brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
}
