/**
 * The exact text a user signs for one HTTP request to the signed records API. Pure (no Node imports) so the
 * web application signs with the same function the node and the contracts verify with.
 */
export interface UserRequestFields {
  did: string;
  method: string;
  url: string;
  ts: number;
  nonce: string;
  bodySha256: string;
}

export function userRequestMessage(r: UserRequestFields): string {
  return `medchain/http/v1\n${r.method}\n${r.url}\n${r.ts}\n${r.nonce}\n${r.bodySha256}`;
}
