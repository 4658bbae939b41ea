import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pino from 'pino';
import { userRequestMessage, type UserRequest } from '../contracts/delegation.js';
import { bodyHash } from '../api/user-auth.js';
import { didKeyFromPublicKey, Ed25519Signer, generateIdentity, toBase64Url, type Identity } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoHostedInstitutions, demoIdentity } from '../demo/index.js';
import { signTx } from '../ledger/index.js';
import { createNode, type MedchainNode } from '../node/index.js';
import { VaultStore } from '../vault/index.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * Records capability figures (issue #3): write and read of a 100 KB record end to end (validate, encrypt, store,
 * register / access tx committed, decrypt, verify); a patient's access-log query with 1M access entries in the
 * ledger; streaming a 1 GB file through the vault (MB/s and peak RSS).
 */

const LEAD = 'qingshan-county-hospital';

function userRequest(identity: Identity, method: UserRequest['method'], url: string, body?: string): UserRequest {
  const req = { did: identity.did, method, url, ts: Date.now(), nonce: toBase64Url(randomBytes(18)), bodySha256: bodyHash(body) };
  return { ...req, sig: toBase64Url(new Ed25519Signer(identity.signing.seed).sign(Buffer.from(userRequestMessage(req)))) };
}

class Tx {
  private readonly signer: Ed25519Signer;
  constructor(
    readonly id: Identity,
    private readonly node: MedchainNode,
  ) {
    this.signer = new Ed25519Signer(id.signing.seed);
  }
  async call(contract: string, method: string, args: unknown): Promise<Record<string, unknown>> {
    const r = await this.node.submit(signTx({ chain: DEMO_CHAIN_ID, contract, method, args }, this.id.did, this.signer));
    if (r.result.status !== 'ok') throw new Error(`${contract}.${method}: ${r.result.code} ${r.result.message}`);
    return r.result.result as Record<string, unknown>;
  }
}

const patientIdOf = (i: number) => `P${i.toString(32).toUpperCase().replace(/[0189]/g, 'A').padStart(26, 'B')}`.slice(0, 27);

/** A ~100 KB Observation: a lab panel with long interpretation notes (the kind of report that is large). */
/** A lab Observation of about 4.7 KiB per note: 20 notes (the default) make ~94 KiB, 22 make ~104 KiB. */
export function bigObservation(pid: string, n: number, notes = 20): Record<string, unknown> {
  const note = '检验结果提示糖化血红蛋白升高，建议调整降糖方案并于三个月后复查。'.repeat(50);
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
    subject: { reference: `Patient/${pid}` },
    effectiveDateTime: '2026-05-20T09:30:00+08:00',
    valueQuantity: { value: 7 + (n % 20) / 10, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    note: Array.from({ length: notes }, (_, i) => ({ text: `${i}: ${note}` })),
  };
}

async function endToEnd(options: { quick: boolean; log: Log }) {
  const dir = tempDir('medchain-bench-records-');
  const node = await createNode({
    dataDir: dir.path,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(LEAD)),
    institution: LEAD,
    logger: pino({ level: 'silent' }),
    hostedInstitutions: demoHostedInstitutions(),
  });
  try {
    const admin = new Tx(demoIdentity(demoHandle.admin(LEAD)), node);
    const doctor = generateIdentity();
    const registrar = generateIdentity();
    await admin.call('identity', 'enrolStaff', { staffId: 'bench-dr', name: 'd', roles: ['doctor'], key: doctor.did });
    await admin.call('identity', 'enrolStaff', { staffId: 'bench-reg', name: 'r', roles: ['registrar'], key: registrar.did });
    const patient = generateIdentity();
    const pid = patientIdOf(7);
    await new Tx(registrar, node).call('identity', 'registerPatient', { patientId: pid, patientKey: patient.did });
    await new Tx(patient, node).call('identity', 'setEncryptionKey', { key: didKeyFromPublicKey(patient.agreement.publicKey, 'X25519') });

    const n = options.quick ? 50 : 300;
    const sample = bigObservation(pid, 0);
    const bytes = Buffer.byteLength(JSON.stringify(sample));
    options.log(`records: ${n} writes and reads of a ${Math.round(bytes / 1024)} KB Observation (sequential, one at a time)`);
    // Warm-up: the first write loads the FHIR definitions (~0.5 s), which is start-up cost, not per-record cost.
    await node.records.write(userRequest(doctor, 'POST', '/fhir/R4/Observation', JSON.stringify(sample)), sample);
    const writes: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = bigObservation(pid, i);
      const t0 = performance.now();
      const v = await node.records.write(userRequest(doctor, 'POST', '/fhir/R4/Observation', JSON.stringify(body)), body);
      writes.push(performance.now() - t0);
      ids.push(v.id);
    }
    const reads: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const t0 = performance.now();
      const out = await node.records.read(userRequest(doctor, 'GET', `/fhir/R4/Observation/${id}`), pid, [id], 'TREAT');
      reads.push(performance.now() - t0);
      if (out.released.length !== 1) throw new Error('bench read was not permitted');
    }
    writes.sort((a, b) => a - b);
    reads.sort((a, b) => a - b);
    const blockWaitMs = node.config.sequencer?.maxWaitMs ?? 5;
    return {
      recordBytes: bytes,
      samples: n,
      writeP50Ms: round(percentile(writes, 50), 2),
      writeP99Ms: round(percentile(writes, 99), 2),
      readP50Ms: round(percentile(reads, 50), 2),
      readP99Ms: round(percentile(reads, 99), 2),
      sequencerMaxWaitMs: blockWaitMs,
    };
  } finally {
    await node.close();
    dir.remove();
  }
}

/**
 * Fills the ledger with access entries through real txs: registrations of filler records, then access requests
 * of up to 1,000 records each (one entry per record), then times a patient's log query.
 */
async function accessLogQuery(options: { quick: boolean; log: Log }) {
  const dir = tempDir('medchain-bench-accesslog-');
  const node = await createNode({
    dataDir: dir.path,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(LEAD)),
    institution: LEAD,
    logger: pino({ level: 'silent' }),
    synchronous: 'normal',
  });
  try {
    const admin = new Tx(demoIdentity(demoHandle.admin(LEAD)), node);
    const doctor = new Tx(generateIdentity(), node);
    await admin.call('identity', 'enrolStaff', { staffId: 'bench-dr', name: 'd', roles: ['doctor', 'registrar'], key: doctor.id.did });
    const fillerPatients = 20;
    const recordsPerPatient = 1000;
    const target = options.quick ? 100_000 : 1_000_000;
    const meta = (pid: string, id: string) => ({ id, patientId: pid, resourceType: 'Observation', category: 'laboratory', codes: [], date: '2026-01-01', ciphertextSha256: 'a'.repeat(64), fieldRoot: 'b'.repeat(64), bytes: 100 });
    options.log(`records: registering ${fillerPatients * recordsPerPatient} filler records`);
    for (let p = 0; p < fillerPatients; p++) {
      const pid = patientIdOf(1000 + p);
      await doctor.call('identity', 'registerPatient', { patientId: pid });
      await Promise.all(Array.from({ length: recordsPerPatient }, (_, r) => doctor.call('records', 'register', { record: meta(pid, `f${p}-${r}`) })));
    }
    const probe = patientIdOf(42);
    await doctor.call('identity', 'registerPatient', { patientId: probe });
    await Promise.all(Array.from({ length: 20 }, (_, r) => doctor.call('records', 'register', { record: meta(probe, `probe-${r}`) })));
    options.log(`records: committing ${target.toLocaleString('en')} access entries`);
    const t0 = performance.now();
    let entries = 0;
    let round_ = 0;
    while (entries < target) {
      const batch = [];
      for (let k = 0; k < 4 && entries < target; k++, round_++) {
        const p = round_ % fillerPatients;
        const pid = patientIdOf(1000 + p);
        const count = Math.min(recordsPerPatient, target - entries);
        batch.push(doctor.call('access', 'request', { patientId: pid, recordIds: Array.from({ length: count }, (_, r) => `f${p}-${r}`), purpose: 'TREAT' }));
        entries += count;
        // The probe patient gets a few entries spread through the history, as a real patient would.
        if (round_ % 10 === 0) batch.push(doctor.call('access', 'request', { patientId: probe, recordIds: [`probe-${round_ % 20}`], purpose: 'TREAT' }));
      }
      await Promise.all(batch);
      if (round_ % 100 === 0) options.log(`  ${entries.toLocaleString('en')} entries`);
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    const probeEntries = (node.query('access', 'logOf', { patientId: probe, limit: 1000 }) as unknown[]).length;
    const samples: number[] = [];
    for (let i = 0; i < 500; i++) {
      const s = performance.now();
      node.query('access', 'logOf', { patientId: i % 2 === 0 ? probe : patientIdOf(1000 + (i % fillerPatients)), limit: 100 });
      samples.push(performance.now() - s);
    }
    samples.sort((a, b) => a - b);
    return {
      accessEntries: entries + probeEntries,
      fillSeconds: round(fillSeconds, 1),
      entriesPerSecond: Math.round(entries / fillSeconds),
      probePatientEntries: probeEntries,
      pageSize: 100,
      queryP50Ms: round(percentile(samples, 50), 3),
      queryP99Ms: round(percentile(samples, 99), 3),
    };
  } finally {
    await node.close();
    dir.remove();
  }
}

/** Streams a generated file of `size` bytes into the vault and back out, sampling RSS. */
async function largeFile(options: { quick: boolean; log: Log }) {
  const size = options.quick ? 256 * 2 ** 20 : 2 ** 30;
  const dir = tempDir('medchain-bench-vault-');
  const vault = new VaultStore(dir.path);
  const holder = generateIdentity().agreement;
  const block = randomBytes(1 << 20);
  let peakRss = process.memoryUsage().rss;
  const baseRss = peakRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  try {
    options.log(`records: streaming ${size / 2 ** 20} MiB through the vault`);
    const source = Readable.from(
      (function* () {
        for (let sent = 0; sent < size; sent += block.length) yield block.subarray(0, Math.min(block.length, size - sent));
      })(),
    );
    const t0 = performance.now();
    await vault.put('large-file', source, [holder.publicKey]);
    const encryptSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    let received = 0;
    await pipeline(
      await vault.open('large-file', holder),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          received += chunk.length;
          done();
        },
      }),
    );
    const decryptSeconds = (performance.now() - t1) / 1000;
    if (received !== size) throw new Error(`read back ${received} of ${size} bytes`);
    const mb = size / 2 ** 20;
    return {
      bytes: size,
      encryptStoreMBps: round(mb / encryptSeconds, 1),
      verifyDecryptMBps: round(mb / decryptSeconds, 1),
      baseRssMiB: Math.round(baseRss / 2 ** 20),
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    };
  } finally {
    clearInterval(sampler);
    vault.close();
    dir.remove();
  }
}

export async function runRecordsBench(options: { quick: boolean; log: Log }) {
  return {
    endToEnd100KB: await endToEnd(options),
    largeFile: await largeFile(options),
    accessLog: await accessLogQuery(options),
  };
}
