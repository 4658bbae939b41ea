import { describe, expect, it } from 'vitest';
import { extractMeta } from '../../src/fhir/metadata.js';
import { FhirInputError, validateRecordResource } from '../../src/fhir/validate.js';

const PID = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
const obs = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, subject: { reference: `Patient/${PID}` }, effectiveDateTime: '2026-03-02T10:00:00+08:00' };

function problem(resource: unknown): { code: string; expression?: string; text?: string } {
  try {
    validateRecordResource(resource);
  } catch (err) {
    expect(err).toBeInstanceOf(FhirInputError);
    const e = err as FhirInputError;
    return { code: e.code, expression: e.outcome.issue[0]?.expression?.[0], text: e.outcome.issue[0]?.details?.text };
  }
  throw new Error('expected a validation failure');
}

describe('FHIR validation', () => {
  it('accepts a valid resource', () => {
    expect(validateRecordResource(obs)).toBe(obs);
  });

  it.each([
    ['wrong JSON type', { ...obs, valueQuantity: { value: 'high' } }, 'Observation.value[x].value'],
    ['unknown element', { ...obs, colour: 'red' }, 'Observation.colour'],
    ['missing required element', { ...obs, status: undefined }, 'Observation.status'],
    ['code outside its required value set', { ...obs, status: 'done' }, 'Observation.status'],
    ['nested code outside its value set', { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, statusHistory: [{ status: 'paused', period: { start: '2026-01-01' } }] }, 'Encounter.statusHistory.status'],
    ['malformed date', { ...obs, effectiveDateTime: '2026-02-30T25:00:00' }, 'Observation.effective[x]'],
  ])('refuses %s, naming the element', (_name, resource, expression) => {
    const p = problem(resource);
    expect(p.code).toBe('INVALID_FHIR');
    expect(p.expression).toBe(expression);
  });

  it('refuses unsupported types and non-resources with their own codes', () => {
    expect(problem({ resourceType: 'Claim' }).code).toBe('UNSUPPORTED_RESOURCE');
    expect(problem([1, 2]).code).toBe('INVALID_FHIR');
    expect(problem('Observation').code).toBe('INVALID_FHIR');
  });

  it('extracts ledger metadata without personal data', () => {
    expect(extractMeta(obs as never)).toEqual({ patientId: PID, codes: [{ system: 'http://loinc.org', code: '718-7' }], date: '2026-03-02' });
    const patient = { resourceType: 'Patient', identifier: [{ system: 'urn:medchain:patient-id', value: PID }], birthDate: '1960-01-01', name: [{ text: '王建国' }] };
    expect(extractMeta(patient as never)).toEqual({ patientId: PID, codes: [] });
    expect(() => extractMeta({ resourceType: 'Patient', name: [{ text: 'x' }] } as never)).toThrow(/urn:medchain:patient-id/);
    expect(() => extractMeta({ ...obs, subject: { reference: 'Patient/123' } } as never)).toThrow(/consortium patient id/);
  });
});
