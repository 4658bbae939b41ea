import { randomUUID } from 'node:crypto';
import type { AccessRequestView, PurposeOfUse } from '../contracts/consent/index.js';
import type { UserRequest } from '../contracts/delegation.js';
import { CodedError } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import { openSaltedText, saltText } from './salted-text.js';
import type { RecordService } from './service.js';

/**
 * Clinicians ask patients for access; patients (or guardians) approve or decline. The decisions are the consent
 * contract's (`requestAccess`, `approveRequest`, `declineRequest`, `cancelRequest`), relayed for the signed user.
 * A message travels encrypted: it is sealed into the requesting institution's vault for that institution and the
 * patient's keys, and the ledger holds its location and a salted commitment to it (salted-text.ts), so a short
 * message cannot be guessed from its hash.
 */

export interface NewAccessRequest {
  purposes: PurposeOfUse[];
  resourceTypes?: string[];
  categories?: string[];
  period?: { start?: number; end?: number };
  message?: string;
  expiresInDays?: number;
}

export type AccessRequestWithMessage = AccessRequestView & { messageText?: string };

export class AccessRequestService {
  constructor(
    private readonly node: MedchainNode,
    private readonly records: RecordService,
  ) {}

  private q<T>(contract: string, name: string, args: unknown): T {
    return this.node.query(contract, name, args) as T;
  }

  async create(user: UserRequest, patientId: string, input: NewAccessRequest): Promise<AccessRequestWithMessage> {
    let message: { custodian: string; object: string; sha256: string } | undefined;
    if (input.message) {
      const { envelope, sha256 } = saltText(input.message);
      message = { custodian: this.records.relayInstitution(user), object: `areq-msg-${randomUUID()}`, sha256 };
      await this.records.seal(message.custodian, message.object, envelope, patientId);
    }
    try {
      const { request } = await this.records.relay<{ request: string }>(user, 'consent', 'requestAccess', {
        patientId,
        purposes: input.purposes,
        scope: { ...(input.resourceTypes ? { resourceTypes: input.resourceTypes } : {}), ...(input.categories ? { categories: input.categories } : {}) },
        period: input.period ?? {},
        ...(message ? { message } : {}),
        ...(input.expiresInDays ? { expiresInDays: input.expiresInDays } : {}),
      });
      return this.one(patientId, request);
    } catch (err) {
      if (message) this.records.discardSealed(message.custodian, message.object);
      throw err;
    }
  }

  /** A patient's requests, for the patient, their guardians and an auditor where the patient is registered (see assertMayOversee). */
  async ofPatient(did: string, patientId: string, status?: AccessRequestView['status']): Promise<AccessRequestWithMessage[]> {
    this.records.assertMayOversee(did, patientId);
    const list = this.q<AccessRequestView[]>('consent', 'requestsOf', { patientId }).filter((r) => !status || r.status === status);
    return Promise.all(list.map((r) => this.withMessage(r)));
  }

  /** The requests the caller made, with their status. */
  async mine(did: string, status?: AccessRequestView['status']): Promise<AccessRequestWithMessage[]> {
    const list = this.q<AccessRequestView[]>('consent', 'requestsBy', { did }).filter((r) => !status || r.status === status);
    return Promise.all(list.map((r) => this.withMessage(r)));
  }

  async approve(user: UserRequest, patientId: string, id: string, excludeFields?: string[]): Promise<AccessRequestWithMessage> {
    await this.records.relay(user, 'consent', 'approveRequest', { patientId, request: id, ...(excludeFields?.length ? { excludeFields } : {}) });
    return this.one(patientId, id);
  }

  async decline(user: UserRequest, patientId: string, id: string, reason?: string): Promise<AccessRequestWithMessage> {
    await this.records.relay(user, 'consent', 'declineRequest', { patientId, request: id, ...(reason ? { reason } : {}) });
    return this.one(patientId, id);
  }

  async cancel(user: UserRequest, patientId: string, id: string): Promise<AccessRequestWithMessage> {
    await this.records.relay(user, 'consent', 'cancelRequest', { patientId, request: id });
    return this.one(patientId, id);
  }

  private async one(patientId: string, id: string): Promise<AccessRequestWithMessage> {
    const found = this.q<AccessRequestView[]>('consent', 'requestsOf', { patientId }).find((r) => r.id === id);
    if (!found) throw new CodedError('ACCESS_REQUEST_NOT_FOUND', `no access request ${id}`);
    return this.withMessage(found);
  }

  /** Opens the message when this node holds the vault it is sealed in, and checks it against the ledger's hash. */
  private async withMessage(r: AccessRequestView): Promise<AccessRequestWithMessage> {
    if (!r.message || !this.records.hostedInstitutions().includes(r.message.custodian)) return r;
    const envelope = await this.records.unseal(r.message.custodian, r.message.object);
    return { ...r, messageText: openSaltedText(envelope, r.message.sha256, `the message of request ${r.id}`) };
  }
}
