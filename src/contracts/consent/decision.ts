/**
 * The consent decision: one pure, deterministic function from (a patient's consents, an access request, the
 * consortium's default policy) to permit or deny, the fields to withhold, and the consent that decided.
 * Aligned with FHIR Consent (provision type permit/deny, actor, purpose, class/code/data, period) and HL7 v3
 * PurposeOfUse. Every read of patient data is decided here, on every peer alike: no clock (the request carries
 * the block time), no randomness, ordered iteration only.
 */

/** HL7 v3 ActReason PurposeOfUse codes MedChain understands. */
export const PURPOSES = ['TREAT', 'ETREAT', 'HPAYMT', 'HRESCH', 'PUBHLTH', 'HOPERAT', 'PATRQT', 'CAREMGT'] as const;
export type PurposeOfUse = (typeof PURPOSES)[number];

export type ConsentActor =
  | { kind: 'user'; did: string }
  | { kind: 'institution'; id: string }
  | { kind: 'role'; role: string; institution?: string }
  | { kind: 'institution-type'; type: string };

export interface ConsentRecord {
  id: string;
  patient: string;
  /** The patient's key, or an authorised guardian's or proxy's (checked when the consent was granted). */
  grantedBy: string;
  provision: 'permit' | 'deny';
  actor: ConsentActor;
  purposes: readonly PurposeOfUse[];
  scope: {
    resourceTypes?: readonly string[];
    categories?: readonly string[];
    records?: readonly string[];
    /** Clinical dates (YYYY-MM-DD, inclusive) of the data covered. */
    dataPeriod?: { start?: string; end?: string };
  };
  /** Element paths withheld from an otherwise permitted read, e.g. `Patient.address`. */
  excludeFields?: readonly string[];
  /** Validity in epoch ms (block time); `end` is exclusive. */
  period: { start: number; end?: number };
  /** Block time from which a revocation applies (the block after the revoking one commits it). */
  revokedAt?: number;
}

export interface AccessRequest {
  requester: { did: string; institution?: string; institutionType?: string; roles: readonly string[] };
  patient: string;
  record: { id: string; resourceType: string; category?: string; date?: string; custodian: string };
  purpose: PurposeOfUse;
  /** Block time of the access. */
  time: number;
}

/** The consortium default written in genesis: e.g. the custodian's own treating staff may read for TREAT. */
export interface DefaultPolicy {
  custodianStaff?: { roles: readonly string[]; purposes: readonly PurposeOfUse[] };
}

export interface Decision {
  decision: 'permit' | 'deny';
  withheldFields: string[];
  /** Consent id, or `policy:custodian-staff`, or undefined when nothing matched. */
  consentUsed?: string;
  reason: string;
}

function actorMatches(actor: ConsentActor, r: AccessRequest['requester']): boolean {
  switch (actor.kind) {
    case 'user':
      return actor.did === r.did;
    case 'institution':
      return actor.id === r.institution;
    case 'role':
      return r.roles.includes(actor.role) && (actor.institution === undefined || actor.institution === r.institution);
    case 'institution-type':
      return actor.type === r.institutionType;
  }
}

function scopeMatches(scope: ConsentRecord['scope'], record: AccessRequest['record']): boolean {
  if (scope.resourceTypes && !scope.resourceTypes.includes(record.resourceType)) return false;
  if (scope.categories && (record.category === undefined || !scope.categories.includes(record.category))) return false;
  if (scope.records && !scope.records.includes(record.id)) return false;
  if (scope.dataPeriod) {
    // Record dates are ISO (YYYY-MM-DD...), so string order is date order.
    if (record.date === undefined) return false;
    const day = record.date.slice(0, 10);
    if (scope.dataPeriod.start !== undefined && day < scope.dataPeriod.start) return false;
    if (scope.dataPeriod.end !== undefined && day > scope.dataPeriod.end) return false;
  }
  return true;
}

export function isInForce(c: ConsentRecord, time: number): boolean {
  if (time < c.period.start) return false;
  if (c.period.end !== undefined && time >= c.period.end) return false;
  return c.revokedAt === undefined || time < c.revokedAt;
}

function applies(c: ConsentRecord, req: AccessRequest): boolean {
  return (
    c.patient === req.patient &&
    isInForce(c, req.time) &&
    c.purposes.includes(req.purpose) &&
    actorMatches(c.actor, req.requester) &&
    scopeMatches(c.scope, req.record)
  );
}

/**
 * Deny provisions beat permits. Among matching permits, the one withholding the fewest fields decides (ties: the
 * lowest id), so a patient's broadest applicable grant is honoured. Without any consent, the default policy.
 */
export function decide(consents: readonly ConsentRecord[], req: AccessRequest, policy: DefaultPolicy = {}): Decision {
  const matching = consents.filter((c) => applies(c, req)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const deny = matching.find((c) => c.provision === 'deny');
  if (deny) return { decision: 'deny', withheldFields: [], consentUsed: deny.id, reason: 'an explicit deny provision applies' };
  let best: ConsentRecord | undefined;
  for (const c of matching) {
    if (c.provision !== 'permit') continue;
    if (!best || (c.excludeFields?.length ?? 0) < (best.excludeFields?.length ?? 0)) best = c;
  }
  if (best) {
    return { decision: 'permit', withheldFields: [...(best.excludeFields ?? [])].sort(), consentUsed: best.id, reason: 'permitted by consent' };
  }
  const staff = policy.custodianStaff;
  if (
    staff &&
    req.requester.institution === req.record.custodian &&
    staff.purposes.includes(req.purpose) &&
    staff.roles.some((r) => req.requester.roles.includes(r))
  ) {
    return { decision: 'permit', withheldFields: [], consentUsed: 'policy:custodian-staff', reason: "the custodian's own treating staff (consortium policy)" };
  }
  return { decision: 'deny', withheldFields: [], reason: 'no consent covers this access' };
}
