import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MedchainNode } from '../../node/index.js';

const FAULT_WINDOW_MS = 60_000;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function opsRoutes(app: FastifyInstance, node: MedchainNode): void {
  app.get('/v1/status', { schema: { tags: ['operations'], summary: 'Node status: chain, institution, head, pending txs' } }, async () => node.status());

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and readiness: 200 ok, or 503 degraded after a commit failure in the last minute',
        response: {
          200: Type.Object({ status: Type.String(), height: Type.Integer(), pendingTxs: Type.Integer() }, { additionalProperties: true }),
          503: Type.Object({ status: Type.String(), height: Type.Integer(), pendingTxs: Type.Integer() }, { additionalProperties: true }),
        },
      },
    },
    async (_request, reply) => {
      const s = node.status();
      const degraded = s.lastFault !== undefined && Date.now() - s.lastFault.at < FAULT_WINDOW_MS;
      return reply
        .code(degraded ? 503 : 200)
        .send({ status: degraded ? 'degraded' : 'ok', height: s.head.height, pendingTxs: s.pendingTxs, ...(s.lastFault ? { lastFault: s.lastFault } : {}) });
    },
  );

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const text = await node.metrics.metrics();
    return reply.type(node.metrics.contentType).send(text);
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    const s = node.status();
    const html = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>医链 MedChain — ${escapeHtml(s.consortium)}</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2937}
h1{color:#0f766e}a{color:#0f766e}code{background:#f1f5f9;padding:0 .3rem;border-radius:4px}li{margin:.4rem 0}</style></head>
<body><h1>医链 MedChain</h1>
<p>${escapeHtml(s.consortium)} · ${escapeHtml(s.institution)} · 区块高度 / height <code>${s.head.height}</code></p>
<ul>
<li><a href="/docs">接口文档 · API documentation</a></li>
<li><a href="/v1/status">节点状态 · Node status</a></li>
<li><a href="/v1/blocks">区块 · Blocks</a></li>
<li><a href="/metrics">监控指标 · Metrics</a></li>
</ul>
<p>患者数据从不上链。Patient data never goes on the ledger.</p>
</body></html>`;
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
