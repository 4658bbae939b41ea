import { Type, type Static } from '@sinclair/typebox';
import { ed25519KeyOfDid, ed25519Verify, fromBase64Url } from '../crypto/index.js';
import { ContractCodes, ContractError } from './errors.js';
import { DidKey, resolveSigner } from './identity/model.js';
import type { Signer, TxContext } from './runtime.js';
import { userRequestMessage } from './user-request-message.js';

/**
 * Users reach the vault through an institution's node over HTTP: they sign each request (method, URL, time,
 * nonce, body hash) with their own key, and the node relays the request as evidence inside the tx it signs
 * (`onBehalfOf`). The contract re-checks the user's signature, freshness and nonce, so the ledger shows which
 * user asked, not only which node acted — and a node cannot invent requests its users never made. Which records
 * a URL resolves to is the node's attestation; auditors can re-run the URL against the ledger at that height.
 */

export const UserRequest = Type.Object(
  {
    did: DidKey,
    method: Type.Union(['GET', 'POST', 'PUT', 'DELETE'].map((m) => Type.Literal(m))),
    url: Type.String({ minLength: 1, maxLength: 2048, pattern: '^/' }),
    ts: Type.Integer({ minimum: 0 }),
    nonce: Type.String({ pattern: '^[A-Za-z0-9_-]{16,64}$' }),
    bodySha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    sig: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }),
    /**
     * Which part of a multi-part request this tx carries (entry i of a Bundle the user signed as a whole). Not
     * signed itself: the signed body hash covers every entry, and each part can be used once.
     */
    part: Type.Optional(Type.Integer({ minimum: 0, maximum: 9999 })),
  },
  { additionalProperties: false },
);
export type UserRequest = Static<typeof UserRequest>;

/** How far a request's own time may be from the block time that records it. */
export const USER_REQUEST_WINDOW_MS = 5 * 60 * 1000;

/** The exact bytes a user signs for one HTTP request (pure, shared with the web application). */
export { userRequestMessage } from './user-request-message.js';

const nonceKey = (did: string, nonce: string, part?: number) => (part === undefined ? `nonce/${did}/${nonce}` : `nonce/${did}/${nonce}/${part}`);

/**
 * The identity a method acts for: the tx signer, or — when a node relays a signed user request — that user.
 * Staff and admins may be relayed only by their own institution's node; patients and proxies by any member node.
 */
export function actingUser(ctx: TxContext, relayed: UserRequest | undefined): Signer {
  if (!relayed) return ctx.signer;
  const bad = (why: string): never => {
    throw new ContractError(ContractCodes.BAD_USER_REQUEST, why);
  };
  if (ctx.signer.kind !== 'node') bad('only a node may relay a user request');
  const publicKey = ed25519KeyOfDid(relayed.did);
  if (!publicKey || !ed25519Verify(publicKey, Buffer.from(userRequestMessage(relayed)), fromBase64Url(relayed.sig))) bad('the user signature does not verify');
  if (Math.abs(relayed.ts - ctx.block.time) > USER_REQUEST_WINDOW_MS) bad('the user request is stale or from the future');
  // A whole request and its parts exclude each other, so a request cannot be used once whole and again in parts.
  const whole = nonceKey(relayed.did, relayed.nonce);
  const used =
    ctx.state.get(whole) !== undefined ||
    (relayed.part === undefined
      ? ctx.state.range(`${whole}/`, { limit: 1 }).length > 0
      : ctx.state.get(nonceKey(relayed.did, relayed.nonce, relayed.part)) !== undefined);
  if (used) {
    bad('the user request was already used (replay)');
  }
  const user = resolveSigner(relayed.did, ctx.state);
  if ((user.kind === 'staff' || user.kind === 'admin') && user.institution !== ctx.signer.institution) {
    bad('staff requests are relayed only by their own institution\'s node');
  }
  if (user.kind === 'node' || user.kind === 'device') bad(`a ${user.kind} key cannot make user requests`);
  ctx.state.put(nonceKey(relayed.did, relayed.nonce, relayed.part), { at: ctx.block.time });
  return user;
}
