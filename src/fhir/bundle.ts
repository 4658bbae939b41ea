import type { AuditEvent, Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { AccessEntry } from '../contracts/access/index.js';

/** FHIR Bundles and AuditEvents built from what the record service and the access log return. */

export function searchBundle(resources: Array<Record<string, unknown>>, base: string, type: Bundle['type'] = 'searchset', refused?: OperationOutcome): Bundle {
  const entry: BundleEntry[] = resources.map((r) => ({
    fullUrl: `${base}/${String(r['resourceType'])}/${String(r['id'])}`,
    resource: r as unknown as Resource,
    ...(type === 'searchset' ? { search: { mode: 'match' as const } } : {}),
  }));
  // Records the reader may not see are reported once, as an OperationOutcome — never their content.
  if (refused) entry.push({ resource: refused, ...(type === 'searchset' ? { search: { mode: 'outcome' as const } } : {}) });
  return { resourceType: 'Bundle', type, ...(type === 'searchset' ? { total: resources.length } : {}), entry };
}

const PURPOSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** One access-log entry as a FHIR AuditEvent following IHE BALP's "Patient Record read" pattern. */
export function auditEventOf(e: AccessEntry, index: number): AuditEvent {
  const denied = e.decision !== 'permit';
  return {
    resourceType: 'AuditEvent',
    id: `${e.id.slice(0, 40)}-${index}`,
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    // A read made to show a patient in a clinician's search results is recorded as a search (the patient sees they were looked up).
    subtype: [e.context === 'search' ? { system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type', display: 'search' } : { system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }],
    action: 'R',
    recorded: new Date(e.time).toISOString(),
    outcome: denied ? '4' : '0',
    outcomeDesc: `${e.decision}: ${e.reason}${e.withheldFields.length ? `; withheld ${e.withheldFields.join(', ')}` : ''}`,
    purposeOfEvent: [{ coding: [{ system: PURPOSE_SYSTEM, code: e.purpose }] }],
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
        who: { identifier: { system: 'urn:ietf:rfc:3986', value: e.requester } },
        requestor: true,
        role: e.roles.map((r) => ({ text: r })),
        ...(e.institution ? { location: { display: e.institution } } : {}),
        ...(e.emergency ? { purposeOfUse: [{ coding: [{ system: PURPOSE_SYSTEM, code: 'ETREAT' }], text: `break-the-glass: ${e.emergencyReason ?? ''}` }] } : {}),
      },
    ],
    source: { observer: { display: e.record.custodian }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' }] },
    entity: [
      { what: { reference: `Patient/${e.patientId}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1' } },
      {
        what: { reference: `${e.record.resourceType}/${e.record.id}/_history/${e.record.version}` },
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' },
        role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4' },
      },
    ],
  };
}
