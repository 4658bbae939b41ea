import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const names = process.argv.slice(3);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfT = new Map(); let busy = 0;
for (let i = 0; i < p.samples.length; i++) { selfT.set(p.samples[i], (selfT.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)); if (byId.get(p.samples[i]).callFrame.functionName !== '(idle)') busy += p.timeDeltas[i] ?? 0; }
function total(id) { const n = byId.get(id); let t = selfT.get(id) ?? 0; for (const c of n.children ?? []) t += total(c); return t; }
console.log(`busy ${(busy/1e6).toFixed(2)} s`);
for (const name of names) { let all = 0; for (const n of p.nodes) { const [fn, file] = name.split('@'); if (n.callFrame.functionName !== fn) continue; if (file && !n.callFrame.url.includes(file)) continue; let a = parent.get(n.id), nested = false; while (a !== undefined) { const an = byId.get(a); if (an.callFrame.functionName === fn && (!file || an.callFrame.url.includes(file))) { nested = true; break; } a = parent.get(a); } if (!nested) all += total(n.id); } console.log(`${((all/busy)*100).toFixed(1).padStart(5)}%  ${(all/1e6).toFixed(2)} s  ${name}`); }
