import { Type, type Static } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, query, type ContractDef, type ReadState, type Signer, type TxContext } from '../runtime.js';
import { DidKey, keys as idKeys, PatientId, PATIENT_REGISTRAR_ROLES, registerKey, type Patient } from '../identity/model.js';
import { decide, type AccessRequest, type DefaultPolicy } from './decision.js';
import { consentKeys, GrantInput, Purpose, type Guardian, type StoredConsent } from './model.js';
import { actsForPatient, writeConsent } from './grant.js';
import { accessRequestIndexes, accessRequestMethods, accessRequestQueries } from './requests.js';
import { toFhirConsent } from './fhir.js';

export { decide, PURPOSES, type ConsentRecord, type AccessRequest, type Decision, type DefaultPolicy, type PurposeOfUse } from './decision.js';
export { consentKeys, type StoredConsent, type Guardian } from './model.js';
export { actsForPatient, writeConsent } from './grant.js';
export { CLINICAL_ROLES, DECLINE_REASONS, DEFAULT_REQUEST_DAYS, MAX_REQUEST_DAYS, type AccessRequestView, type StoredAccessRequest } from './requests.js';

/** The patient themselves, or a guardian or proxy registered for them, may manage their consents. */
export function assertActsForPatient(ctx: TxContext, patientId: string): void {
  if (!actsForPatient(ctx.state, ctx.signer, patientId)) throw new ContractError(ContractCodes.FORBIDDEN, 'only the patient or their registered guardian or proxy may do this');
}


export function consentsOf(state: ReadState, patientId: string): StoredConsent[] {
  return state.range<StoredConsent>(consentKeys.ofPatient(patientId), { limit: 10_000 }).map((e) => e.value);
}

export function defaultPolicy(state: ReadState): DefaultPolicy {
  return state.get<DefaultPolicy>(consentKeys.policy) ?? {};
}

const grant = method({
  description: 'The patient (or guardian/proxy) grants or denies access: to whom, what, which fields withheld, for what purpose, until when.',
  input: GrantInput,
  run(ctx, input) {
    assertActsForPatient(ctx, input.patientId);
    return { consent: writeConsent(ctx, ctx.signer.did, input) };
  },
});

const revoke = method({
  description: 'Revokes a consent; reads decided from then on no longer use it.',
  input: Type.Object({ patientId: PatientId, consent: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
  run(ctx, { patientId, consent }) {
    assertActsForPatient(ctx, patientId);
    const stored = ctx.state.get<StoredConsent>(consentKeys.consent(patientId, consent));
    if (!stored) throw new ContractError(ContractCodes.NOT_FOUND, `no consent ${consent}`);
    if (stored.status === 'revoked') throw new ContractError(ContractCodes.PROPOSAL_CLOSED, 'the consent is already revoked');
    ctx.state.put(consentKeys.consent(patientId, consent), { ...stored, status: 'revoked', revokedAt: ctx.block.time });
    ctx.emit('consent.revoked', { patientId, consent });
    return { consent, revokedAt: ctx.block.time };
  },
});

const addGuardian = method({
  description: 'Registers a guardian or proxy who may manage a patient\'s consents: by the patient, or by a registrar where the patient is registered (e.g. for a minor).',
  input: Type.Object({ patientId: PatientId, guardian: DidKey, relationship: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
  run(ctx, { patientId, guardian, relationship }) {
    const patient = ctx.state.get<Patient>(idKeys.patient(patientId));
    if (!patient) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${patientId}`);
    const isPatient = ctx.signer.kind === 'patient' && ctx.signer.subject === patientId;
    const isRegistrar =
      ctx.signer.institution !== undefined &&
      PATIENT_REGISTRAR_ROLES.some((r) => ctx.signer.roles.includes(r)) &&
      patient.registrations.some((r) => r.institution === ctx.signer.institution);
    if (!isPatient && !isRegistrar) throw new ContractError(ContractCodes.FORBIDDEN, 'only the patient or a registrar of their institution may add a guardian');
    // A guardian who holds no consortium key yet (a parent, a carer) gets a proxy key that can act only
    // through this check; a guardian who is already a patient or staff member keeps their one key.
    if (!ctx.state.get(idKeys.key(guardian))) {
      registerKey(ctx.state, { did: guardian, kind: 'proxy', subject: guardian, status: 'active', since: ctx.block.time });
    }
    if (ctx.state.get(consentKeys.guardian(patientId, guardian))) throw new ContractError(ContractCodes.ALREADY_EXISTS, 'this guardian is already registered for the patient');
    const record: Guardian = { patientId, did: guardian, relationship, addedBy: ctx.signer.did, since: ctx.block.time };
    ctx.state.put(consentKeys.guardian(patientId, guardian), record);
    return { patientId, guardian };
  },
});

export const consentContract: ContractDef = {
  name: 'consent',
  description: 'Patient consents (FHIR Consent), guardians, and the consortium default policy.',
  genesis(doc, state) {
    const policy = (doc as { policies?: { consent?: DefaultPolicy } }).policies?.consent;
    if (policy) state.put(consentKeys.policy, policy);
  },
  indexes: accessRequestIndexes,
  methods: { grant, revoke, addGuardian, ...accessRequestMethods },
  queries: {
    ...accessRequestQueries,
    consentsOf: query({
      sensitive: true,
      description: "A patient's consents, active and revoked.",
      input: Type.Object({ patientId: PatientId }, { additionalProperties: false }),
      run: (ctx, { patientId }) => consentsOf(ctx.state, patientId),
    }),
    guardiansOf: query({
      sensitive: true,
      description: "A patient's registered guardians and proxies.",
      input: Type.Object({ patientId: PatientId }, { additionalProperties: false }),
      run: (ctx, { patientId }) => ctx.state.range<Guardian>(`guardian/${patientId}/`, { limit: 1000 }).map((e) => e.value),
    }),
    asFhir: query({
      sensitive: true,
      description: "A patient's consents as FHIR R4 Consent resources.",
      input: Type.Object({ patientId: PatientId }, { additionalProperties: false }),
      run: (ctx, { patientId }) => consentsOf(ctx.state, patientId).map(toFhirConsent),
    }),
    evaluate: query({
      sensitive: true,
      description: 'What the decision would be now for a request (for the patient portal and for clinicians before asking).',
      input: Type.Object(
        {
          patientId: PatientId,
          requester: Type.Object({ did: DidKey, institution: Type.Optional(Type.String()), institutionType: Type.Optional(Type.String()), roles: Type.Array(Type.String()) }),
          record: Type.Object({ id: Type.String(), resourceType: Type.String(), category: Type.Optional(Type.String()), date: Type.Optional(Type.String()), custodian: Type.String() }),
          purpose: Purpose,
        },
        { additionalProperties: false },
      ),
      run: (ctx, input) => {
        const req: AccessRequest = { requester: input.requester, patient: input.patientId, record: input.record, purpose: input.purpose, time: ctx.block.time };
        return decide(consentsOf(ctx.state, input.patientId), req, defaultPolicy(ctx.state));
      },
    }),
  },
};
