import type { CodeableConcept, Reference, Resource } from '@medplum/fhirtypes';
import { FhirInputError, outcomeOf } from './validate.js';

/**
 * What a record's ledger entry says about it, read from the resource: the consortium patient id, category,
 * codes (system + code only — display text can be personal) and the clinical day.
 */

export const MEDCHAIN_PATIENT_ID_SYSTEM = 'urn:medchain:patient-id';
const PATIENT_ID = /^P[A-Z2-7]{26}$/;

export interface ExtractedMeta {
  patientId: string;
  category?: string;
  codes: Array<{ system: string; code: string }>;
  date?: string;
}

type AnyResource = Resource & Record<string, unknown>;

function patientFromReference(ref: Reference | undefined, path: string): string {
  const m = /^Patient\/(P[A-Z2-7]{26})$/.exec(ref?.reference ?? '');
  if (!m) throw new FhirInputError(outcomeOf('required', `${path} must reference the consortium patient id as Patient/<id>`, path), 'PATIENT_REFERENCE_REQUIRED');
  return m[1]!;
}

function patientIdOf(r: AnyResource): string {
  if (r.resourceType === 'Patient') {
    const id = (r as { identifier?: Array<{ system?: string; value?: string }> }).identifier?.find((i) => i.system === MEDCHAIN_PATIENT_ID_SYSTEM)?.value;
    if (!id || !PATIENT_ID.test(id)) {
      throw new FhirInputError(outcomeOf('required', `Patient needs an identifier with system ${MEDCHAIN_PATIENT_ID_SYSTEM}`, 'Patient.identifier'), 'PATIENT_REFERENCE_REQUIRED');
    }
    return id;
  }
  const field = r.resourceType === 'AllergyIntolerance' || r.resourceType === 'Immunization' ? 'patient' : 'subject';
  return patientFromReference(r[field] as Reference | undefined, `${r.resourceType}.${field}`);
}

function slug(code: string | undefined): string | undefined {
  if (!code) return undefined;
  const s = code.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
  return s || undefined;
}

function firstCategory(value: unknown): string | undefined {
  const concepts = (Array.isArray(value) ? value : [value]) as Array<CodeableConcept | undefined>;
  return slug(concepts[0]?.coding?.[0]?.code);
}

function codesOf(concept: CodeableConcept | undefined): Array<{ system: string; code: string }> {
  return (concept?.coding ?? [])
    .filter((c) => c.system && c.code && /^(https?|urn):\S{1,200}$/.test(c.system) && /^\S{1,64}$/.test(c.code))
    .map((c) => ({ system: c.system!, code: c.code! }));
}

const DATE_FIELDS = ['effectiveDateTime', 'issued', 'recordedDate', 'onsetDateTime', 'authoredOn', 'occurrenceDateTime', 'performedDateTime', 'started', 'date', 'birthDate'];

function dayOf(r: AnyResource): string | undefined {
  const period = (r['period'] ?? r['effectivePeriod'] ?? r['performedPeriod']) as { start?: string } | undefined;
  const value = period?.start ?? DATE_FIELDS.map((f) => r[f]).find((v): v is string => typeof v === 'string');
  // Patient.birthDate is personal data: it never becomes a ledger date.
  if (r.resourceType === 'Patient') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(value ?? '');
  return m?.[1];
}

export function extractMeta(resource: Resource): ExtractedMeta {
  const r = resource as AnyResource;
  const patientId = patientIdOf(r);
  const category =
    r.resourceType === 'Encounter'
      ? slug((r['class'] as { code?: string } | undefined)?.code)
      : r.resourceType === 'ImagingStudy'
        ? slug((r['modality'] as Array<{ code?: string }> | undefined)?.[0]?.code)
        : firstCategory(r['category'] ?? r['type']);
  const codeField = r.resourceType === 'Immunization' ? 'vaccineCode' : r.resourceType.startsWith('Medication') ? 'medicationCodeableConcept' : 'code';
  const codes = r.resourceType === 'Patient' ? [] : codesOf(r[codeField] as CodeableConcept | undefined).slice(0, 20);
  const date = dayOf(r);
  return { patientId, ...(category ? { category } : {}), codes, ...(date ? { date } : {}) };
}
