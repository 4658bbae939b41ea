import pino from 'pino';
import { Ed25519Signer, generateIdentity, type Identity } from '../crypto/index.js';
import { DEMO_CHAIN_ID, demoGenesis, demoHandle, demoIdentity } from '../demo/index.js';
import { signTx } from '../ledger/index.js';
import { createNode, type MedchainNode } from '../node/index.js';
import { percentile, round, tempDir, type Log } from './util.js';

/**
 * Oversight figures: access requests of one record each (the per-tx cost of the oversight counters shows most
 * there) by 60 users over 2,000 patients spread across many days, then the regulator's queries — statistics over
 * 30 and 366 days, anomalies over 30 days — timed with that access log in the ledger.
 */

const LEAD = 'qingshan-county-hospital';
const PHARMACY = 'kangning-pharmacy';
const DAY = 86_400_000;

const patientIdOf = (i: number) => `P${i.toString(32).toUpperCase().replace(/[0189]/g, 'A').padStart(26, 'B')}`.slice(0, 27);

export async function runOversightBench(options: { quick: boolean; log: Log }) {
  const dir = tempDir('medchain-bench-oversight-');
  let clock = Date.UTC(2026, 0, 1, 0, 0);
  const node: MedchainNode = await createNode({
    dataDir: dir.path,
    genesis: demoGenesis(),
    identity: demoIdentity(demoHandle.node(LEAD)),
    institution: LEAD,
    logger: pino({ level: 'silent' }),
    synchronous: 'normal',
    now: () => clock,
  });
  const call = async (id: Identity, contract: string, method: string, args: unknown) => {
    const r = await node.submit(signTx({ chain: DEMO_CHAIN_ID, contract, method, args, notBefore: clock - 60_000 }, id.did, new Ed25519Signer(id.signing.seed)));
    if (r.result.status !== 'ok') throw new Error(`${contract}.${method}: ${r.result.code} ${r.result.message}`);
  };
  try {
    const doctors = Array.from({ length: 50 }, () => generateIdentity());
    const pharmacists = Array.from({ length: 10 }, () => generateIdentity());
    await Promise.all(doctors.map((d, i) => call(demoIdentity(demoHandle.admin(LEAD)), 'identity', 'enrolStaff', { staffId: `dr-${i}`, name: 'd', roles: ['doctor', 'registrar'], key: d.did })));
    await Promise.all(pharmacists.map((p, i) => call(demoIdentity(demoHandle.admin(PHARMACY)), 'identity', 'enrolStaff', { staffId: `ph-${i}`, name: 'p', roles: ['pharmacist'], key: p.did })));
    const patients = 2000;
    options.log(`oversight: registering ${patients} patients with a record each`);
    for (let b = 0; b < patients; b += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, patients - b) }, async (_, k) => {
          const pid = patientIdOf(b + k);
          await call(doctors[0]!, 'identity', 'registerPatient', { patientId: pid });
          const record = { id: `r${b + k}`, patientId: pid, resourceType: 'Observation', category: 'laboratory', codes: [], date: '2026-01-01', ciphertextSha256: 'a'.repeat(64), fieldRoot: 'b'.repeat(64), bytes: 100 };
          await call(doctors[0]!, 'records', 'register', { record });
        }),
      );
    }
    const requests = options.quick ? 50_000 : 300_000;
    const days = options.quick ? 60 : 240;
    const batch = 500;
    const batches = Math.ceil(requests / batch);
    options.log(`oversight: committing ${requests.toLocaleString('en')} one-record access requests over ${days} days`);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const t0 = performance.now();
    for (let b = 0; b < batches; b++) {
      clock = Date.UTC(2026, 0, 1) + Math.floor((b * days * DAY) / batches);
      await Promise.all(
        Array.from({ length: Math.min(batch, requests - b * batch) }, () => {
          const p = Math.floor(rand() * patients);
          // One request in ten is a pharmacist's (denied by the default policy); one in a thousand breaks the glass.
          const denied = rand() < 0.1;
          const who = denied ? pharmacists[Math.floor(rand() * pharmacists.length)]! : doctors[Math.floor(rand() * doctors.length)]!;
          const emergency = !denied && rand() < 0.001;
          return call(who, 'access', 'request', {
            patientId: patientIdOf(p),
            recordIds: [`r${p}`],
            purpose: emergency ? 'ETREAT' : 'TREAT',
            ...(emergency ? { emergency: { reason: 'benchmark emergency access' } } : {}),
          });
        }),
      );
      if (b % 100 === 0) options.log(`  ${((b + 1) * batch).toLocaleString('en')} requests`);
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    const keys = (prefix: string) => (node.ledger.store.db.prepare('SELECT count(*) AS n FROM state WHERE key >= ? AND key < ?').get(prefix, `${prefix}~`) as { n: number }).n;
    const timed = (n: number, fn: (i: number) => unknown) => {
      const samples: number[] = [];
      for (let i = 0; i < n; i++) {
        const s = performance.now();
        fn(i);
        samples.push(performance.now() - s);
      }
      samples.sort((a, b) => a - b);
      return { p50Ms: round(percentile(samples, 50), 3), p99Ms: round(percentile(samples, 99), 3) };
    };
    const dayOf = (d: number) => new Date(Date.UTC(2026, 0, 1) + d * DAY).toISOString().slice(0, 10);
    const regulator = generateIdentity();
    await call(demoIdentity(demoHandle.admin('qingshan-health-commission')), 'identity', 'enrolStaff', { staffId: 'reg-bench', name: 'r', roles: ['regulator'], key: regulator.did });
    const anomalies = node.oversight.anomalies(regulator.did, dayOf(0), dayOf(days - 1), 1000);
    return {
      accessRequests: requests,
      accessEntries: keys('access/'),
      days,
      fillSeconds: round(fillSeconds, 1),
      requestsPerSecond: Math.round(requests / fillSeconds),
      oversightStateKeys: { dayCounters: keys('ostat/day/'), distinctPatientMarkers: keys('ostat/seen/'), readerCounters: keys('ostat/readers/'), anomalyMarkers: keys('anom/') },
      anomaliesFound: { emergencies: anomalies.emergencies.length, highVolumeReaders: anomalies.highVolumeReaders.length, denialBursts: anomalies.denialBursts.length },
      stats30Days: timed(200, (i) => node.oversight.accessStats(regulator.did, dayOf(i % (days - 30)), dayOf((i % (days - 30)) + 29))),
      stats366Days: timed(50, () => node.oversight.accessStats(regulator.did, '2026-01-01', '2027-01-01')),
      anomalies30Days: timed(200, (i) => node.oversight.anomalies(regulator.did, dayOf(i % (days - 30)), dayOf((i % (days - 30)) + 29))),
    };
  } finally {
    await node.close();
    dir.remove();
  }
}
