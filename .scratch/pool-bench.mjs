import { WorkerSignatureVerifier, InlineSignatureVerifier } from '/work/main/dist/ledger/signature-pool.js';
import { Ed25519Signer } from '/work/main/dist/crypto/index.js';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
const signer = new Ed25519Signer(randomBytes(32));
const N = 3000;
const checks = Array.from({ length: N }, () => { const message = Buffer.from(randomBytes(300).toString('hex').slice(0, 300)); return { publicKey: signer.publicKey, message, signature: signer.sign(message) }; });
for (const [name, v] of [['inline', new InlineSignatureVerifier()], ['pool', new WorkerSignatureVerifier(2)]]) {
  for (const conc of [1, 8]) {
    await v.verifyMany(checks.slice(0, 200));
    const c0 = process.cpuUsage(); const t0 = performance.now(); const elu0 = performance.eventLoopUtilization();
    let next = 0; await Promise.all(Array.from({ length: conc }, async () => { while (next < N) { if (!(await v.verify(checks[next++]))) throw new Error('bad'); } }));
    const c = process.cpuUsage(c0); const wall = performance.now() - t0; const elu = performance.eventLoopUtilization(elu0);
    console.log(name, 'conc', conc, 'cpu µs/verify', ((c.user + c.system) / N).toFixed(1), 'main active µs/verify', (elu.active * 1000 / N).toFixed(1), 'wall µs', (wall * 1000 / N).toFixed(1));
  }
  await v.close();
}
