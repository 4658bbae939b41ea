import { signUserRequest } from '../api/user-auth.js';
import { didKeyFromPublicKey, Ed25519Signer, generateIdentity, type Identity } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoHandle, demoIdentity } from '../demo/index.js';
import { signTx } from '../ledger/index.js';
import { bigObservation } from './records-bench.js';
import { peerStatus, submitOne, type NodeProcessHandle } from './node-processes.js';
import { percentile, round, type Log } from './util.js';

/**
 * Cross-institution read of a record of just over 100 KiB (issue #4): a doctor at institution B reads, through B's node, an
 * Observation held in institution A's vault. Each read is the whole exchange path: B's node relays the doctor's
 * signed request to A's node over HTTP; A checks consent on its ledger copy, commits the access entry (a block on
 * the JetStream cluster), re-wraps the record key for the doctor and returns ciphertext with proofs; B verifies
 * them against its own ledger copy, and the doctor's copy is decrypted and checked. Timed at the doctor's client.
 */

const PATIENT_ID = 'PBENCHXCHANGE234567ABCDEFGH';

async function tx(peer: NodeProcessHandle, who: Identity, contract: string, method: string, args: unknown): Promise<number> {
  const r = await submitOne(peer.url, signTx({ chain: DEMO_CHAIN_ID, contract, method, args }, who.did, new Ed25519Signer(who.signing.seed)));
  if (r.code) throw new Error(`${contract}.${method} failed: ${r.code}`);
  return r.height!;
}

async function signedFetch(peer: NodeProcessHandle, who: Identity, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; text: string; location: string | null }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await fetch(`${peer.url}${path}`, {
    method,
    headers: { ...(payload ? { 'content-type': 'application/fhir+json' } : {}), authorization: signUserRequest(who, method, path, payload) },
    ...(payload ? { body: payload } : {}),
  });
  return { status: res.status, text: await res.text(), location: res.headers.get('location') };
}

async function waitForHeight(peer: NodeProcessHandle, height: number): Promise<void> {
  while ((await peerStatus(peer.url)).head.height < height) await new Promise((r) => setTimeout(r, 10));
}

export async function crossInstitutionRead(custodian: NodeProcessHandle, reader: NodeProcessHandle, reads: number, log: Log) {
  const registrar = generateIdentity();
  const author = generateIdentity();
  const doctor = generateIdentity();
  const patient = generateIdentity();
  await tx(custodian, demoIdentity(demoHandle.admin(custodian.institution)), 'identity', 'enrolStaff', { staffId: 'xbench-reg', name: 'r', roles: ['registrar'], key: registrar.did });
  await tx(custodian, demoIdentity(demoHandle.admin(custodian.institution)), 'identity', 'enrolStaff', { staffId: 'xbench-dr', name: 'a', roles: ['doctor'], key: author.did });
  await tx(reader, demoIdentity(demoHandle.admin(reader.institution)), 'identity', 'enrolStaff', { staffId: 'xbench-dr', name: 'd', roles: ['doctor'], key: doctor.did });
  await tx(custodian, registrar, 'identity', 'registerPatient', { patientId: PATIENT_ID, patientKey: patient.did });
  await tx(custodian, patient, 'identity', 'setEncryptionKey', { key: didKeyFromPublicKey(patient.agreement.publicKey, 'X25519') });
  await tx(reader, doctor, 'identity', 'setEncryptionKey', { key: didKeyFromPublicKey(doctor.agreement.publicKey, 'X25519') });
  const granted = await tx(custodian, patient, 'consent', 'grant', {
    patientId: PATIENT_ID,
    provision: 'permit',
    actor: { kind: 'institution', id: reader.institution },
    purposes: ['TREAT'],
    scope: { resourceTypes: ['Observation'] },
    period: {},
  });
  // 22 notes: just over 100 KiB of FHIR JSON, the size the issue names.
  const record = bigObservation(PATIENT_ID, 1, 22);
  const written = await signedFetch(custodian, author, 'POST', '/fhir/R4/Observation', record);
  if (written.status !== 201) throw new Error(`writing the record at ${custodian.institution} failed: ${written.status} ${written.text.slice(0, 300)}`);
  const id = /\/Observation\/([^/]+)\/_history\//.exec(written.location ?? '')?.[1];
  if (!id) throw new Error(`no record id in the write's location header: ${written.location}`);
  await waitForHeight(reader, Math.max(granted, (await peerStatus(custodian.url)).head.height));
  const bytes = Buffer.byteLength(JSON.stringify(record));
  log(`cluster: ${reads} cross-institution reads of a ${Math.round(bytes / 1024)} KB Observation (${reader.institution} reads from ${custodian.institution})`);

  const path = `/fhir/R4/Observation/${id}`;
  const warm = await signedFetch(reader, doctor, 'GET', path);
  if (warm.status !== 200) throw new Error(`the cross-institution read failed: ${warm.status} ${warm.text.slice(0, 300)}`);
  const samples: number[] = [];
  for (let i = 0; i < reads; i++) {
    const t0 = performance.now();
    const got = await signedFetch(reader, doctor, 'GET', path);
    samples.push(performance.now() - t0);
    if (got.status !== 200 || (JSON.parse(got.text) as { id?: string }).id !== id) throw new Error(`read ${i} failed: ${got.status}`);
  }
  samples.sort((a, b) => a - b);
  return { recordBytes: bytes, reads, sequential: true, p50Ms: round(percentile(samples, 50)), p99Ms: round(percentile(samples, 99)), maxMs: round(samples[samples.length - 1]!) };
}
