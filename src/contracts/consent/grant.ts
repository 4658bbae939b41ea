import type { Static } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import type { ReadState, Signer, TxContext } from '../runtime.js';
import { keys as idKeys, type Patient } from '../identity/model.js';
import { consentKeys, type GrantInput, type Guardian, type StoredConsent } from './model.js';

/** Whether `who` is the patient, or a guardian or proxy registered for them. */
export function actsForPatient(state: ReadState, who: Signer, patientId: string): boolean {
  if (who.kind === 'patient' && who.subject === patientId) return true;
  return state.get<Guardian>(consentKeys.guardian(patientId, who.did)) !== undefined;
}

/**
 * Writes a consent granted by `grantedBy` (already checked to act for the patient) with id = the tx id. The one
 * grant path: `grant` and the approval of a clinician's access request both use it.
 */
export function writeConsent(ctx: TxContext, grantedBy: string, input: Static<typeof GrantInput>): string {
  if (!ctx.state.get<Patient>(idKeys.patient(input.patientId))) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${input.patientId}`);
  const start = input.period.start ?? ctx.block.time;
  if (input.period.end !== undefined && input.period.end <= start) throw new ContractError(ContractCodes.INVALID_ARGS, 'the consent ends before it starts');
  const consent: StoredConsent = {
    id: ctx.tx.id,
    patient: input.patientId,
    grantedBy,
    provision: input.provision,
    actor: input.actor,
    purposes: input.purposes,
    scope: input.scope,
    ...(input.excludeFields?.length ? { excludeFields: input.excludeFields } : {}),
    period: { start, ...(input.period.end !== undefined ? { end: input.period.end } : {}) },
    grantedAt: ctx.block.time,
    status: 'active',
  };
  ctx.state.put(consentKeys.consent(input.patientId, consent.id), consent);
  ctx.emit('consent.granted', { patientId: input.patientId, consent: consent.id, provision: consent.provision });
  return consent.id;
}
