import { describe, expect, it } from 'vitest';
import { demoClinicalRecords } from '../../src/demo/clinical-records.js';
import { demoPeople } from '../../src/demo/people.js';
import { extractMeta } from '../../src/fhir/metadata.js';
import { validateRecordResource } from '../../src/fhir/validate.js';

/** The demo's synthetic records are valid FHIR R4, deterministic, and tell the story the demo needs. */
describe('demo clinical records', () => {
  const people = demoPeople();
  const all = people.flatMap((p) => demoClinicalRecords(p).map((r) => ({ p, ...r })));

  it('every resource validates against the FHIR R4 definitions and names its patient by the consortium id', () => {
    for (const { p, resource } of all) {
      expect(() => validateRecordResource(resource), `${resource.resourceType}/${resource.id}`).not.toThrow();
      expect(extractMeta(resource).patientId).toBe(p.patientId);
    }
  });

  it('is deterministic, ids are unique, custodians are where the person is registered', () => {
    expect(people.flatMap(demoClinicalRecords)).toEqual(all.map(({ custodian, resource }) => ({ custodian, resource })));
    expect(new Set(all.map((r) => r.resource.id)).size).toBe(all.length);
    for (const { p, custodian } of all) expect(p.institutions).toContain(custodian);
    for (const p of people) {
      const patients = demoClinicalRecords(p).filter((r) => r.resource.resourceType === 'Patient');
      expect(patients.map((r) => r.custodian).sort()).toEqual([...p.institutions].sort());
    }
  });

  it('covers every record type the platform stores except MedicationStatement, with referrals to the county hospital', () => {
    const types = new Set(all.map((r) => r.resource.resourceType));
    for (const t of ['Patient', 'Encounter', 'Condition', 'Observation', 'DiagnosticReport', 'MedicationRequest', 'AllergyIntolerance', 'Immunization', 'Procedure', 'DocumentReference', 'ImagingStudy']) {
      expect(types.has(t as never), t).toBe(true);
    }
    expect(all.some((r) => r.custodian === 'qingshan-county-hospital' && r.resource.resourceType === 'ImagingStudy')).toBe(true);
    expect(all.length).toBeGreaterThan(people.length * 6);
  });
});
