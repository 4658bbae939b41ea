import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ContractCodes, ContractError } from '../errors.js';
import type { WriteState } from '../runtime.js';
import { InstitutionInput, keys, registerKey, type ConsortiumConfig, type Institution } from './model.js';

/** The genesis document: the founding consortium, written into block 0. */
export const GenesisSchema = Type.Object(
  {
    chainId: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{2,63}$' }),
    consortium: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), nameEn: Type.Optional(Type.String({ maxLength: 200 })) }),
    time: Type.Integer({ minimum: 0 }),
    governance: Type.Object({
      admissionThreshold: Type.Object({ numerator: Type.Integer({ minimum: 1 }), denominator: Type.Integer({ minimum: 1 }) }),
    }),
    limits: Type.Object({ maxTxBytes: Type.Integer({ minimum: 1024 }), maxValidityMs: Type.Integer({ minimum: 1000 }) }),
    institutions: Type.Array(InstitutionInput, { minItems: 1, maxItems: 500 }),
    /** Contract-specific sections (e.g. the consortium's default consent policy) go here. */
    policies: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type Genesis = Static<typeof GenesisSchema>;

const check = TypeCompiler.Compile(GenesisSchema);

export function assertGenesis(doc: unknown): asserts doc is Genesis {
  if (!check.Check(doc)) {
    const e = check.Errors(doc).First();
    throw new ContractError(ContractCodes.INVALID_ARGS, `invalid genesis at ${e?.path || '/'}: ${e?.message}`);
  }
  const ids = new Set<string>();
  for (const inst of doc.institutions) {
    if (ids.has(inst.id)) throw new ContractError(ContractCodes.ALREADY_EXISTS, `institution ${inst.id} appears twice in genesis`);
    ids.add(inst.id);
  }
  const t = doc.governance.admissionThreshold;
  if (t.numerator > t.denominator) throw new ContractError(ContractCodes.INVALID_ARGS, 'admission threshold is above 1');
}

/** Writes an institution with its admin and node keys (genesis and admission by vote share this). */
export function writeInstitution(state: WriteState, input: InstitutionInput, since: number): Institution {
  const inst: Institution = { ...input, status: 'active', since };
  state.put(keys.institution(inst.id), inst);
  registerKey(state, { did: inst.nodeKey, kind: 'node', subject: inst.id, institution: inst.id, status: 'active', since });
  for (const admin of inst.admins) {
    registerKey(state, { did: admin, kind: 'admin', subject: inst.id, institution: inst.id, status: 'active', since });
  }
  return inst;
}

export function applyIdentityGenesis(doc: unknown, state: WriteState): void {
  assertGenesis(doc);
  const config: ConsortiumConfig = {
    chainId: doc.chainId,
    name: doc.consortium.name,
    admissionThreshold: doc.governance.admissionThreshold,
  };
  state.put(keys.config, config);
  for (const inst of doc.institutions) writeInstitution(state, inst, doc.time);
}
