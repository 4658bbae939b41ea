/** What a consent can cover and hide, as offered in the patient's forms. */
export const RESOURCE_TYPES = ['Condition', 'Observation', 'DiagnosticReport', 'MedicationRequest', 'ImagingStudy', 'AllergyIntolerance', 'Immunization', 'Encounter', 'Patient'];
export const EXCLUDABLE_FIELDS = ['Patient.address', 'Patient.telecom', 'Patient.identifier', 'Patient.birthDate', 'Condition.note', 'Observation.note', 'DiagnosticReport.conclusion', 'MedicationRequest.note'];
