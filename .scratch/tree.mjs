import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const min = Number(process.argv[3] ?? 2), maxDepth = Number(process.argv[4] ?? 12);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const selfT = new Map(); let busy = 0;
for (let i = 0; i < p.samples.length; i++) { selfT.set(p.samples[i], (selfT.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)); if (byId.get(p.samples[i]).callFrame.functionName !== '(idle)') busy += p.timeDeltas[i] ?? 0; }
const tot = new Map(); function total(id) { const n = byId.get(id); let t = selfT.get(id) ?? 0; for (const c of n.children ?? []) t += total(c); tot.set(id, t); return t; }
total(p.nodes[0].id);
const lab = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
function walk(id, d) { const n = byId.get(id); const pct = tot.get(id) / busy * 100; if (pct < min || n.callFrame.functionName === '(idle)') return; console.log('  '.repeat(d) + pct.toFixed(1) + '% ' + lab(n) + ` [self ${((selfT.get(id) ?? 0) / busy * 100).toFixed(1)}]`); if (d < maxDepth) for (const c of (n.children ?? []).sort((a, b) => tot.get(b) - tot.get(a))) walk(c, d + 1); }
walk(p.nodes[0].id, 0);
