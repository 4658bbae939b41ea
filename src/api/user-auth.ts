import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ed25519KeyOfDid, ed25519Verify, fromBase64Url, sha256Hex, toBase64Url, Ed25519Signer, type Identity } from '../crypto/index.js';
import type { UsedNonces } from '../node/used-nonces.js';
import { userRequestMessage, USER_REQUEST_WINDOW_MS, type UserRequest } from '../contracts/delegation.js';
import { CodedError } from '../ledger/index.js';

/**
 * Signed user requests. A client signs every call to the records API with its own Ed25519 key:
 *
 *   Authorization: MedChain did="did:key:…", ts="1767225600000", nonce="…", sig="…"
 *
 * over `medchain/http/v1\n METHOD\n URL\n ts\n nonce\n sha256(body)` (see contracts/delegation.ts). The node checks
 * it here (to refuse early), and the contract checks it again when the node relays it, so the ledger records the
 * user's own signature. Purpose of use and break-the-glass reasons travel in the URL, so they are signed too.
 */

const HEADER = /^MedChain\s+(.+)$/;

export function bodyHash(body: Uint8Array | string | undefined): string {
  return sha256Hex(body ?? '');
}

/** A signed user request, as a client makes it (also used in-process by the demo seeder and benchmarks). */
export function makeUserRequest(identity: Identity, method: UserRequest['method'], url: string, body?: Uint8Array | string, now = Date.now()): UserRequest {
  const req = { did: identity.did, method, url, ts: now, nonce: toBase64Url(randomBytes(18)), bodySha256: bodyHash(body) };
  return { ...req, sig: toBase64Url(new Ed25519Signer(identity.signing.seed).sign(Buffer.from(userRequestMessage(req)))) };
}

/** Builds the Authorization header for a request (clients: CLI, tests, demo web UI). */
export function signUserRequest(identity: Identity, method: string, url: string, body?: Uint8Array | string, now = Date.now()): string {
  const r = makeUserRequest(identity, method as UserRequest['method'], url, body, now);
  return `MedChain did="${r.did}", ts="${r.ts}", nonce="${r.nonce}", sig="${r.sig}"`;
}

/** How far from the node clock a request's time may be (a little tighter than the contract's window). */
const NODE_WINDOW_MS = USER_REQUEST_WINDOW_MS - 30_000;

/**
 * Until when a request's nonce must be remembered (`UsedNonces`): the first moment the request no longer passes the
 * time check below. A captured request cannot be sent again, reads included (writes are also refused later by the ledger, which
 * burns the nonce of a relayed request, but reads never reach it). The node keeps them on disk (node/used-nonces.ts),
 * so a restart forgets none.
 */
export function userNonceExpiry(requestTs: number): number {
  return requestTs + NODE_WINDOW_MS + 1;
}

/** Requests already authenticated (a route may ask more than once; the nonce is claimed the first time). */
const authenticated = new WeakMap<FastifyRequest, UserRequest>();

/** The signed user of a request on a signed route: its raw body's hash (set by the signed-body parser) or the empty body's. */
export function signedUser(request: FastifyRequest, now = Date.now()): UserRequest {
  return authenticate(request, request.bodySha256 ?? sha256Hex(''), now);
}

/** Parses and checks the Authorization header of a request whose raw body hashed to `bodySha256`. */
export function authenticate(request: FastifyRequest, bodySha256: string, now = Date.now()): UserRequest {
  const known = authenticated.get(request);
  if (known && known.bodySha256 === bodySha256) return known;
  const header = request.headers.authorization;
  const m = header ? HEADER.exec(header) : null;
  if (!m) throw new CodedError('UNAUTHENTICATED', 'sign the request: Authorization: MedChain did="…", ts="…", nonce="…", sig="…"');
  const params: Record<string, string> = {};
  for (const part of m[1]!.split(',')) {
    const kv = /^\s*([a-z]+)="([^"]*)"\s*$/.exec(part);
    if (kv) params[kv[1]!] = kv[2]!;
  }
  const { did, ts, nonce, sig } = params;
  if (!did || !ts || !nonce || !sig || !/^\d{1,16}$/.test(ts) || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) || !/^[A-Za-z0-9_-]{86}$/.test(sig)) {
    throw new CodedError('UNAUTHENTICATED', 'the Authorization header lacks did, ts, nonce or sig');
  }
  const method = request.method.toUpperCase();
  if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) throw new CodedError('UNAUTHENTICATED', `method ${method} cannot be signed`);
  const user: UserRequest = { did, method: method as UserRequest['method'], url: request.url, ts: Number(ts), nonce, bodySha256, sig };
  const key = ed25519KeyOfDid(did);
  if (!key || !ed25519Verify(key, Buffer.from(userRequestMessage(user)), fromBase64Url(sig))) {
    throw new CodedError('UNAUTHENTICATED', 'the request signature does not verify (did, method, URL, time, nonce and body are signed)');
  }
  // A little tighter than the contract's window, so a request accepted here is still fresh when its block commits.
  if (Math.abs(user.ts - now) > NODE_WINDOW_MS) throw new CodedError('UNAUTHENTICATED', 'the request time is too far from the node clock');
  const used = request.server.usedNonces;
  if (used && !used.claim(`${did} ${nonce}`, userNonceExpiry(user.ts), now)) {
    throw new CodedError('UNAUTHENTICATED', 'this signed request was already used (replay): sign each request with a new nonce');
  }
  authenticated.set(request, user);
  return user;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set on a node's API (buildApi): the nonces of signed requests it accepted. */
    usedNonces?: UsedNonces;
  }
  interface FastifyRequest {
    /** SHA-256 (hex) of the raw body, computed before parsing: what the user's signature covers. */
    bodySha256?: string;
  }
}

/** JSON bodies of signed routes are hashed as raw bytes before parsing (call once per Fastify scope). */
export function installSignedBodyParser(app: FastifyInstance, bodyLimit: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/fhir+json', 'application/ld+json'], { parseAs: 'buffer', bodyLimit }, (request, body, done) => {
    const bytes = body as Buffer;
    request.bodySha256 = sha256Hex(bytes);
    if (bytes.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(bytes.toString('utf8')));
    } catch {
      done(new CodedError('BODY_MALFORMED', 'request body is not valid JSON'), undefined);
    }
  });
}
