import { Type, type Static } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import type { ReadState, Signer } from '../runtime.js';

/** Kinds of member institution in a county medical alliance (医共体). */
export const INSTITUTION_TYPES = [
  'hospital',
  'health_centre',
  'clinic',
  'pharmacy',
  'manufacturer',
  'distributor',
  'insurer',
  'research',
  'regulator',
] as const;
export type InstitutionType = (typeof INSTITUTION_TYPES)[number];

/** Staff roles. `emergency` marks clinicians allowed to break the glass (records capability). */
export const STAFF_ROLES = [
  'admin',
  'doctor',
  'nurse',
  'pharmacist',
  'lab_technician',
  'registrar',
  'claims_adjuster',
  'researcher',
  'auditor',
  'regulator',
  'emergency',
  'logistics',
] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

/** Roles that may register a patient at their institution. */
export const PATIENT_REGISTRAR_ROLES: readonly StaffRole[] = ['registrar', 'doctor', 'nurse', 'admin'];
/** Roles that may register devices (monitors, wearables) at their institution. */
export const DEVICE_REGISTRAR_ROLES: readonly StaffRole[] = ['admin', 'nurse', 'doctor', 'lab_technician'];

export const DidKey = Type.String({ pattern: '^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$', description: 'Ed25519 did:key (signing)' });
/** An X25519 did:key: the key records are encrypted to (vault key wrapping). */
export const EncryptionKey = Type.String({ pattern: '^did:key:z6LS[1-9A-HJ-NP-Za-km-z]{44}$', description: 'X25519 did:key (encryption)' });
export const Id = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$', description: 'lowercase id (letters, digits, dashes)' });
/** Consortium-wide pseudonymous patient id: a keyed hash of the national id, computed off the ledger. */
export const PatientId = Type.String({ pattern: '^P[A-Z2-7]{26}$', description: 'pseudonymous consortium patient id' });
export const Endpoint = Type.String({ pattern: '^https?://[^\\s]{1,200}$' });

export const InstitutionInput = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    type: Type.Union(INSTITUTION_TYPES.map((t) => Type.Literal(t))),
    endpoint: Endpoint,
    nodeKey: DidKey,
    admins: Type.Array(DidKey, { minItems: 1, maxItems: 10 }),
    /** The institution's vault key: records it holds are wrapped to it. */
    encryptionKey: Type.Optional(EncryptionKey),
    location: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type InstitutionInput = Static<typeof InstitutionInput>;

export interface Institution {
  id: string;
  name: string;
  type: InstitutionType;
  endpoint: string;
  nodeKey: string;
  admins: string[];
  encryptionKey?: string;
  location?: string;
  status: 'active' | 'removed';
  since: number;
  removedAt?: number;
}

export interface KeyRecord {
  did: string;
  kind: Signer['kind'];
  subject: string;
  institution?: string;
  status: 'active' | 'revoked';
  since: number;
  revokedAt?: number;
  replacedBy?: string;
  /** X25519 did:key the holder receives records under (set by the holder). */
  encryptionKey?: string;
}

export interface Staff {
  id: string;
  institution: string;
  name: string;
  roles: StaffRole[];
  did: string;
  status: 'active' | 'revoked';
  since: number;
}

export interface Patient {
  id: string;
  /** Institutions where the patient is registered, in order of registration. */
  registrations: Array<{ institution: string; at: number }>;
  keys: string[];
}

export interface Device {
  id: string;
  did: string;
  kind: string;
  institution: string;
  patient?: string;
  status: 'active' | 'revoked';
  since: number;
}

export const keys = {
  config: 'id/config',
  institution: (id: string) => `id/inst/${id}`,
  key: (did: string) => `id/key/${did}`,
  staff: (institution: string, staffId: string) => `id/staff/${institution}/${staffId}`,
  patient: (pid: string) => `id/patient/${pid}`,
  device: (id: string) => `id/device/${id}`,
  proposal: (id: string) => `id/proposal/${id}`,
};

export interface ConsortiumConfig {
  chainId: string;
  name: string;
  /** An admission or removal passes when yes-votes * denominator >= numerator * active members. */
  admissionThreshold: { numerator: number; denominator: number };
}

export function requireInstitution(state: ReadState, id: string): Institution {
  const inst = state.get<Institution>(keys.institution(id));
  if (!inst) throw new ContractError(ContractCodes.NOT_FOUND, `no institution ${id}`);
  return inst;
}

/** Resolves a signing key to the identity behind it; every tx is authorized against this. */
export function resolveSigner(did: string, state: ReadState): Signer {
  const key = state.get<KeyRecord>(keys.key(did));
  if (!key) throw new ContractError(ContractCodes.UNKNOWN_SIGNER, 'the signing key is not registered in the consortium');
  if (key.status !== 'active') throw new ContractError(ContractCodes.SIGNER_REVOKED, 'the signing key has been revoked');
  let institutionType: string | undefined;
  let roles: readonly string[] = [];
  if (key.institution) {
    const inst = state.get<Institution>(keys.institution(key.institution));
    if (!inst || inst.status !== 'active') {
      throw new ContractError(ContractCodes.INSTITUTION_INACTIVE, `institution ${key.institution} is not an active member`);
    }
    institutionType = inst.type;
  }
  if (key.kind === 'staff') {
    const staff = state.get<Staff>(keys.staff(key.institution!, key.subject));
    if (!staff || staff.status !== 'active') throw new ContractError(ContractCodes.SIGNER_REVOKED, 'the staff member is no longer enrolled');
    roles = staff.roles;
  } else if (key.kind === 'admin') {
    roles = ['admin'];
  }
  return { did, kind: key.kind, subject: key.subject, institution: key.institution, institutionType, roles };
}

export function isProposer(did: string, state: ReadState): boolean {
  const key = state.get<KeyRecord>(keys.key(did));
  if (!key || key.kind !== 'node' || key.status !== 'active' || !key.institution) return false;
  return state.get<Institution>(keys.institution(key.institution))?.status === 'active';
}

/** Registers a new key; a key can belong to one subject only, ever (revoked keys are never reused). */
export function registerKey(state: { get: ReadState['get']; put(k: string, v: unknown): void }, record: KeyRecord): void {
  if (state.get(keys.key(record.did))) throw new ContractError(ContractCodes.KEY_IN_USE, `key ${record.did} is already registered`);
  state.put(keys.key(record.did), record);
}

export function activeMembers(state: ReadState): Institution[] {
  return state.range<Institution>('id/inst/', { limit: 10_000 }).map((e) => e.value).filter((i) => i.status === 'active');
}
