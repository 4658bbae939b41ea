import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { canonicalJson, Ed25519Signer, publicKeyFromDidKey, type Identity } from '../crypto/index.js';
import { ContractError, type ContractCode } from '../contracts/errors.js';
import type { UserRequest } from '../contracts/delegation.js';
import { MAX_RECORDS_PER_REQUEST, type AccessDecision, type AccessEntry } from '../contracts/access/index.js';
import type { Guardian } from '../contracts/consent/index.js';
import { auditEventOf } from '../fhir/bundle.js';
import type { PurposeOfUse } from '../contracts/consent/index.js';
import type { Institution, KeyRecord, Patient } from '../contracts/identity/model.js';
import type { ChangeRequest, ErasureReason, RecordHead, RecordMeta, RecordVersion } from '../contracts/records/model.js';
import { CodedError, signTx } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import type { VaultStore } from '../vault/index.js';
import { extractMeta } from '../fhir/metadata.js';
import { FhirInputError, outcomeOf, validateRecordResource } from '../fhir/validate.js';
import { commitFields, redact, verifyRedacted, type RedactedCopy } from './field-proof.js';
import { openSaltedText, saltText } from './salted-text.js';

/**
 * The one repository every record read and write passes through (the Medplum pattern): it validates FHIR,
 * encrypts into the custodian's vault, anchors metadata on the ledger, and for reads commits the access entry
 * — permit or deny — before it opens anything. Routes never decide access themselves.
 *
 * A node "hosts" the institutions whose node key and vault it holds: its own in production; in the embedded demo,
 * every demo institution, so one process can show the whole consortium. Users reach it with signed HTTP requests
 * (`UserRequest`), which the hosted node of their institution relays into the tx as evidence.
 */

export interface HostedInstitution {
  id: string;
  /** The institution's node identity: signs relayed txs; its X25519 half is the vault key. */
  node: Identity;
  vault: VaultStore;
}

/** What is released to a reader: the resource without withheld elements, and the proof for what it got. */
export interface ReleasedRecord {
  meta: RecordVersion;
  resource: Record<string, unknown>;
  withheld: string[];
  proof: RedactedCopy;
}

export interface ReadOutcome {
  access: string;
  released: ReleasedRecord[];
  /** Records the reader may not see, or that were erased: id and decision. */
  refused: Array<{ id: string; decision: 'deny' | 'gone'; reason: string }>;
}

interface StoredEnvelope {
  resource: Record<string, unknown>;
  salts: Record<string, string>;
}

const vaultId = (id: string, version: number) => `${id}.v${version}`;

/** A break-the-glass access as overseers see it; `patientId` only for an auditor of the custodian institution. */
export interface EmergencyAccess {
  id: string;
  requester: string;
  institution?: string;
  /** The institution holding the records that were opened. */
  custodian: string;
  reason?: string;
  decision: AccessEntry['decision'];
  time: number;
  patientId?: string;
}

/** Told when a Patient resource at a hosted custodian is written (with the stored resource) or erased (null). */
export type PatientResourceListener = (custodian: string, record: { id: string; patientId?: string }, resource: Record<string, unknown> | null) => void;
/** Fetches a redacted copy of a record held by another institution's node (see exchange/). */
export interface RemoteRecordSource {
  fetch(request: { custodian: string; access: string; patientId: string; record: string; version: number; relay: HostedInstitution }): Promise<RedactedCopy>;
}

export class RecordService {
  private readonly hosted: Map<string, HostedInstitution>;
  private readonly signers = new Map<string, Ed25519Signer>();
  private readonly patientListeners: PatientResourceListener[] = [];
  private remote: RemoteRecordSource | undefined;

  constructor(
    private readonly node: MedchainNode,
    hosted: HostedInstitution[],
  ) {
    this.hosted = new Map(hosted.map((h) => [h.id, h]));
    for (const h of hosted) this.signers.set(h.id, new Ed25519Signer(h.node.signing.seed));
  }

  /** Records held by institutions this node does not host are fetched through `source` (record exchange). */
  useRemote(source: RemoteRecordSource): void {
    this.remote = source;
  }

  hostedInstitutions(): string[] {
    return [...this.hosted.keys()];
  }

  /** Keeps derived indexes (the patient directory) in step with Patient resources written or erased here. */
  onPatientResource(listener: PatientResourceListener): void {
    this.patientListeners.push(listener);
  }

  /**
   * The custodian's own copy of its latest version of a record, decrypted with its vault key. This is not a user's
   * read and is not logged: it serves indexes the custodian keeps of its own records (the patient directory's
   * names, held only in memory). Users read through `read`, which decides by consent and logs first.
   */
  async custodianCopy(custodian: string, id: string): Promise<Record<string, unknown>> {
    const meta = this.q<RecordVersion>('records', 'get', { id });
    if (meta.custodian !== custodian) throw new CodedError('NOT_CUSTODIAN', `record ${id} is held by ${meta.custodian}`);
    const vault = this.vaultOf(custodian);
    const plain = await vault.vault.read(vaultId(id, meta.version), { privateKey: vault.node.agreement.privateKey, publicKey: vault.node.agreement.publicKey }, meta.ciphertextSha256);
    return (JSON.parse(plain.toString('utf8')) as StoredEnvelope).resource;
  }

  private q<T>(contract: string, name: string, args: unknown): T {
    return this.node.query(contract, name, args) as T;
  }

  /** Relays a signed user request as a tx of `contract.method` through the user's institution's node (other services' writes). */
  async relay<T>(user: UserRequest, contract: string, method: string, args: Record<string, unknown>): Promise<T> {
    return this.submit<T>(this.relayFor(user), contract, method, { ...args, onBehalfOf: user });
  }

  /** The hosted institution whose node relays this user's requests. */
  relayInstitution(user: UserRequest): string {
    return this.relayFor(user).id;
  }

  /** Encrypts a small text into a hosted custodian's vault for the custodian and the patient's keys (e.g. a request's message). */
  async seal(custodian: string, object: string, text: string, patientId: string): Promise<void> {
    await this.vaultOf(custodian).vault.put(object, Buffer.from(text), this.recipients(custodian, patientId));
  }

  async unseal(custodian: string, object: string): Promise<string> {
    const h = this.vaultOf(custodian);
    return (await h.vault.read(object, { privateKey: h.node.agreement.privateKey, publicKey: h.node.agreement.publicKey })).toString('utf8');
  }

  discardSealed(custodian: string, object: string): void {
    this.vaultOf(custodian).vault.discard(object);
  }

  /** The node identity that relays a user's request here (also used by the drug service). */
  relayIdentityFor(user: UserRequest): Identity {
    return this.relayFor(user).node;
  }

  /** The hosted node that relays a user's request: their own institution's for staff, this node's for patients. */
  private relayFor(user: UserRequest): HostedInstitution {
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did: user.did });
    if (!key) throw new CodedError('UNKNOWN_SIGNER', 'the signing key is not registered in the consortium');
    const home = key.institution ?? this.node.config.institution;
    const relay = this.hosted.get(home) ?? (key.institution ? undefined : this.hosted.values().next().value);
    if (!relay) throw new CodedError('NOT_HOSTED', `this node does not serve ${home}; use that institution's node`);
    return relay;
  }

  private tryQ<T>(contract: string, name: string, args: unknown): T | undefined {
    try {
      return this.q<T>(contract, name, args);
    } catch (err) {
      if (err instanceof CodedError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  private vaultOf(custodian: string): HostedInstitution {
    const h = this.hosted.get(custodian);
    if (!h) throw new CodedError('NOT_HOSTED', `records of ${custodian} are held by that institution's node`);
    return h;
  }

  private async submit<T>(relay: HostedInstitution, contract: string, method: string, args: unknown): Promise<T> {
    const tx = signTx({ chain: this.node.config.genesis.chainId, contract, method, args }, relay.node.did, this.signers.get(relay.id)!);
    const receipt = await this.node.submit(tx);
    if (receipt.result.status !== 'ok') throw new ContractError(receipt.result.code as ContractCode, receipt.result.message);
    return receipt.result.result as T;
  }

  /** Who a record is wrapped for: the custodian institution and every patient key that published an encryption key. */
  private recipients(custodian: string, patientId: string): Uint8Array[] {
    const inst = this.q<Institution>('identity', 'institution', { id: custodian });
    if (!inst.encryptionKey) throw new CodedError('CONFIG_INVALID', `institution ${custodian} has no vault key on the ledger`);
    const keys = [publicKeyFromDidKey(inst.encryptionKey).publicKey];
    const patient = this.tryQ<Patient>('identity', 'patient', { patientId });
    for (const did of patient?.keys ?? []) {
      const record = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
      if (record?.status === 'active' && record.encryptionKey) keys.push(publicKeyFromDidKey(record.encryptionKey).publicKey);
    }
    return keys;
  }

  /**
   * Stores a new record or a new version: validates, commits to the fields, encrypts into the custodian's vault,
   * then registers on the ledger. If the ledger refuses, the vault object is discarded: nothing half-written stays.
   */
  async write(user: UserRequest, input: unknown, options: { baseVersion?: number; resolves?: string } = {}): Promise<RecordVersion> {
    const resource = validateRecordResource(input) as Resource & Record<string, unknown>;
    const meta = extractMeta(resource);
    const relay = this.relayFor(user);
    // Refused here, before anything is encrypted or sequenced, when the ledger would refuse it anyway.
    const prior = resource.id ? this.tryQ<RecordHead>('records', 'get', { id: resource.id }) : undefined;
    if (prior && prior.custodian !== relay.id) throw new CodedError('NOT_CUSTODIAN', `record ${prior.id} is held by ${prior.custodian}`);
    if (prior?.status === 'erased') throw new CodedError('GONE', `record ${prior.id} was erased`);
    const patient = this.q<Patient>('identity', 'patient', { patientId: meta.patientId });
    if (!patient.registrations.some((r) => r.institution === relay.id)) throw new CodedError('FORBIDDEN', `the patient is not registered at ${relay.id}`);
    const existing = prior;
    const id = resource.id ?? randomUUID();
    if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/.test(id)) throw new FhirInputError(outcomeOf('value', 'id must be 1-64 letters, digits, dashes or dots', `${resource.resourceType}.id`));
    if (existing && existing.resourceType !== resource.resourceType) {
      throw new FhirInputError(outcomeOf('conflict', `record ${id} is a ${existing.resourceType}`), 'VERSION_CONFLICT');
    }
    const version = existing ? existing.version + 1 : 1;
    if (existing && options.baseVersion !== undefined && options.baseVersion !== existing.version) {
      throw new CodedError('VERSION_CONFLICT', `record ${id} is at version ${existing.version}, not ${options.baseVersion}`);
    }
    const stored: Record<string, unknown> = { ...resource, id, meta: { versionId: String(version) } };
    const { root, salts } = commitFields(stored);
    const vault = this.vaultOf(relay.id);
    const object = vaultId(id, version);
    const sealed = await vault.vault.put(object, Buffer.from(canonicalJson({ resource: stored, salts } satisfies StoredEnvelope)), this.recipients(relay.id, meta.patientId));
    const record: RecordMeta = {
      id,
      patientId: meta.patientId,
      resourceType: resource.resourceType,
      ...(meta.category ? { category: meta.category } : {}),
      codes: meta.codes,
      ...(meta.date ? { date: meta.date } : {}),
      ciphertextSha256: sealed.sha256,
      fieldRoot: root,
      bytes: sealed.ciphertextBytes,
    };
    try {
      if (existing) {
        await this.submit(relay, 'records', 'amend', { record, baseVersion: existing.version, ...(options.resolves ? { resolves: options.resolves } : {}), onBehalfOf: user });
      } else {
        await this.submit(relay, 'records', 'register', { record, onBehalfOf: user });
      }
    } catch (err) {
      vault.vault.discard(object);
      throw err;
    }
    if (resource.resourceType === 'Patient') for (const l of this.patientListeners) l(relay.id, { id, patientId: meta.patientId }, stored);
    return this.q<RecordVersion>('records', 'version', { id, version });
  }

  /**
   * Reads records of one patient: one access tx decides and logs every record (permits and denials), and only
   * after it commits is anything decrypted. Withheld fields are cut out, and each copy is checked against the
   * ledger's field root before it leaves, so a tampered vault fails here with INTEGRITY_ERROR.
   */
  async read(
    user: UserRequest,
    patientId: string,
    recordIds: string[],
    purpose: PurposeOfUse,
    options: { emergencyReason?: string; versions?: Record<string, number>; allVersions?: boolean; part?: number; context?: 'search' } = {},
  ): Promise<ReadOutcome> {
    const relay = this.relayFor(user);
    // One user request is one access tx (the nonce is single-use), so a read is bounded; callers page.
    if (recordIds.length > MAX_RECORDS_PER_REQUEST) {
      throw new CodedError('TOO_MANY_RECORDS', `one read covers at most ${MAX_RECORDS_PER_REQUEST} records; ask for fewer (e.g. _count)`);
    }
    const outcome: ReadOutcome = { access: '', released: [], refused: [] };
    if (recordIds.length === 0) return outcome;
    const result = await this.submit<{ access: string; decisions: AccessDecision[] }>(relay, 'access', 'request', {
      patientId,
      recordIds,
      purpose,
      ...(options.emergencyReason ? { emergency: { reason: options.emergencyReason } } : {}),
      ...(options.context ? { context: options.context } : {}),
      // One signed request may cover several access txs (a search reads each matching patient): part i of it.
      onBehalfOf: options.part === undefined ? user : { ...user, part: options.part },
    });
    outcome.access = result.access;
    for (const d of result.decisions) {
      if (d.decision !== 'permit') outcome.refused.push({ id: d.record, decision: d.decision, reason: d.reason });
      else if (!this.hosted.has(this.q<RecordHead>('records', 'get', { id: d.record }).custodian) && this.remote && !options.allVersions && !options.versions?.[d.record]) {
        outcome.released.push(await this.fetchRemote(relay, result.access, patientId, d.record));
      } else if (options.allVersions) {
        for (const v of this.q<RecordVersion[]>('records', 'versions', { id: d.record })) outcome.released.push(await this.release(d.record, d.withheldFields, v.version));
      } else outcome.released.push(await this.release(d.record, d.withheldFields, options.versions?.[d.record]));
    }
    return outcome;
  }

  /**
   * A record held elsewhere: its custodian's node releases a redacted copy against the access entry just
   * committed; every released field is checked against the field root on this node's own ledger copy.
   */
  private async fetchRemote(relay: HostedInstitution, access: string, patientId: string, id: string): Promise<ReleasedRecord> {
    const meta = this.q<RecordVersion>('records', 'get', { id });
    const proof = await this.remote!.fetch({ custodian: meta.custodian, access, patientId, record: id, version: meta.version, relay });
    const resource = verifyRedacted(proof, meta.fieldRoot);
    return { meta, resource, withheld: Object.keys(proof.withheld), proof };
  }

  /** The redacted copy of one version of a record this node holds, for another node (exchange/). */
  async redactedCopyFor(id: string, version: number, withheld: string[]): Promise<RedactedCopy> {
    return (await this.release(id, withheld, version)).proof;
  }

  private async release(id: string, withheld: string[], version?: number): Promise<ReleasedRecord> {
    const meta = version ? this.q<RecordVersion>('records', 'version', { id, version }) : this.q<RecordVersion>('records', 'get', { id });
    const vault = this.vaultOf(meta.custodian);
    const holder = { privateKey: vault.node.agreement.privateKey, publicKey: vault.node.agreement.publicKey };
    const plain = await vault.vault.read(vaultId(id, meta.version), holder, meta.ciphertextSha256);
    const envelope = JSON.parse(plain.toString('utf8')) as StoredEnvelope;
    const proof = redact(envelope.resource, envelope.salts, withheld);
    const resource = verifyRedacted(proof, meta.fieldRoot);
    return { meta, resource, withheld: Object.keys(proof.withheld), proof };
  }

  /** A record's ledger head; NOT_FOUND when there is none. */
  head(id: string): RecordHead {
    return this.q<RecordHead>('records', 'get', { id });
  }

  requirePatient(patientId: string): void {
    this.q<Patient>('identity', 'patient', { patientId });
  }

  /** Patients read their own records (PATRQT) by default; everyone else for treatment. */
  defaultPurpose(did: string): PurposeOfUse {
    return this.tryQ<KeyRecord>('identity', 'resolveKey', { did })?.kind === 'patient' ? 'PATRQT' : 'TREAT';
  }

  private isOverseer(key: KeyRecord): boolean {
    return this.hasRole(key, 'auditor') || this.hasRole(key, 'regulator');
  }

  /** An active staff member of their institution with this role. */
  private hasRole(key: KeyRecord, role: string): boolean {
    if (key.kind !== 'staff' || !key.institution) return false;
    const staff = this.q<{ roles: string[]; status: string }>('identity', 'staff', { institution: key.institution, staffId: key.subject });
    return staff.status === 'active' && staff.roles.includes(role);
  }

  /**
   * Break-the-glass accesses across the consortium, for auditors and the regulator (no record content). Oversight
   * needs who, where, when, why and the decision, not whose records: the patient id is kept only for an auditor of
   * the custodian institution (the records are theirs to follow up with the patient); the regulator's staff and
   * auditors elsewhere get the entry without it.
   */
  emergencies(did: string, limit = 1000): EmergencyAccess[] {
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
    if (!key || key.status !== 'active' || !this.isOverseer(key)) throw new CodedError('FORBIDDEN', 'only auditors and the regulator list emergency accesses');
    const auditorAt = this.hasRole(key, 'auditor') ? key.institution : undefined;
    return this.q<Array<EmergencyAccess & { patientId: string }>>('access', 'emergencies', { limit }).map(({ patientId, ...e }) =>
      auditorAt !== undefined && e.custodian === auditorAt ? { ...e, patientId } : e,
    );
  }

  /**
   * Per-patient views (records overview, access log, consents, requests) are for the patient, their guardians, and
   * an auditor who follows up with the patient: staff with the `auditor` role at an institution where the patient is
   * registered (which every custodian of their records is). Oversight needs no patient data, so the regulator's staff (role
   * or institution) are refused here and use the aggregates (/v1/oversight/*). Refusals go to the node log.
   */
  assertMayOversee(did: string, patientId: string): void {
    const refuse = (code: 'UNKNOWN_SIGNER' | 'FORBIDDEN', message: string): never => {
      this.node.logger.warn({ event: 'records.patient-view.refused', did, patientId, code }, "a patient's per-patient view was refused");
      throw new CodedError(code, message);
    };
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
    if (!key || key.status !== 'active') return refuse('UNKNOWN_SIGNER', 'the signing key is not registered in the consortium');
    if (key.kind === 'patient' && key.subject === patientId) return;
    if (this.q<Guardian[]>('consent', 'guardiansOf', { patientId }).some((g) => g.did === did)) return;
    if (this.isAuditorOfPatient(key, patientId)) return;
    return refuse('FORBIDDEN', "only the patient, their guardian and an auditor of an institution that registered the patient or holds their records see a patient's access log, consents and requests");
  }

  /**
   * An active auditor of a non-regulator institution where the patient is registered. That covers the custodians of
   * the patient's records too: the records contract lets an institution write only for patients registered there.
   */
  private isAuditorOfPatient(key: KeyRecord, patientId: string): boolean {
    if (!key.institution || !this.hasRole(key, 'auditor')) return false;
    if (this.tryQ<Institution>('identity', 'institution', { id: key.institution })?.type === 'regulator') return false;
    return this.tryQ<Patient>('identity', 'patient', { patientId })?.registrations.some((r) => r.institution === key.institution) ?? false;
  }

  version(id: string, version: number): RecordVersion {
    return this.q<RecordVersion>('records', 'version', { id, version });
  }

  requestsOfPatient(patientId: string): ChangeRequest[] {
    return this.q<ChangeRequest[]>('records', 'requestsOfPatient', { patientId });
  }

  /** Open (or resolved) requests at the caller's institution, with the patient's wording when this node holds it. */
  async requestsAtCallersInstitution(did: string, status: ChangeRequest['status']): Promise<Array<ChangeRequest & { details?: string }>> {
    const key = this.tryQ<KeyRecord>('identity', 'resolveKey', { did });
    if (!key || key.kind !== 'staff' && key.kind !== 'admin' || !key.institution) throw new CodedError('FORBIDDEN', "only a custodian's staff list its requests");
    const list = this.q<ChangeRequest[]>('records', 'requestsAt', { custodian: key.institution, status });
    return Promise.all(
      list.map(async (r) => {
        if (!r.detailsSha256 || !this.hosted.has(r.custodian)) return r;
        try {
          return { ...r, details: await this.requestDetails(r.custodian, r.detailsSha256) };
        } catch {
          return r;
        }
      }),
    );
  }

  accessLog(did: string, patientId: string): AccessEntry[] {
    this.assertMayOversee(did, patientId);
    const out: AccessEntry[] = [];
    let after: string | undefined;
    for (;;) {
      const page = this.q<Array<AccessEntry & { cursor: string }>>('access', 'logOf', { patientId, limit: 1000, ...(after ? { after } : {}) });
      out.push(...page.map(({ cursor: _cursor, ...e }) => e));
      if (page.length < 1000) break;
      after = page[page.length - 1]!.cursor;
    }
    return out;
  }

  auditEvents(did: string, patientId: string): Array<Record<string, unknown>> {
    return this.accessLog(did, patientId).map((e, i) => auditEventOf(e, i) as unknown as Record<string, unknown>);
  }

  consents(did: string, patientId: string): Array<Record<string, unknown>> {
    this.assertMayOversee(did, patientId);
    return this.q<Array<Record<string, unknown>>>('consent', 'asFhir', { patientId });
  }

  /** Candidate records of a patient from the ledger's metadata (no content), for searches and $everything. */
  candidates(patientId: string, filter: { types?: string[]; category?: string; code?: string; from?: string; to?: string } = {}): RecordHead[] {
    return this.q<RecordHead[]>('records', 'ofPatient', { patientId }).filter(
      (r) =>
        (!filter.types || filter.types.includes(r.resourceType)) &&
        (!filter.category || r.category === filter.category) &&
        (!filter.code || r.codes.some((c) => c.code === filter.code || `${c.system}|${c.code}` === filter.code)) &&
        (!filter.from || (r.date !== undefined && r.date >= filter.from)) &&
        (!filter.to || (r.date !== undefined && r.date <= filter.to)),
    );
  }

  /** Erases a record at its custodian: the tombstone commits first, then every version is crypto-shredded. */
  async erase(user: UserRequest, id: string, reason: ErasureReason, request?: string): Promise<{ id: string; erasedAt: number; versions: number }> {
    const relay = this.relayFor(user);
    const result = await this.submit<{ id: string; erasedAt: number; versions: number }>(relay, 'records', 'erase', {
      id,
      reason,
      ...(request ? { request } : {}),
      onBehalfOf: user,
    });
    this.shred(relay.id, id, result.versions, reason);
    for (const l of this.patientListeners) l(relay.id, { id }, null);
    return result;
  }

  private shred(custodian: string, id: string, versions: number, reason: string): void {
    const vault = this.vaultOf(custodian).vault;
    for (let v = 1; v <= versions; v++) {
      if (vault.get(vaultId(id, v))?.erasedAt === undefined && vault.get(vaultId(id, v))) vault.erase(vaultId(id, v), reason);
    }
  }

  /** After a crash between tombstone and shredding: shreds whatever the ledger says is erased. Returns how many. */
  reconcileErasures(): number {
    let shredded = 0;
    for (const h of this.hosted.values()) {
      for (const object of h.vault.liveIds()) {
        const m = /^(.*)\.v(\d+)$/.exec(object);
        if (!m) continue;
        const head = this.tryQ<RecordHead>('records', 'get', { id: m[1] });
        if (head?.status === 'erased' && head.custodian === h.id) {
          h.vault.erase(object, head.erasureReason ?? 'erased');
          shredded++;
        }
      }
    }
    return shredded;
  }

  /**
   * A patient asks the custodian to correct or erase a record. The wording is kept encrypted in the custodian's
   * vault (for the custodian and the patient) with a random salt; the ledger has only the salted commitment
   * (salted-text.ts), so a short wording cannot be recovered from it by guessing.
   */
  async requestChange(user: UserRequest, recordId: string, kind: 'correction' | 'erasure', details?: string): Promise<ChangeRequest> {
    const relay = this.relayFor(user);
    const head = this.q<RecordHead>('records', 'get', { id: recordId });
    const salted = details ? saltText(details) : undefined;
    const vault = this.hosted.get(head.custodian)?.vault;
    const object = salted && vault ? `req-${salted.sha256}` : undefined;
    if (salted && vault && object) await vault.put(object, Buffer.from(salted.envelope), this.recipients(head.custodian, head.patientId));
    try {
      const { request } = await this.submit<{ request: string }>(relay, 'records', 'requestChange', {
        recordId,
        kind,
        ...(salted ? { detailsSha256: salted.sha256 } : {}),
        onBehalfOf: user,
      });
      return this.requestById(head.patientId, request);
    } catch (err) {
      if (object) vault?.discard(object);
      throw err;
    }
  }

  async refuseRequest(user: UserRequest, request: string, reason: string): Promise<void> {
    await this.submit(this.relayFor(user), 'records', 'refuseRequest', { request, reason, onBehalfOf: user });
  }

  /** The wording of a change request, for its custodian, checked against the ledger's salted commitment. */
  async requestDetails(custodian: string, detailsSha256: string): Promise<string> {
    return openSaltedText(await this.unseal(custodian, `req-${detailsSha256}`), detailsSha256, 'the wording of the request');
  }

  private requestById(patientId: string, id: string): ChangeRequest {
    const found = this.q<ChangeRequest[]>('records', 'requestsOfPatient', { patientId }).find((r) => r.id === id);
    if (!found) throw new CodedError('NOT_FOUND', `no request ${id}`);
    return found;
  }
}
