import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, type TxContext } from '../runtime.js';
import { DidKey, EncryptionKey, Id, keys, registerKey, requireInstitution, STAFF_ROLES, type Institution, type KeyRecord, type Staff } from './model.js';

/** Staff enrolment and key management. Admins act only within their own institution. */

const Roles = Type.Array(Type.Union(STAFF_ROLES.map((r) => Type.Literal(r))), { minItems: 1, maxItems: STAFF_ROLES.length, uniqueItems: true });

function adminInstitution(ctx: TxContext): string {
  if (ctx.signer.kind !== 'admin' || !ctx.signer.institution) {
    throw new ContractError(ContractCodes.FORBIDDEN, 'only an institution admin may manage staff');
  }
  return ctx.signer.institution;
}

function requireStaff(ctx: TxContext, institution: string, staffId: string): Staff {
  const staff = ctx.state.get<Staff>(keys.staff(institution, staffId));
  if (!staff) throw new ContractError(ContractCodes.NOT_FOUND, `no staff member ${staffId} at ${institution}`);
  return staff;
}

function revokeKeyRecord(ctx: TxContext, did: string, replacedBy?: string): void {
  const record = ctx.state.get<KeyRecord>(keys.key(did));
  if (!record || record.status === 'revoked') return;
  ctx.state.put(keys.key(did), { ...record, status: 'revoked', revokedAt: ctx.block.time, ...(replacedBy ? { replacedBy } : {}) });
}

export const enrolStaff = method({
  description: 'An institution admin enrols a staff member with roles and their signing key.',
  input: Type.Object(
    { staffId: Id, name: Type.String({ minLength: 1, maxLength: 100 }), roles: Roles, key: DidKey },
    { additionalProperties: false },
  ),
  kinds: ['admin'],
  run(ctx, input) {
    const institution = adminInstitution(ctx);
    if (ctx.state.get(keys.staff(institution, input.staffId))) {
      throw new ContractError(ContractCodes.ALREADY_EXISTS, `staff member ${input.staffId} already exists at ${institution}`);
    }
    registerKey(ctx.state, { did: input.key, kind: 'staff', subject: input.staffId, institution, status: 'active', since: ctx.block.time });
    const staff: Staff = { id: input.staffId, institution, name: input.name, roles: input.roles, did: input.key, status: 'active', since: ctx.block.time };
    ctx.state.put(keys.staff(institution, input.staffId), staff);
    ctx.emit('staff.enrolled', { institution, staffId: input.staffId, roles: input.roles });
    return { institution, staffId: input.staffId };
  },
});

export const setStaffRoles = method({
  description: "An institution admin changes a staff member's roles.",
  input: Type.Object({ staffId: Id, roles: Roles }, { additionalProperties: false }),
  kinds: ['admin'],
  run(ctx, input) {
    const institution = adminInstitution(ctx);
    const staff = requireStaff(ctx, institution, input.staffId);
    if (staff.status !== 'active') throw new ContractError(ContractCodes.SIGNER_REVOKED, 'staff member is revoked');
    ctx.state.put(keys.staff(institution, staff.id), { ...staff, roles: input.roles });
    ctx.emit('staff.roles', { institution, staffId: staff.id, roles: input.roles });
    return { institution, staffId: staff.id, roles: input.roles };
  },
});

export const revokeStaff = method({
  description: 'An institution admin revokes a staff member and their key.',
  input: Type.Object({ staffId: Id, reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  kinds: ['admin'],
  run(ctx, input) {
    const institution = adminInstitution(ctx);
    const staff = requireStaff(ctx, institution, input.staffId);
    ctx.state.put(keys.staff(institution, staff.id), { ...staff, status: 'revoked' });
    revokeKeyRecord(ctx, staff.did);
    ctx.emit('staff.revoked', { institution, staffId: staff.id });
    return { institution, staffId: staff.id };
  },
});

export const rotateKey = method({
  description: 'The holder of an active key replaces it with a new one; the old key is revoked.',
  input: Type.Object({ newKey: DidKey }, { additionalProperties: false }),
  run(ctx, { newKey }) {
    const old = ctx.state.get<KeyRecord>(keys.key(ctx.signer.did))!;
    // Guardian records name the proxy's key; a new key is named by registering the guardian again.
    if (old.kind === 'proxy') throw new ContractError(ContractCodes.FORBIDDEN, 'a guardian key is replaced by registering the guardian again, not rotated');
    registerKey(ctx.state, { ...old, did: newKey, status: 'active', since: ctx.block.time, revokedAt: undefined, replacedBy: undefined });
    revokeKeyRecord(ctx, old.did, newKey);
    if (old.kind === 'staff') {
      const staff = ctx.state.get<Staff>(keys.staff(old.institution!, old.subject))!;
      ctx.state.put(keys.staff(staff.institution, staff.id), { ...staff, did: newKey });
    } else if (old.kind === 'admin' || old.kind === 'node') {
      const inst = ctx.state.get<Institution>(keys.institution(old.institution!))!;
      const updated =
        old.kind === 'node' ? { ...inst, nodeKey: newKey } : { ...inst, admins: inst.admins.map((a) => (a === old.did ? newKey : a)) };
      ctx.state.put(keys.institution(inst.id), updated);
    } else if (old.kind === 'patient') {
      const patient = ctx.state.get<{ keys: string[] }>(keys.patient(old.subject))!;
      ctx.state.put(keys.patient(old.subject), { ...patient, keys: patient.keys.map((k) => (k === old.did ? newKey : k)) });
    } else if (old.kind === 'device') {
      const device = ctx.state.get<{ did: string }>(keys.device(old.subject))!;
      ctx.state.put(keys.device(old.subject), { ...device, did: newKey });
    }
    ctx.emit('key.rotated', { subject: old.subject, kind: old.kind, old: old.did, new: newKey });
    return { revoked: old.did, active: newKey };
  },
});

export const revokeKey = method({
  description: 'Revokes a key: its holder may revoke it (e.g. when lost), or an admin of the institution it belongs to.',
  input: Type.Object({ did: DidKey, reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
  run(ctx, { did }) {
    const record = ctx.state.get<KeyRecord>(keys.key(did));
    if (!record) throw new ContractError(ContractCodes.NOT_FOUND, `no key ${did}`);
    const isHolder = did === ctx.signer.did;
    const isAdmin = ctx.signer.kind === 'admin' && record.institution !== undefined && record.institution === ctx.signer.institution;
    if (!isHolder && !isAdmin) throw new ContractError(ContractCodes.FORBIDDEN, 'only the key holder or an admin of its institution may revoke it');
    if (record.kind === 'admin' || record.kind === 'node') {
      const inst = requireInstitution(ctx.state, record.institution!);
      const remaining = inst.admins.filter((a) => a !== did && ctx.state.get<KeyRecord>(keys.key(a))?.status === 'active');
      if (record.kind === 'admin' && remaining.length === 0) {
        throw new ContractError(ContractCodes.FORBIDDEN, 'cannot revoke the last admin key of an institution; rotate it instead');
      }
    }
    revokeKeyRecord(ctx, did);
    ctx.emit('key.revoked', { did, kind: record.kind, subject: record.subject });
    return { revoked: did };
  },
});

export const setEncryptionKey = method({
  description: "The holder of a key publishes the X25519 key that records for them are wrapped to (their phone's or workstation's).",
  input: Type.Object({ key: EncryptionKey }, { additionalProperties: false }),
  run(ctx, { key }) {
    const record = ctx.state.get<KeyRecord>(keys.key(ctx.signer.did))!;
    ctx.state.put(keys.key(record.did), { ...record, encryptionKey: key });
    return { did: record.did, encryptionKey: key };
  },
});
