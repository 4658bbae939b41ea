import { describe, expect, it } from 'vitest';
import { decide, type AccessRequest, type ConsentRecord, type DefaultPolicy } from '../../src/contracts/consent/decision.js';

const T = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;
const PATIENT = 'PAAAAAAAAAAAAAAAAAAAAAAAAAA';
const drLi = { did: 'did:key:z6MkDrLi', institution: 'baishi-health-centre', institutionType: 'health_centre', roles: ['doctor'] };

const request = (over: Partial<AccessRequest> = {}): AccessRequest => ({
  requester: drLi,
  patient: PATIENT,
  record: { id: 'rec-1', resourceType: 'Observation', category: 'laboratory', date: '2026-05-20', custodian: 'qingshan-county-hospital' },
  purpose: 'TREAT',
  time: T,
  ...over,
});

const consent = (over: Partial<ConsentRecord> = {}): ConsentRecord => ({
  id: 'c1',
  patient: PATIENT,
  grantedBy: 'did:key:z6MkPatient',
  provision: 'permit',
  actor: { kind: 'user', did: drLi.did },
  purposes: ['TREAT'],
  scope: {},
  period: { start: T - DAY, end: T + 30 * DAY },
  ...over,
});

const policy: DefaultPolicy = { custodianStaff: { roles: ['doctor', 'nurse'], purposes: ['TREAT', 'ETREAT'] } };

describe('consent decision matrix', () => {
  const cases: Array<{ name: string; consents: ConsentRecord[]; req?: Partial<AccessRequest>; expected: Partial<ReturnType<typeof decide>> }> = [
    { name: 'consent present', consents: [consent()], expected: { decision: 'permit', consentUsed: 'c1', withheldFields: [] } },
    { name: 'consent absent', consents: [], expected: { decision: 'deny', reason: 'no consent covers this access' } },
    { name: 'consent of another patient', consents: [consent({ patient: 'PBBBBBBBBBBBBBBBBBBBBBBBBBB' })], expected: { decision: 'deny' } },
    { name: 'revoked before the access', consents: [consent({ revokedAt: T - 1 })], expected: { decision: 'deny' } },
    { name: 'revocation takes effect only from its block time', consents: [consent({ revokedAt: T + 1 })], expected: { decision: 'permit' } },
    { name: 'expired', consents: [consent({ period: { start: T - 10 * DAY, end: T } })], expected: { decision: 'deny' } },
    { name: 'not yet valid', consents: [consent({ period: { start: T + 1 } })], expected: { decision: 'deny' } },
    { name: 'wrong purpose', consents: [consent({ purposes: ['HRESCH'] })], expected: { decision: 'deny' } },
    { name: 'wrong institution', consents: [consent({ actor: { kind: 'institution', id: 'hexi-health-centre' } })], expected: { decision: 'deny' } },
    { name: 'right institution', consents: [consent({ actor: { kind: 'institution', id: 'baishi-health-centre' } })], expected: { decision: 'permit' } },
    { name: 'wrong role', consents: [consent({ actor: { kind: 'role', role: 'pharmacist' } })], expected: { decision: 'deny' } },
    { name: 'role at a named institution', consents: [consent({ actor: { kind: 'role', role: 'doctor', institution: 'baishi-health-centre' } })], expected: { decision: 'permit' } },
    { name: 'role at another institution', consents: [consent({ actor: { kind: 'role', role: 'doctor', institution: 'hexi-health-centre' } })], expected: { decision: 'deny' } },
    { name: 'institution type', consents: [consent({ actor: { kind: 'institution-type', type: 'health_centre' } })], expected: { decision: 'permit' } },
    { name: 'another institution type', consents: [consent({ actor: { kind: 'institution-type', type: 'insurer' } })], expected: { decision: 'deny' } },
    { name: 'resource type out of scope', consents: [consent({ scope: { resourceTypes: ['Condition'] } })], expected: { decision: 'deny' } },
    { name: 'category in scope', consents: [consent({ scope: { categories: ['laboratory'] } })], expected: { decision: 'permit' } },
    { name: 'category out of scope', consents: [consent({ scope: { categories: ['imaging'] } })], expected: { decision: 'deny' } },
    { name: 'specific record', consents: [consent({ scope: { records: ['rec-1'] } })], expected: { decision: 'permit' } },
    { name: 'another specific record', consents: [consent({ scope: { records: ['rec-2'] } })], expected: { decision: 'deny' } },
    { name: 'data period covers the record', consents: [consent({ scope: { dataPeriod: { start: '2026-01-01', end: '2026-05-20' } } })], expected: { decision: 'permit' } },
    { name: 'data period excludes the record', consents: [consent({ scope: { dataPeriod: { start: '2026-05-21' } } })], expected: { decision: 'deny' } },
    {
      name: 'field excluded',
      consents: [consent({ excludeFields: ['Patient.telecom', 'Patient.address'] })],
      expected: { decision: 'permit', withheldFields: ['Patient.address', 'Patient.telecom'] },
    },
    { name: 'deny beats permit', consents: [consent({ id: 'c1' }), consent({ id: 'c2', provision: 'deny', actor: { kind: 'institution', id: 'baishi-health-centre' } })], expected: { decision: 'deny', consentUsed: 'c2' } },
    { name: 'a deny that does not apply does not block', consents: [consent({ id: 'c1' }), consent({ id: 'c2', provision: 'deny', purposes: ['HRESCH'] })], expected: { decision: 'permit', consentUsed: 'c1' } },
    {
      name: 'broadest permit decides',
      consents: [consent({ id: 'c1', excludeFields: ['Patient.address'] }), consent({ id: 'c2', actor: { kind: 'institution', id: 'baishi-health-centre' } })],
      expected: { decision: 'permit', consentUsed: 'c2', withheldFields: [] },
    },
    { name: 'granted by a guardian', consents: [consent({ grantedBy: 'did:key:z6MkGuardian' })], expected: { decision: 'permit', consentUsed: 'c1' } },
    { name: 'default policy: custodian treating staff', consents: [], req: { requester: { ...drLi, institution: 'qingshan-county-hospital' } }, expected: { decision: 'permit', consentUsed: 'policy:custodian-staff' } },
    { name: 'default policy: not for research', consents: [], req: { requester: { ...drLi, institution: 'qingshan-county-hospital' }, purpose: 'HRESCH' }, expected: { decision: 'deny' } },
    {
      name: 'patient deny beats the default policy',
      consents: [consent({ provision: 'deny', actor: { kind: 'institution', id: 'qingshan-county-hospital' } })],
      req: { requester: { ...drLi, institution: 'qingshan-county-hospital' } },
      expected: { decision: 'deny', consentUsed: 'c1' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => expect(decide(c.consents, request(c.req), policy)).toMatchObject(c.expected));
  }

  it('does not depend on the order consents are given in', () => {
    const cs = [consent({ id: 'c3', excludeFields: ['Patient.address'] }), consent({ id: 'c1', excludeFields: ['Patient.telecom'] }), consent({ id: 'c2', excludeFields: ['Patient.name'] })];
    const a = decide(cs, request(), policy);
    expect(decide([...cs].reverse(), request(), policy)).toEqual(a);
    expect(a.consentUsed).toBe('c1');
  });
});
