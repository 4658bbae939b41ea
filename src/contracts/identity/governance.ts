import { Type } from '@sinclair/typebox';
import { ContractCodes, ContractError } from '../errors.js';
import { method, type TxContext } from '../runtime.js';
import { writeInstitution } from './genesis.js';
import { activeMembers, Id, InstitutionInput, keys, requireInstitution, type ConsortiumConfig, type KeyRecord } from './model.js';

/**
 * Membership changes by vote of the member institutions (one vote per institution, cast by one of its admins).
 * The threshold is a fraction of the active members, fixed in genesis.
 */

export interface Proposal {
  id: string;
  action: 'admit' | 'remove';
  institution: string;
  /** For admissions: the full institution record to write once admitted. */
  candidate?: InstitutionInput;
  reason?: string;
  proposedBy: string;
  votes: Record<string, 'yes' | 'no'>;
  status: 'open' | 'passed' | 'rejected';
  openedAt: number;
  closedAt?: number;
}

function voterInstitution(ctx: TxContext): string {
  if (ctx.signer.kind !== 'admin' || !ctx.signer.institution) {
    throw new ContractError(ContractCodes.FORBIDDEN, 'only an institution admin votes for its institution');
  }
  return ctx.signer.institution;
}

/** Counts votes and closes the proposal when the outcome is decided. Ordered iteration keeps this deterministic. */
function tally(ctx: TxContext, proposal: Proposal): Proposal {
  const config = ctx.state.get<ConsortiumConfig>(keys.config)!;
  const members = activeMembers(ctx.state).map((m) => m.id);
  const eligible = proposal.action === 'remove' ? members.filter((m) => m !== proposal.institution) : members;
  const yes = eligible.filter((m) => proposal.votes[m] === 'yes').length;
  const no = eligible.filter((m) => proposal.votes[m] === 'no').length;
  const { numerator, denominator } = config.admissionThreshold;
  const passes = (n: number) => n * denominator >= numerator * eligible.length;
  if (passes(yes)) {
    if (proposal.action === 'admit') {
      // Another proposal may have admitted the same id since this one opened: never overwrite a member's record.
      if (ctx.state.get(keys.institution(proposal.institution))) {
        throw new ContractError(ContractCodes.ALREADY_EXISTS, `institution ${proposal.institution} already exists`);
      }
      writeInstitution(ctx.state, proposal.candidate!, ctx.block.time);
    } else {
      const inst = requireInstitution(ctx.state, proposal.institution);
      ctx.state.put(keys.institution(inst.id), { ...inst, status: 'removed', removedAt: ctx.block.time });
      const nodeKey = ctx.state.get<KeyRecord>(keys.key(inst.nodeKey));
      if (nodeKey) ctx.state.put(keys.key(inst.nodeKey), { ...nodeKey, status: 'revoked', revokedAt: ctx.block.time });
    }
    ctx.emit('proposal.passed', { proposal: proposal.id, action: proposal.action, institution: proposal.institution });
    return { ...proposal, status: 'passed', closedAt: ctx.block.time };
  }
  if (!passes(eligible.length - no)) {
    ctx.emit('proposal.rejected', { proposal: proposal.id, action: proposal.action, institution: proposal.institution });
    return { ...proposal, status: 'rejected', closedAt: ctx.block.time };
  }
  return proposal;
}

export const proposeAdmission = method({
  description: 'An institution admin proposes admitting a new member institution; the proposer votes yes.',
  input: Type.Object({ institution: InstitutionInput }, { additionalProperties: false }),
  kinds: ['admin'],
  run(ctx, { institution }) {
    const voter = voterInstitution(ctx);
    if (ctx.state.get(keys.institution(institution.id))) {
      throw new ContractError(ContractCodes.ALREADY_EXISTS, `institution ${institution.id} already exists`);
    }
    for (const did of [institution.nodeKey, ...institution.admins]) {
      if (ctx.state.get(keys.key(did))) throw new ContractError(ContractCodes.KEY_IN_USE, `key ${did} is already registered`);
    }
    const proposal = tally(ctx, {
      id: ctx.tx.id,
      action: 'admit',
      institution: institution.id,
      candidate: institution,
      proposedBy: voter,
      votes: { [voter]: 'yes' },
      status: 'open',
      openedAt: ctx.block.time,
    });
    ctx.state.put(keys.proposal(proposal.id), proposal);
    return { proposal: proposal.id, status: proposal.status };
  },
});

export const proposeRemoval = method({
  description: 'An institution admin proposes removing a member institution; the proposer votes yes.',
  input: Type.Object({ institution: Id, reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false }),
  kinds: ['admin'],
  run(ctx, { institution, reason }) {
    const voter = voterInstitution(ctx);
    const inst = requireInstitution(ctx.state, institution);
    if (inst.status !== 'active') throw new ContractError(ContractCodes.INSTITUTION_INACTIVE, `${institution} is not an active member`);
    const votes: Proposal['votes'] = voter === institution ? {} : { [voter]: 'yes' };
    const proposal = tally(ctx, {
      id: ctx.tx.id,
      action: 'remove',
      institution,
      reason,
      proposedBy: voter,
      votes,
      status: 'open',
      openedAt: ctx.block.time,
    });
    ctx.state.put(keys.proposal(proposal.id), proposal);
    return { proposal: proposal.id, status: proposal.status };
  },
});

export const vote = method({
  description: "An institution admin casts its institution's vote on an open proposal.",
  input: Type.Object(
    { proposal: Type.String({ pattern: '^[0-9a-f]{64}$' }), approve: Type.Boolean() },
    { additionalProperties: false },
  ),
  kinds: ['admin'],
  run(ctx, input) {
    const voter = voterInstitution(ctx);
    const proposal = ctx.state.get<Proposal>(keys.proposal(input.proposal));
    if (!proposal) throw new ContractError(ContractCodes.NOT_FOUND, `no proposal ${input.proposal}`);
    if (proposal.status !== 'open') throw new ContractError(ContractCodes.PROPOSAL_CLOSED, `proposal is ${proposal.status}`);
    if (proposal.action === 'remove' && voter === proposal.institution) {
      throw new ContractError(ContractCodes.FORBIDDEN, 'an institution does not vote on its own removal');
    }
    if (proposal.votes[voter]) throw new ContractError(ContractCodes.ALREADY_VOTED, `${voter} has already voted`);
    const updated = tally(ctx, { ...proposal, votes: { ...proposal.votes, [voter]: input.approve ? 'yes' : 'no' } });
    ctx.state.put(keys.proposal(updated.id), updated);
    return { proposal: updated.id, status: updated.status };
  },
});
