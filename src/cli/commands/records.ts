import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { signUserRequest } from '../../api/user-auth.js';
import { Ed25519Signer, readKeyFile, type Identity } from '../../crypto/index.js';
import { demoIdentity } from '../../demo/keys.js';
import { CodedError, signTx } from '../../ledger/index.js';
import { callApi, fail, print } from '../output.js';
import { resolvePassphrase } from '../passphrase.js';
import { createProgress } from '../progress.js';

/**
 * Records, consents and the access log from the command line. Every call is signed by the acting person's key
 * (`--key FILE`, or `--as HANDLE` for demo people such as `patient:3` or `dr-wang-li@qingshan-county-hospital`).
 */

const DEFAULT_URL = process.env['MEDCHAIN_URL'] ?? 'http://127.0.0.1:8080';

export interface ActorOptions {
  key?: string;
  as?: string;
  url: string;
  passphraseFile?: string;
}

export async function actingIdentity(opts: ActorOptions): Promise<Identity> {
  if (opts.key && opts.as) throw new CodedError('USAGE', 'give --key or --as, not both');
  if (opts.key) return readKeyFile(opts.key, resolvePassphrase(opts));
  if (opts.as) return demoIdentity(opts.as);
  throw new CodedError('USAGE', 'say who acts: --key FILE (or --as HANDLE for demo people)');
}

/** A signed call to a running node; FHIR OperationOutcomes and {code, message} errors become CodedErrors. */
export async function callSigned(base: string, identity: Identity, method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: signUserRequest(identity, method, url.pathname + url.search, payload), ...(payload ? { 'content-type': 'application/fhir+json' } : {}) },
      body: payload,
    });
  } catch (err) {
    throw new CodedError('NODE_UNREACHABLE', `cannot reach ${base}: ${(err as Error).message}`);
  }
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) {
    const issue = (parsed['issue'] as Array<{ details?: { text?: string; coding?: Array<{ code?: string }> } }> | undefined)?.[0];
    throw new CodedError(issue?.details?.coding?.[0]?.code ?? (parsed['code'] as string) ?? `HTTP_${res.status}`, issue?.details?.text ?? (parsed['message'] as string) ?? text);
  }
  return parsed;
}

/** Every .json / .ndjson file under a path, as resources (Bundles are split into entries). */
function* resourcesIn(path: string): Generator<{ source: string; resource: unknown }> {
  const files = statSync(path).isDirectory()
    ? readdirSync(path, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.json') || f.endsWith('.ndjson'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const docs: unknown[] = file.endsWith('.ndjson') ? text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown) : [JSON.parse(text) as unknown];
    for (const doc of docs) {
      const d = doc as { resourceType?: string; entry?: Array<{ resource?: unknown }> };
      if (d.resourceType === 'Bundle') for (const [i, e] of (d.entry ?? []).entries()) yield { source: `${file}#${i}`, resource: e.resource };
      else yield { source: file, resource: doc };
    }
  }
}

export const actorOptions = (cmd: Command) =>
  cmd
    .option('--key <file>', 'key file of the acting person')
    .option('--as <handle>', 'demo person handle (demo consortium only)')
    .option('--passphrase-file <file>', 'file holding the key passphrase (else MEDCHAIN_PASSPHRASE)')
    .option('--url <url>', 'node API', DEFAULT_URL);

export function registerRecords(program: Command): void {
  const fhir = program.command('fhir').description('FHIR R4 records: import, read, export');

  actorOptions(
    fhir
      .command('import')
      .description('validate, encrypt and register FHIR resources from a file or directory (.json resources or Bundles, .ndjson)')
      .argument('<path>'),
  ).action(async (path: string, opts: ActorOptions) => {
    try {
      const identity = await actingIdentity(opts);
      const all = [...resourcesIn(path)];
      const bar = createProgress('fhir import', all.length);
      const failed: Array<{ source: string; code: string; message: string }> = [];
      let imported = 0;
      for (const [i, { source, resource }] of all.entries()) {
        const r = resource as { resourceType?: string; id?: string };
        try {
          const route = r.id ? `/fhir/R4/${r.resourceType}/${r.id}` : `/fhir/R4/${r.resourceType}`;
          await callSigned(opts.url, identity, r.id ? 'PUT' : 'POST', route, resource);
          imported++;
        } catch (err) {
          if (err instanceof CodedError && err.code === 'NODE_UNREACHABLE') throw err;
          failed.push({ source, code: err instanceof CodedError ? err.code : 'ERROR', message: (err as Error).message });
        }
        bar.update(i + 1);
      }
      bar.stop();
      print({ imported, failed });
      if (failed.length > 0) process.exit(1);
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    fhir
      .command('get')
      .description('read one record, e.g. `Observation/obs-1` (consent-checked and logged)')
      .argument('<reference>')
      .option('--purpose <code>', 'purpose of use (TREAT, ETREAT, HPAYMT, HRESCH, PUBHLTH, PATRQT...)'),
  ).action(async (reference: string, opts: ActorOptions & { purpose?: string }) => {
    try {
      if (!/^[A-Z][A-Za-z]+\/[A-Za-z0-9.-]+(\/_history\/\d+)?$/.test(reference)) throw new CodedError('USAGE', 'reference is Type/id or Type/id/_history/n');
      print(await callSigned(opts.url, await actingIdentity(opts), 'GET', `/fhir/R4/${reference}${opts.purpose ? `?_purpose=${opts.purpose}` : ''}`));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    fhir
      .command('export')
      .description("everything held about a patient, across institutions, as one FHIR Bundle")
      .requiredOption('--patient <id>', 'consortium patient id')
      .option('--out <file>', 'write the Bundle here instead of stdout'),
  ).action(async (opts: ActorOptions & { patient: string; out?: string }) => {
    try {
      const bundle = await callSigned(opts.url, await actingIdentity(opts), 'GET', `/fhir/R4/Patient/${opts.patient}/$everything`);
      if (opts.out) {
        writeFileSync(opts.out, JSON.stringify(bundle, null, 2) + '\n');
        print({ written: opts.out, entries: ((bundle as { entry?: unknown[] }).entry ?? []).length });
      } else print(bundle);
    } catch (err) {
      fail(err);
    }
  });

  const consent = program.command('consent').description("a patient's consents: grant, revoke, list");
  actorOptions(
    consent
      .command('grant')
      .description('grant (or, with --deny, refuse) access to a user, institution, role or type of institution')
      .requiredOption('--patient <id>', 'consortium patient id')
      .requiredOption('--to <actor>', 'did:key:…, institution:ID, role:ROLE[@INSTITUTION] or type:INSTITUTION_TYPE')
      .requiredOption('--purpose <codes>', 'comma-separated purposes of use, e.g. TREAT,ETREAT')
      .option('--types <list>', 'resource types, e.g. Observation,Condition')
      .option('--categories <list>', 'categories, e.g. laboratory,vital-signs')
      .option('--records <list>', 'specific record ids')
      .option('--exclude <fields>', 'fields to withhold, e.g. Patient.address,Patient.telecom')
      .option('--until <date>', 'last day the consent is valid (YYYY-MM-DD)')
      .option('--deny', 'an explicit deny provision (beats any permit)'),
  ).action(async (opts: ActorOptions & Record<string, string | boolean | undefined>) => {
    try {
      const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
      const to = String(opts['to']);
      const actor = to.startsWith('did:key:')
        ? { kind: 'user', did: to }
        : to.startsWith('institution:')
          ? { kind: 'institution', id: to.slice(12) }
          : to.startsWith('role:')
            ? { kind: 'role', role: to.slice(5).split('@')[0], ...(to.includes('@') ? { institution: to.split('@')[1] } : {}) }
            : to.startsWith('type:')
              ? { kind: 'institution-type', type: to.slice(5) }
              : undefined;
      if (!actor) throw new CodedError('USAGE', '--to is did:key:…, institution:ID, role:ROLE[@INSTITUTION] or type:TYPE');
      const until = opts['until'] as string | undefined;
      if (until !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(until)) throw new CodedError('USAGE', '--until is YYYY-MM-DD');
      const scope = {
        ...(list(opts['types']) ? { resourceTypes: list(opts['types']) } : {}),
        ...(list(opts['categories']) ? { categories: list(opts['categories']) } : {}),
        ...(list(opts['records']) ? { records: list(opts['records']) } : {}),
      };
      const args = {
        patientId: opts['patient'],
        provision: opts['deny'] ? 'deny' : 'permit',
        actor,
        purposes: list(opts['purpose']),
        scope,
        ...(list(opts['exclude']) ? { excludeFields: list(opts['exclude']) } : {}),
        // Valid through the end of that day, China Standard Time.
        period: until ? { end: Date.parse(`${until}T23:59:59.999+08:00`) } : {},
      };
      print(await submitAs(opts, 'consent', 'grant', args));
    } catch (err) {
      fail(err);
    }
  });
  actorOptions(
    consent.command('revoke').description('revoke a consent').requiredOption('--patient <id>').requiredOption('--consent <id>', 'consent id (the granting tx id)'),
  ).action(async (opts: ActorOptions & { patient: string; consent: string }) => {
    try {
      print(await submitAs(opts, 'consent', 'revoke', { patientId: opts.patient, consent: opts.consent }));
    } catch (err) {
      fail(err);
    }
  });
  actorOptions(consent.command('list').description("a patient's consents as FHIR Consent resources").requiredOption('--patient <id>')).action(
    async (opts: ActorOptions & { patient: string }) => {
      try {
        print(await callSigned(opts.url, await actingIdentity(opts), 'GET', `/fhir/R4/Consent?patient=${opts.patient}`));
      } catch (err) {
        fail(err);
      }
    },
  );

  const access = program.command('access').description("the access log");
  actorOptions(
    access
      .command('log')
      .description("who accessed a patient's records, when, why, and the decision (for the patient, guardians, an auditor where the patient is registered)")
      .requiredOption('--patient <id>')
      .option('--fhir', 'as FHIR AuditEvent resources'),
  ).action(async (opts: ActorOptions & { patient: string; fhir?: boolean }) => {
    try {
      const path = opts.fhir ? `/fhir/R4/AuditEvent?patient=${opts.patient}` : `/v1/patients/${opts.patient}/access-log`;
      print(await callSigned(opts.url, await actingIdentity(opts), 'GET', path));
    } catch (err) {
      fail(err);
    }
  });
}

export async function submitAs(opts: ActorOptions, contract: string, method: string, args: unknown): Promise<unknown> {
  const identity = await actingIdentity(opts);
  const { chain } = (await callApi(opts.url, '/v1/status')) as { chain: string };
  return callApi(opts.url, '/v1/txs', { body: signTx({ chain, contract, method, args }, identity.did, new Ed25519Signer(identity.signing.seed)) });
}
