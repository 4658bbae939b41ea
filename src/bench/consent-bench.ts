import { decide, PURPOSES, type AccessRequest, type ConsentRecord } from '../contracts/consent/decision.js';
import { percentile, round, type Log } from './util.js';

/**
 * Consent decision latency with 1,000 consents on one patient (issue #3 target: p99 <= 1 ms). The consents mix
 * every actor kind, scopes, exclusions, denies, expired and revoked ones; requests vary requester, record and purpose.
 */
export async function runConsentBench(options: { quick: boolean; log: Log }) {
  const patient = 'PAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const t = Date.UTC(2026, 5, 1);
  const institutions = ['qingshan-county-hospital', 'baishi-health-centre', 'hexi-health-centre', 'taoyuan-clinic', 'kangning-pharmacy'];
  const types = ['hospital', 'health_centre', 'clinic', 'pharmacy'];
  const roles = ['doctor', 'nurse', 'pharmacist', 'lab_technician'];
  const resourceTypes = ['Observation', 'Condition', 'MedicationRequest', 'DiagnosticReport', 'Patient'];
  const consents: ConsentRecord[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `c${String(i).padStart(4, '0')}`,
    patient,
    grantedBy: 'did:key:z6MkPatient',
    provision: i % 17 === 0 ? 'deny' : 'permit',
    actor:
      i % 4 === 0
        ? { kind: 'user', did: `did:key:z6MkDoctor${i % 50}` }
        : i % 4 === 1
          ? { kind: 'institution', id: institutions[i % institutions.length]! }
          : i % 4 === 2
            ? { kind: 'role', role: roles[i % roles.length]!, institution: institutions[i % institutions.length]! }
            : { kind: 'institution-type', type: types[i % types.length]! },
    purposes: [PURPOSES[i % 3]!],
    scope: i % 3 === 0 ? { resourceTypes: [resourceTypes[i % resourceTypes.length]!] } : i % 3 === 1 ? { dataPeriod: { start: '2025-01-01' } } : {},
    ...(i % 5 === 0 ? { excludeFields: ['Patient.address', 'Patient.telecom'] } : {}),
    period: { start: t - 86_400_000 * (i % 30), ...(i % 11 === 0 ? { end: t - 1 } : {}) },
    ...(i % 13 === 0 ? { revokedAt: t - 10 } : {}),
  }));
  const requests: AccessRequest[] = Array.from({ length: 200 }, (_, i) => ({
    requester: { did: `did:key:z6MkDoctor${i % 60}`, institution: institutions[i % institutions.length]!, institutionType: types[i % types.length]!, roles: [roles[i % roles.length]!] },
    patient,
    record: { id: `rec-${i}`, resourceType: resourceTypes[i % resourceTypes.length]!, category: 'laboratory', date: '2026-03-01', custodian: institutions[(i + 1) % institutions.length]! },
    purpose: PURPOSES[i % 3]!,
    time: t,
  }));
  const n = options.quick ? 5_000 : 50_000;
  options.log(`consent: ${n} decisions over 1,000 consents`);
  for (let i = 0; i < 500; i++) decide(consents, requests[i % requests.length]!);
  const samples: number[] = [];
  let permits = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const d = decide(consents, requests[i % requests.length]!);
    samples.push(performance.now() - t0);
    if (d.decision === 'permit') permits++;
  }
  samples.sort((a, b) => a - b);
  return {
    consents: consents.length,
    decisions: n,
    permitted: permits,
    p50Ms: round(percentile(samples, 50), 3),
    p99Ms: round(percentile(samples, 99), 3),
    maxMs: round(samples[samples.length - 1]!, 3),
  };
}
