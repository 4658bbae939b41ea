import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, type TxContext } from '../runtime.js';
import {
  DEVICE_REGISTRAR_ROLES,
  DidKey,
  Id,
  keys,
  PATIENT_REGISTRAR_ROLES,
  PatientId,
  registerKey,
  type Device,
  type KeyRecord,
  type Patient,
} from './model.js';

/**
 * Patients are known on the ledger only by a pseudonymous consortium id (see node/patient-id.ts): a keyed hash
 * of their national id under a secret that member institutions share off the ledger. Two hospitals that register
 * the same person compute the same id, so the person resolves to one patient; no name, phone or id number is
 * ever an input here.
 */

function staffInstitution(ctx: TxContext): string {
  if (!ctx.signer.institution) throw new ContractError(ContractCodes.FORBIDDEN, 'only institution staff may do this');
  return ctx.signer.institution;
}

export const registerPatient = method({
  description: 'Registers a patient at the signer\'s institution under their consortium id (idempotent per institution).',
  input: Type.Object({ patientId: PatientId, patientKey: Type.Optional(DidKey) }, { additionalProperties: false }),
  kinds: ['staff', 'admin'],
  roles: PATIENT_REGISTRAR_ROLES,
  run(ctx, { patientId, patientKey }) {
    const institution = staffInstitution(ctx);
    const existing = ctx.state.get<Patient>(keys.patient(patientId));
    const patient: Patient = existing ?? { id: patientId, registrations: [], keys: [] };
    const alreadyHere = patient.registrations.some((r) => r.institution === institution);
    const registrations = alreadyHere ? patient.registrations : [...patient.registrations, { institution, at: ctx.block.time }];
    let patientKeys = patient.keys;
    if (patientKey && !patient.keys.includes(patientKey)) {
      registerKey(ctx.state, { did: patientKey, kind: 'patient', subject: patientId, status: 'active', since: ctx.block.time });
      patientKeys = [...patient.keys, patientKey];
    }
    ctx.state.put(keys.patient(patientId), { ...patient, registrations, keys: patientKeys });
    if (!alreadyHere) ctx.emit('patient.registered', { patientId, institution });
    return { patientId, created: !existing, institutions: registrations.map((r) => r.institution) };
  },
});

export const bindPatientKey = method({
  description: "Binds a patient's own signing key (e.g. their phone) so they can sign consents themselves.",
  input: Type.Object({ patientId: PatientId, key: DidKey }, { additionalProperties: false }),
  kinds: ['staff', 'admin'],
  roles: PATIENT_REGISTRAR_ROLES,
  run(ctx, { patientId, key }) {
    const institution = staffInstitution(ctx);
    const patient = ctx.state.get<Patient>(keys.patient(patientId));
    if (!patient) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${patientId}`);
    if (!patient.registrations.some((r) => r.institution === institution)) {
      throw new ContractError(ContractCodes.FORBIDDEN, `patient is not registered at ${institution}`);
    }
    registerKey(ctx.state, { did: key, kind: 'patient', subject: patientId, status: 'active', since: ctx.block.time });
    ctx.state.put(keys.patient(patientId), { ...patient, keys: [...patient.keys, key] });
    return { patientId, key };
  },
});

export const registerDevice = method({
  description: 'Registers a device (monitor, wearable, analyser) at the signer\'s institution, optionally bound to a patient.',
  input: Type.Object(
    { deviceId: Id, key: DidKey, kind: Type.String({ minLength: 1, maxLength: 64 }), patientId: Type.Optional(PatientId) },
    { additionalProperties: false },
  ),
  kinds: ['staff', 'admin'],
  roles: DEVICE_REGISTRAR_ROLES,
  run(ctx, input) {
    const institution = staffInstitution(ctx);
    if (ctx.state.get(keys.device(input.deviceId))) throw new ContractError(ContractCodes.ALREADY_EXISTS, `device ${input.deviceId} exists`);
    if (input.patientId) {
      const patient = ctx.state.get<Patient>(keys.patient(input.patientId));
      if (!patient) throw new ContractError(ContractCodes.NOT_FOUND, `no patient ${input.patientId}`);
      // As for patient keys: an institution binds devices only to its own registered patients.
      if (!patient.registrations.some((r) => r.institution === institution)) {
        throw new ContractError(ContractCodes.FORBIDDEN, `patient is not registered at ${institution}`);
      }
    }
    registerKey(ctx.state, { did: input.key, kind: 'device', subject: input.deviceId, institution, status: 'active', since: ctx.block.time });
    const device: Device = {
      id: input.deviceId,
      did: input.key,
      kind: input.kind,
      institution,
      ...(input.patientId ? { patient: input.patientId } : {}),
      status: 'active',
      since: ctx.block.time,
    };
    ctx.state.put(keys.device(input.deviceId), device);
    ctx.emit('device.registered', { deviceId: input.deviceId, institution, kind: input.kind });
    return { deviceId: input.deviceId };
  },
});

export const revokeDevice = method({
  description: 'Revokes a device of the signer\'s institution and its key.',
  input: Type.Object({ deviceId: Id }, { additionalProperties: false }),
  kinds: ['staff', 'admin'],
  roles: DEVICE_REGISTRAR_ROLES,
  run(ctx, { deviceId }) {
    const institution = staffInstitution(ctx);
    const device = ctx.state.get<Device>(keys.device(deviceId));
    if (!device) throw new ContractError(ContractCodes.NOT_FOUND, `no device ${deviceId}`);
    if (device.institution !== institution) throw new ContractError(ContractCodes.FORBIDDEN, 'device belongs to another institution');
    ctx.state.put(keys.device(deviceId), { ...device, status: 'revoked' });
    const key = ctx.state.get<KeyRecord>(keys.key(device.did));
    if (key) ctx.state.put(keys.key(device.did), { ...key, status: 'revoked', revokedAt: ctx.block.time });
    return { deviceId };
  },
});
