import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MedchainNode } from '../../node/index.js';

/**
 * The web application (web/, built by `npm run build:web` into web/dist) served at `/` beside the API.
 * Client-side routes (/patient, /clinician, …) fall back to index.html; API paths never do, so an unknown
 * /v1/… still answers the JSON 404 and the GS1 Digital Link resolver (/01/…) keeps its own routes.
 */

/** Paths that belong to the API or to standards' URL schemes, never to the single-page app. */
const NOT_SPA = /^\/(v1|fhir|epcis|docs|openapi\.json|health|metrics|01|assets)(\/|$|\?)/;

/** web/dist beside src/ or dist/ (the same relative place from both the sources and the compiled output). */
export function defaultWebRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Shown at / when the web application has not been built (e.g. `medchain start` without `npm run build:web`). */
function notBuiltPage(node: MedchainNode): string {
  const s = node.status();
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>医链 MedChain — ${escapeHtml(s.consortium)}</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2937}
h1{color:#0f766e}a{color:#0f766e}code{background:#f1f5f9;padding:0 .3rem;border-radius:4px}li{margin:.4rem 0}</style></head>
<body><h1>医链 MedChain</h1>
<p>${escapeHtml(s.consortium)} · ${escapeHtml(s.institution)} · 区块高度 / height <code>${s.head.height}</code></p>
<p>网页应用尚未构建：运行 <code>npm run build:web</code>。The web application is not built: run <code>npm run build:web</code>.</p>
<ul>
<li><a href="/docs">接口文档 · API documentation</a></li>
<li><a href="/v1/status">节点状态 · Node status</a></li>
</ul>
</body></html>`;
}

export async function webRoutes(app: FastifyInstance, node: MedchainNode, webRoot: string | false): Promise<(request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined> {
  const built = webRoot !== false && existsSync(join(webRoot, 'index.html'));
  if (!built) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(notBuiltPage(node)));
    return () => undefined;
  }
  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: '/',
    index: 'index.html',
    // scripts/build-web.mjs writes .br and .gz beside each asset.
    preCompressed: true,
    // Only the files present at start are routes, so nothing here shadows an API route or the 404 handler.
    wildcard: false,
    schemaHide: true,
    setHeaders: (res, path) => {
      // Vite names built assets by content hash: cache them for good; index.html must always be re-checked.
      res.header('cache-control', path.startsWith(join(webRoot, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  return (request, reply) => {
    const path = request.url;
    if (request.method !== 'GET' || NOT_SPA.test(path)) return undefined;
    if (!/text\/html/.test(String(request.headers.accept ?? ''))) return undefined;
    return reply.header('cache-control', 'no-cache').sendFile('index.html', webRoot);
  };
}
