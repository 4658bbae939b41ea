import type { StoredConsent } from './model.js';

const PURPOSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

function actorReference(c: StoredConsent): { reference?: string; display: string } {
  switch (c.actor.kind) {
    case 'user':
      return { reference: `Practitioner/${c.actor.did}`, display: c.actor.did };
    case 'institution':
      return { reference: `Organization/${c.actor.id}`, display: c.actor.id };
    case 'role':
      return { display: c.actor.institution ? `${c.actor.role} @ ${c.actor.institution}` : `role ${c.actor.role}` };
    case 'institution-type':
      return { display: `institution type ${c.actor.type}` };
  }
}

/** A stored consent as a FHIR R4 Consent resource (scope patient-privacy, one provision). */
export function toFhirConsent(c: StoredConsent): Record<string, unknown> {
  const toDate = (ms: number) => new Date(ms).toISOString();
  return {
    resourceType: 'Consent',
    id: c.id,
    status: c.status === 'active' ? 'active' : 'inactive',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${c.patient}` },
    dateTime: toDate(c.grantedAt),
    performer: [{ display: c.grantedBy }],
    policyRule: { coding: [{ system: PURPOSE_SYSTEM, code: 'OPTIN' }] },
    provision: {
      type: c.provision,
      period: { start: toDate(c.period.start), ...(c.period.end !== undefined ? { end: toDate(c.period.end) } : {}) },
      actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PRCP' }] }, reference: actorReference(c) }],
      purpose: c.purposes.map((p) => ({ system: PURPOSE_SYSTEM, code: p })),
      ...(c.scope.resourceTypes ? { class: c.scope.resourceTypes.map((t) => ({ system: 'http://hl7.org/fhir/resource-types', code: t })) } : {}),
      ...(c.scope.categories ? { code: c.scope.categories.map((code) => ({ coding: [{ code }] })) } : {}),
      ...(c.scope.dataPeriod ? { dataPeriod: c.scope.dataPeriod } : {}),
      ...(c.scope.records ? { data: c.scope.records.map((r) => ({ meaning: 'instance', reference: { reference: r } })) } : {}),
      ...(c.excludeFields?.length
        ? { provision: [{ type: 'deny', code: c.excludeFields.map((f) => ({ coding: [{ system: 'urn:medchain:field', code: f }] })) }] }
        : {}),
    },
  };
}
