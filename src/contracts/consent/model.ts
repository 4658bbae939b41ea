import { Type } from '@sinclair/typebox';
import { DidKey, Id, PatientId } from '../identity/model.js';
import { PURPOSES, type ConsentRecord, type DefaultPolicy } from './decision.js';

export const Purpose = Type.Union(PURPOSES.map((p) => Type.Literal(p)));
const ResourceType = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}$' });
const FieldPath = Type.String({ pattern: '^[A-Z][A-Za-z]{1,63}\\.[a-z][A-Za-z0-9]{0,63}$', description: 'e.g. Patient.address' });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

export const ActorSchema = Type.Union([
  Type.Object({ kind: Type.Literal('user'), did: DidKey }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('institution'), id: Id }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('role'), role: Type.String({ pattern: '^[a-z_]{2,32}$' }), institution: Type.Optional(Id) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('institution-type'), type: Type.String({ pattern: '^[a-z_]{2,32}$' }) }, { additionalProperties: false }),
]);

export const GrantInput = Type.Object(
  {
    patientId: PatientId,
    provision: Type.Union([Type.Literal('permit'), Type.Literal('deny')]),
    actor: ActorSchema,
    purposes: Type.Array(Purpose, { minItems: 1, maxItems: PURPOSES.length, uniqueItems: true }),
    scope: Type.Object(
      {
        resourceTypes: Type.Optional(Type.Array(ResourceType, { minItems: 1, maxItems: 50, uniqueItems: true })),
        categories: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9-]{1,64}$' }), { minItems: 1, maxItems: 50, uniqueItems: true })),
        records: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }), { minItems: 1, maxItems: 200, uniqueItems: true })),
        dataPeriod: Type.Optional(Type.Object({ start: Type.Optional(Day), end: Type.Optional(Day) }, { additionalProperties: false })),
      },
      { additionalProperties: false },
    ),
    excludeFields: Type.Optional(Type.Array(FieldPath, { maxItems: 50, uniqueItems: true })),
    /** Validity in epoch ms; start defaults to the block time. */
    period: Type.Object({ start: Type.Optional(Type.Integer({ minimum: 0 })), end: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export interface StoredConsent extends ConsentRecord {
  grantedAt: number;
  status: 'active' | 'revoked';
}

export interface Guardian {
  patientId: string;
  did: string;
  relationship: string;
  addedBy: string;
  since: number;
}

export const consentKeys = {
  consent: (pid: string, id: string) => `consent/${pid}/${id}`,
  ofPatient: (pid: string) => `consent/${pid}/`,
  guardian: (pid: string, did: string) => `guardian/${pid}/${did}`,
  policy: 'consent-policy',
};

export type { DefaultPolicy };
