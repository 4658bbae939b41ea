import { createHash } from 'node:crypto';
import sodium from 'sodium-native';
const inp = Buffer.alloc(65, 7); const N = 300000;
for (let r = 0; r < 3; r++) {
let t = performance.now(); for (let i = 0; i < N; i++) createHash('sha256').update(inp.subarray(0,1)).update(inp.subarray(1)).digest(); const a = performance.now() - t;
t = performance.now(); for (let i = 0; i < N; i++) { const out = Buffer.allocUnsafe(32); sodium.crypto_hash_sha256(out, inp); } const b = performance.now() - t;
t = performance.now(); for (let i = 0; i < N; i++) { const st = Buffer.allocUnsafe(sodium.crypto_hash_sha256_STATEBYTES); sodium.crypto_hash_sha256_init(st); sodium.crypto_hash_sha256_update(st, inp.subarray(0,1)); sodium.crypto_hash_sha256_update(st, inp.subarray(1)); const out = Buffer.allocUnsafe(32); sodium.crypto_hash_sha256_final(st, out); } const c = performance.now() - t;
console.log(`createHash ${(a/N*1000).toFixed(2)} µs, sodium one-shot ${(b/N*1000).toFixed(2)} µs, sodium streaming ${(c/N*1000).toFixed(2)} µs`);
}
