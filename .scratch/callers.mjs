// usage: node callers.mjs file.cpuprofile functionName  -> self time of fn by caller chain (2 levels)
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const name = process.argv[3]; const depth = Number(process.argv[4] ?? 2);
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfT = new Map(); for (let i = 0; i < p.samples.length; i++) selfT.set(p.samples[i], (selfT.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
// total time (inclusive) of nodes whose fn matches, grouped by caller chain
const incl = new Map();
function total(id) { const n = byId.get(id); let t = selfT.get(id) ?? 0; for (const c of n.children ?? []) t += total(c); return t; }
const lab = (n) => `${n.callFrame.functionName || '(anon)'}@${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
let all = 0;
for (const n of p.nodes) { if (n.callFrame.functionName !== name) continue; let pid = parent.get(n.id); let up = byId.get(pid); if (up && up.callFrame.functionName === name) continue; const chain = []; let cur = n.id; for (let d = 0; d < depth; d++) { cur = parent.get(cur); if (cur === undefined) break; chain.push(lab(byId.get(cur))); } const t = total(n.id); all += t; const k = chain.join(' < '); incl.set(k, (incl.get(k) ?? 0) + t); }
console.log(`inclusive ${name}: ${(all/1e6).toFixed(2)} s`);
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v/1e6).toFixed(2).padStart(7) + ' s  ' + k);
