import { randomBytes } from 'node:crypto';
import { Ed25519Signer, fromBase64Url, toBase64Url } from '../crypto/index.js';
import type { Institution } from '../contracts/identity/model.js';
import { CodedError } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import type { RedactedCopy } from '../records/index.js';
import type { HostedInstitution, RemoteRecordSource } from '../records/service.js';
import { decryptBuffer, unwrapKey } from '../vault/index.js';
import { releaseContext, releaseRequestMessage, type ReleaseRequest, type ReleaseResponse } from './protocol.js';

export interface ExchangeClientOptions {
  /** Where an institution's node answers; defaults to the `endpoint` it registered on the ledger. */
  endpointOf?: (institution: string) => string | undefined;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * The requesting side of record exchange: asks the custodian's node for a record against the access entry this
 * node just committed, signed with the relaying institution's node key, and opens the answer with that
 * institution's vault key. The caller (RecordService) verifies the copy against its own ledger copy.
 */
export class ExchangeClient implements RemoteRecordSource {
  constructor(
    private readonly node: MedchainNode,
    private readonly options: ExchangeClientOptions = {},
  ) {}

  async fetch(req: { custodian: string; access: string; patientId: string; record: string; version: number; relay: HostedInstitution }): Promise<RedactedCopy> {
    const now = (this.options.now ?? Date.now)();
    const request: ReleaseRequest = {
      access: req.access,
      patientId: req.patientId,
      record: req.record,
      node: req.relay.node.did,
      nonce: toBase64Url(randomBytes(18)),
      expires: now + 60_000,
    };
    const sig = toBase64Url(new Ed25519Signer(req.relay.node.signing.seed).sign(releaseRequestMessage(request)));
    const endpoint = this.options.endpointOf?.(req.custodian) ?? (this.node.query('identity', 'institution', { id: req.custodian }) as Institution).endpoint;
    let res: Response;
    try {
      res = await fetch(new URL('/v1/exchange/release', endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request, sig }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new CodedError('EXCHANGE_UNAVAILABLE', `the node of ${req.custodian} did not answer: ${(err as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as ReleaseResponse & { code?: string; message?: string };
    if (!res.ok) throw new CodedError(body.code ?? 'EXCHANGE_UNAVAILABLE', `the node of ${req.custodian} refused: ${body.message ?? res.status}`);
    if (body.record !== req.record || body.version !== req.version) throw new CodedError('INTEGRITY_ERROR', 'the custodian released another record or version');
    const mine = req.relay.node.agreement;
    const wrapped = body.keys?.find((k) => k.recipient === toBase64Url(mine.publicKey));
    if (!wrapped) throw new CodedError('INTEGRITY_ERROR', 'the released copy is not wrapped for this institution');
    const dataKey = unwrapKey(wrapped, mine.privateKey, mine.publicKey, releaseContext(req.access, req.record, req.version));
    const plain = await decryptBuffer(fromBase64Url(body.ciphertext), dataKey);
    return JSON.parse(plain.toString('utf8')) as RedactedCopy;
  }
}
