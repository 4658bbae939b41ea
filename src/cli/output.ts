import { CodedError } from '../ledger/index.js';

/** Prints a value for people (pretty JSON) — the CLI's one output format besides progress on stderr. */
export function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Turns any failure into one line on stderr and an exit code; never a stack trace unless MEDCHAIN_DEBUG is set. */
export function fail(err: unknown): never {
  if (process.env['MEDCHAIN_DEBUG']) console.error(err);
  const code = err instanceof CodedError ? err.code : ((err as { code?: string }).code ?? 'ERROR');
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`medchain: ${code}: ${message}\n`);
  process.exit(1);
}

/** Calls the HTTP API of a running node; API errors ({code, message}) become CodedErrors. */
export async function callApi(url: string, path: string, init?: { method?: string; body?: unknown }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, url), {
      method: init?.method ?? (init?.body !== undefined ? 'POST' : 'GET'),
      headers: init?.body !== undefined ? { 'content-type': 'application/json' } : {},
      body: init?.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
  } catch (err) {
    throw new CodedError('NODE_UNREACHABLE', `cannot reach ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const b = body as { code?: string; message?: string };
    throw new CodedError(b?.code ?? `HTTP_${res.status}`, b?.message ?? text);
  }
  return body;
}
