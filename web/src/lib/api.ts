import type { BrowserIdentity } from './identity.js';

/** An error the UI can show: the API's stable code and message (never a stack). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) return body;
  const b = body as { code?: string; message?: string; resourceType?: string; issue?: Array<{ details?: { text?: string; coding?: Array<{ code?: string }> } }> } | undefined;
  if (b?.resourceType === 'OperationOutcome') {
    const issue = b.issue?.[0];
    throw new ApiError(issue?.details?.coding?.[0]?.code ?? `HTTP_${res.status}`, issue?.details?.text ?? res.statusText, res.status);
  }
  throw new ApiError(b?.code ?? `HTTP_${res.status}`, b?.message ?? res.statusText, res.status);
}

async function send(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new ApiError('NETWORK', 'the node cannot be reached', 0);
  }
  return parse(res);
}

/** Unsigned calls: status, blocks, public queries, medicine verification. */
export const openApi = {
  get: <T>(path: string) => send(path, { headers: { accept: 'application/json' } }) as Promise<T>,
  post: <T>(path: string, body: unknown) =>
    send(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) }) as Promise<T>,
  query: async <T>(contract: string, name: string, args: unknown = {}, caller?: string) =>
    ((await openApi.post<{ result: T }>(`/v1/query/${contract}/${name}`, { args, ...(caller ? { caller } : {}) })).result),
};

/** Calls signed by the signed-in person: every request to the records API, and every ledger tx. */
export class SignedApi {
  constructor(
    readonly identity: BrowserIdentity,
    readonly chain: string,
  ) {}

  request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { authorization: this.identity.authorization(method, path, text), accept: 'application/json' };
    if (text !== undefined) headers['content-type'] = contentType;
    return send(path, { method, headers, ...(text !== undefined ? { body: text } : {}) }) as Promise<T>;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Signs a tx in the browser and waits until the node has committed it. */
  submit<T = Receipt>(contract: string, method: string, args: unknown): Promise<T> {
    return openApi.post<T>('/v1/txs', this.identity.signTx(this.chain, contract, method, args));
  }
}

export interface Receipt {
  id: string;
  blockHash: string;
  height: number;
  index: number;
  result: { status: 'ok'; value?: unknown } | { status: 'error'; code: string; message: string };
}
