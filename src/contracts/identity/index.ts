import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { query, type ContractDef } from '../runtime.js';
import { applyIdentityGenesis } from './genesis.js';
import { proposeAdmission, proposeRemoval, vote, type Proposal } from './governance.js';
import { enrolStaff, revokeKey, revokeStaff, rotateKey, setEncryptionKey, setStaffRoles } from './members.js';
import { DidKey, Id, keys, PatientId, type ConsortiumConfig, type Device, type Institution, type KeyRecord, type Patient, type Staff } from './model.js';
import { bindPatientKey, registerDevice, registerPatient, revokeDevice } from './patients.js';

export * from './model.js';
export { GenesisSchema, assertGenesis, type Genesis } from './genesis.js';
export type { Proposal } from './governance.js';

const Page = { after: Type.Optional(Type.String({ maxLength: 200 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) };

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new ContractError(ContractCodes.NOT_FOUND, `no ${what}`);
  return value;
}

export const identityContract: ContractDef = {
  name: 'identity',
  description: 'Consortium membership and governance, staff, keys, pseudonymous patients and devices.',
  genesis: applyIdentityGenesis,
  indexes: [
    { name: 'staffByInstitution', prefix: 'id/staff/', terms: (v) => [(v as Staff).institution] },
    { name: 'patientsByInstitution', prefix: 'id/patient/', terms: (v) => (v as Patient).registrations.map((r) => r.institution) },
    {
      name: 'devicesByOwner',
      prefix: 'id/device/',
      terms: (v) => {
        const d = v as Device;
        return d.patient ? [`inst:${d.institution}`, `patient:${d.patient}`] : [`inst:${d.institution}`];
      },
    },
    { name: 'proposalsByStatus', prefix: 'id/proposal/', terms: (v) => [(v as Proposal).status] },
  ],
  methods: {
    proposeAdmission,
    proposeRemoval,
    vote,
    enrolStaff,
    setStaffRoles,
    revokeStaff,
    rotateKey,
    revokeKey,
    setEncryptionKey,
    registerPatient,
    bindPatientKey,
    registerDevice,
    revokeDevice,
  },
  queries: {
    consortium: query({
      description: 'The consortium configuration written in genesis.',
      input: Type.Object({}, { additionalProperties: false }),
      run: (ctx) => ctx.state.get<ConsortiumConfig>(keys.config),
    }),
    institutions: query({
      description: 'All institutions, members and removed.',
      input: Type.Object({}, { additionalProperties: false }),
      run: (ctx) => ctx.state.range<Institution>('id/inst/').map((e) => e.value),
    }),
    institution: query({
      input: Type.Object({ id: Id }, { additionalProperties: false }),
      run: (ctx, { id }) => found(ctx.state.get<Institution>(keys.institution(id)), `institution ${id}`),
    }),
    resolveKey: query({
      description: 'Who a key belongs to and whether it is active.',
      input: Type.Object({ did: DidKey }, { additionalProperties: false }),
      run: (ctx, { did }) => found(ctx.state.get<KeyRecord>(keys.key(did)), `key ${did}`),
    }),
    staff: query({
      input: Type.Object({ institution: Id, staffId: Id }, { additionalProperties: false }),
      run: (ctx, { institution, staffId }) => found(ctx.state.get<Staff>(keys.staff(institution, staffId)), `staff ${staffId}`),
    }),
    staffOf: query({
      description: 'Staff of an institution, paged by key.',
      input: Type.Object({ institution: Id, ...Page }, { additionalProperties: false }),
      run: (ctx, { institution, after, limit }) => ctx.state.byIndex<Staff>('staffByInstitution', institution, { after, limit }).map((e) => e.value),
    }),
    patient: query({
      description: 'Where a pseudonymous patient is registered (no personal data exists on the ledger).',
      input: Type.Object({ patientId: PatientId }, { additionalProperties: false }),
      run: (ctx, { patientId }) => found(ctx.state.get<Patient>(keys.patient(patientId)), `patient ${patientId}`),
    }),
    patientsOf: query({
      description: 'Patients registered at an institution, paged by key.',
      input: Type.Object({ institution: Id, ...Page }, { additionalProperties: false }),
      run: (ctx, { institution, after, limit }) =>
        ctx.state.byIndex<Patient>('patientsByInstitution', institution, { after, limit }).map((e) => e.value),
    }),
    device: query({
      input: Type.Object({ deviceId: Id }, { additionalProperties: false }),
      run: (ctx, { deviceId }) => found(ctx.state.get<Device>(keys.device(deviceId)), `device ${deviceId}`),
    }),
    devicesOf: query({
      description: 'Devices of an institution (owner "inst:ID") or bound to a patient (owner "patient:PID").',
      input: Type.Object({ owner: Type.String({ pattern: '^(inst|patient):[A-Za-z0-9-]{2,64}$' }), ...Page }, { additionalProperties: false }),
      run: (ctx, { owner, after, limit }) => ctx.state.byIndex<Device>('devicesByOwner', owner, { after, limit }).map((e) => e.value),
    }),
    proposals: query({
      description: 'Membership proposals by status.',
      input: Type.Object({ status: Type.Union([Type.Literal('open'), Type.Literal('passed'), Type.Literal('rejected')]), ...Page }, { additionalProperties: false }),
      run: (ctx, { status, after, limit }) => ctx.state.byIndex<Proposal>('proposalsByStatus', status, { after, limit }).map((e) => e.value),
    }),
  },
};
