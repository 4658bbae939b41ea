import { recordKeys, type RecordHead } from '../records/model.js';
import type { ReadState } from '../runtime.js';
import { fail } from './drug-errors.js';

/**
 * The prescription a dispensing event names, checked against the records contract's ledger rows — metadata only
 * (the prescription itself stays encrypted in its custodian's vault): the record must exist, not be erased, be a
 * FHIR MedicationRequest and belong to the patient the pack is dispensed to. What the ledger cannot tell (the
 * prescription's status, drug and quantity live in the FHIR content) is not checked here.
 */
export const PRESCRIPTION_RESOURCE_TYPE = 'MedicationRequest';

export function assertPrescriptionOf(state: ReadState, patientId: string, prescription: string): void {
  const head = state.get<RecordHead>(recordKeys.head(prescription));
  if (!head) fail('PRESCRIPTION_NOT_FOUND', `no prescription record ${prescription} on the ledger`);
  if (head.status === 'erased') fail('PRESCRIPTION_NOT_FOUND', `prescription record ${prescription} was erased`);
  if (head.resourceType !== PRESCRIPTION_RESOURCE_TYPE) fail('NOT_A_PRESCRIPTION', `record ${prescription} is not a prescription (${PRESCRIPTION_RESOURCE_TYPE})`);
  // The other patient is not named: the refusal is recorded on the ledger with the tx.
  if (head.patientId !== patientId) fail('PRESCRIPTION_MISMATCH', `prescription ${prescription} is not this patient's`);
}
