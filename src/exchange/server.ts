import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { canonicalJson, ed25519KeyOfDid, ed25519Verify, fromBase64Url, publicKeyFromDidKey, toBase64Url } from '../crypto/index.js';
import type { AccessEntry } from '../contracts/access/index.js';
import type { Institution, KeyRecord } from '../contracts/identity/model.js';
import { CodedError, type ExecutedBlock, type StoredTx } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import type { RecordService } from '../records/service.js';
import { encryptBuffer, wrapKey } from '../vault/index.js';
import {
  MAX_ACCESS_AGE_MS,
  MAX_RELEASE_TTL_MS,
  releaseContext,
  releaseRequestMessage,
  signedReleaseRequestCheck,
  type ReleaseResponse,
  type SignedReleaseRequest,
} from './protocol.js';

const refused = (why: string) => new CodedError('EXCHANGE_REFUSED', why);
const badRequest = (why: string) => new CodedError('BAD_USER_REQUEST', why);

/**
 * The custodian's side of record exchange: releases a redacted, re-encrypted copy of a record it holds to the
 * node that committed a permitting access entry for it — checked on this node's own ledger copy, never on what
 * the requester says. Refusals (forged, replayed, expired, not permitted) are logged.
 */
export class ExchangeServer {
  /** Requests waiting for the block of their access entry, by tx id. */
  private readonly txWaiters = new Map<string, Array<(tx: StoredTx | undefined) => void>>();

  constructor(
    private readonly node: MedchainNode,
    private readonly records: RecordService,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async release(body: unknown): Promise<ReleaseResponse> {
    try {
      return await this.check(body);
    } catch (err) {
      const request = (body as SignedReleaseRequest | undefined)?.request;
      this.logger.warn({ code: (err as CodedError).code, reason: (err as Error).message, access: request?.access, record: request?.record, node: request?.node }, 'record exchange refused');
      throw err;
    }
  }

  private async check(body: unknown): Promise<ReleaseResponse> {
    if (!signedReleaseRequestCheck.Check(body)) throw new CodedError('BODY_MALFORMED', 'not a signed release request');
    const { request, sig } = body;
    const now = this.now();
    // 1. The requesting node: a member's active node key, and the signature is its.
    const key = this.tryQuery<KeyRecord>('identity', 'resolveKey', { did: request.node });
    if (!key || key.kind !== 'node' || key.status !== 'active' || !key.institution) throw badRequest('the requester is not an active member node');
    const publicKey = ed25519KeyOfDid(request.node);
    if (!publicKey || !ed25519Verify(publicKey, releaseRequestMessage(request), fromBase64Url(sig, 64))) throw badRequest('the node signature does not verify');
    // 2. Fresh and single-use.
    if (request.expires <= now || request.expires > now + MAX_RELEASE_TTL_MS) throw badRequest('the request is expired or expires too far ahead');
    if (!this.node.usedNonces.claim(`${request.node}/${request.nonce}`, request.expires, now)) throw badRequest('the request was already used (replay)');
    // 3. The access entry, on this node's own ledger copy (waiting briefly if this node is a block behind).
    const entry = await this.accessEntry(request.access, request.patientId, request.record);
    if (entry.via !== request.node) throw refused('the access entry was not relayed by the requesting node');
    if (entry.decision !== 'permit') throw refused(`the access entry does not permit this record (${entry.decision})`);
    if (now - entry.time > MAX_ACCESS_AGE_MS) throw refused('the access entry is too old; request access again');
    if (!this.records.hostedInstitutions().includes(entry.record.custodian)) throw new CodedError('NOT_HOSTED', `this node does not hold records of ${entry.record.custodian}`);
    // 4. The redacted copy, encrypted under a fresh key for the requesting institution (and the user, if they can).
    const copy = await this.records.redactedCopyFor(entry.record.id, entry.record.version, entry.withheldFields);
    const dataKey = randomBytes(32);
    const { ciphertext } = await encryptBuffer(Buffer.from(canonicalJson(copy), 'utf8'), dataKey);
    const context = releaseContext(request.access, entry.record.id, entry.record.version);
    const recipients = [this.vaultKeyOf(key.institution)];
    const user = this.tryQuery<KeyRecord>('identity', 'resolveKey', { did: entry.requester });
    if (user?.encryptionKey) recipients.push(publicKeyFromDidKey(user.encryptionKey).publicKey);
    this.logger.info({ access: request.access, record: entry.record.id, to: key.institution, requester: entry.requester }, 'record released to another node');
    return {
      record: entry.record.id,
      version: entry.record.version,
      ciphertext: toBase64Url(ciphertext),
      keys: recipients.map((pk) => wrapKey(dataKey, pk, context)),
    };
  }

  private vaultKeyOf(institution: string): Uint8Array {
    const inst = this.node.query('identity', 'institution', { id: institution }) as Institution;
    if (!inst.encryptionKey) throw refused(`institution ${institution} has no vault key on the ledger`);
    return publicKeyFromDidKey(inst.encryptionKey).publicKey;
  }

  private async accessEntry(access: string, patientId: string, record: string): Promise<AccessEntry> {
    const tx = this.node.ledger.store.getTx(access) ?? (await this.awaitTx(access, 5000));
    if (!tx) throw refused('no such access entry on this node\'s ledger');
    const prefix = `access/${patientId}/${String(tx.height).padStart(12, '0')}/${access}/`;
    for (const e of this.node.ledger.store.rangeRaw(prefix, { limit: 1000 })) {
      const entry = JSON.parse(e.value) as AccessEntry;
      if (entry.record.id === record) return entry;
    }
    throw refused('the access entry does not cover this record');
  }

  /**
   * The requester commits the access entry and asks at once, so this node is often still executing that block:
   * the request waits for the block (one listener serves every waiting request) rather than polling.
   */
  private awaitTx(id: string, timeoutMs: number): Promise<StoredTx | undefined> {
    if (this.txWaiters.size === 0) this.node.ledger.on('block', this.onBlock);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settleWaiter(id, waiter), timeoutMs);
      const waiter = (tx: StoredTx | undefined) => {
        clearTimeout(timer);
        resolve(tx);
      };
      this.txWaiters.set(id, [...(this.txWaiters.get(id) ?? []), waiter]);
      // Committed between the first look and the registration.
      const tx = this.node.ledger.store.getTx(id);
      if (tx) this.settleWaiter(id, waiter, tx);
    });
  }

  private readonly onBlock = (block: ExecutedBlock) => {
    for (const t of block.txs) {
      const waiting = this.txWaiters.get(t.id);
      if (!waiting) continue;
      const tx = this.node.ledger.store.getTx(t.id);
      for (const w of [...waiting]) this.settleWaiter(t.id, w, tx);
    }
  };

  private settleWaiter(id: string, waiter: (tx: StoredTx | undefined) => void, tx?: StoredTx): void {
    const left = (this.txWaiters.get(id) ?? []).filter((w) => w !== waiter);
    if (left.length > 0) this.txWaiters.set(id, left);
    else this.txWaiters.delete(id);
    if (this.txWaiters.size === 0) this.node.ledger.off('block', this.onBlock);
    waiter(tx ?? this.node.ledger.store.getTx(id));
  }

  private tryQuery<T>(contract: string, name: string, args: unknown): T | undefined {
    try {
      return this.node.query(contract, name, args) as T;
    } catch {
      return undefined;
    }
  }
}
