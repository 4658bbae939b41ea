import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CodedError } from '../../ledger/index.js';
import { callApi, fail, print } from '../output.js';
import { actingIdentity, actorOptions, callSigned, submitAs, type ActorOptions } from './records.js';

/** Drug traceability from the command line: master data, bulk commissioning, EPCIS capture, verification, QR codes. */

const DEFAULT_URL = process.env['MEDCHAIN_URL'] ?? 'http://127.0.0.1:8080';

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CodedError('USAGE', `${path}: ${(err as Error).message}`);
  }
}

export function registerDrugs(program: Command): void {
  const drugs = program.command('drugs').description('drug traceability: products, batches, packs, EPCIS events, verification');

  actorOptions(drugs.command('product').description('register a product from a JSON file (gtin, approvalNumber, name, dosageForm, strength, storage {minC, maxC}, cnPrefix)').argument('<file>')).action(
    async (file: string, opts: ActorOptions) => {
      try {
        print(await submitAs(opts, 'drugs', 'registerProduct', readJsonFile(file)));
      } catch (err) {
        fail(err);
      }
    },
  );

  actorOptions(
    drugs
      .command('location')
      .description("register a GLN (trading partner or location) of the acting admin's institution, so EPCIS events can name it")
      .requiredOption('--gln <gln>', '13-digit GLN')
      .requiredOption('--name <name>'),
  ).action(async (opts: ActorOptions & { gln: string; name: string }) => {
    try {
      print(await submitAs(opts, 'drugs', 'registerLocation', { gln: opts.gln, name: opts.name }));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    drugs
      .command('recall')
      .description('recall a batch (its maker or the regulator): every current holder is notified, dispensing is refused')
      .requiredOption('--gtin <gtin>')
      .requiredOption('--lot <lot>')
      .requiredOption('--reason <text>'),
  ).action(async (opts: ActorOptions & { gtin: string; lot: string; reason: string }) => {
    try {
      print(await submitAs(opts, 'drugs', 'recall', { gtin: opts.gtin, lot: opts.lot, reason: opts.reason }));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    drugs
      .command('events')
      .description('query EPCIS events by code, business step, disposition, location or institution, and eventTime range')
      .option('--code <code>', 'a pack or case code in any form, or a 20-digit code')
      .option('--biz-step <step>')
      .option('--disposition <disposition>')
      .option('--location <id>')
      .option('--institution <id>')
      .option('--from <time>', 'ISO 8601, inclusive')
      .option('--to <time>', 'ISO 8601, exclusive')
      .option('--limit <n>'),
  ).action(async (opts: ActorOptions & Record<string, string | undefined>) => {
    try {
      const q = new URLSearchParams();
      const put = (name: string, value: string | undefined) => value !== undefined && q.set(name, value);
      put('code', opts['code']);
      put('bizStep', opts['bizStep']);
      put('disposition', opts['disposition']);
      put('location', opts['location']);
      put('institution', opts['institution']);
      put('GE_eventTime', opts['from']);
      put('LT_eventTime', opts['to']);
      put('limit', opts['limit']);
      print(await callSigned(opts.url, await actingIdentity(opts), 'GET', `/epcis/events?${q.toString()}`));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    drugs
      .command('batch')
      .description('register a batch')
      .requiredOption('--gtin <gtin>')
      .requiredOption('--lot <lot>')
      .requiredOption('--manufactured <date>', 'YYYY-MM-DD')
      .requiredOption('--expires <date>', 'YYYY-MM-DD'),
  ).action(async (opts: ActorOptions & { gtin: string; lot: string; manufactured: string; expires: string }) => {
    try {
      print(await submitAs(opts, 'drugs', 'registerBatch', { gtin: opts.gtin, lot: opts.lot, manufactured: opts.manufactured, expires: opts.expires }));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(
    drugs
      .command('commission')
      .description('commission packs of a batch in bulk: serials FIRST..FIRST+COUNT-1, up to 100,000 per request; optionally 20-digit codes from --cn-first')
      .requiredOption('--gtin <gtin>')
      .requiredOption('--lot <lot>')
      .requiredOption('--first <n>', 'first serial', (v) => Number.parseInt(v, 10))
      .requiredOption('--count <n>', 'how many packs', (v) => Number.parseInt(v, 10))
      .option('--cn-first <code>', 'first 20-digit traceability code (consecutive)'),
  ).action(async (opts: ActorOptions & { gtin: string; lot: string; first: number; count: number; cnFirst?: string }) => {
    try {
      if (!Number.isInteger(opts.first) || !Number.isInteger(opts.count)) throw new CodedError('USAGE', '--first and --count are integers');
      const eventTime = new Date(Date.now() + 8 * 3600_000).toISOString().replace(/\.\d+Z$/, '+08:00');
      print(await submitAs(opts, 'drugs', 'commission', { gtin: opts.gtin, lot: opts.lot, serials: { first: opts.first, count: opts.count }, ...(opts.cnFirst ? { cnFirst: opts.cnFirst } : {}), eventTime }));
    } catch (err) {
      fail(err);
    }
  });

  actorOptions(drugs.command('capture').description('capture an EPCIS 2.0 JSON-LD document from a file').argument('<file>')).action(async (file: string, opts: ActorOptions) => {
    try {
      const out = (await callSigned(opts.url, await actingIdentity(opts), 'POST', '/epcis/capture', readJsonFile(file))) as { failed: number };
      print(out);
      if (out.failed > 0) process.exit(1);
    } catch (err) {
      fail(err);
    }
  });

  drugs
    .command('verify')
    .description('verify a pack code (Digital Link, element string, EPC URN or 20-digit code): anyone may')
    .argument('<code>')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (code: string, opts: { url: string }) => {
      try {
        const v = (await callApi(opts.url, `/v1/drugs/verify?code=${encodeURIComponent(code)}`)) as { verdict: string };
        print(v);
        if (v.verdict === 'danger') process.exit(2);
      } catch (err) {
        fail(err);
      }
    });

  drugs
    .command('qr')
    .description("write a pack's QR code (its GS1 Digital Link) as SVG or PNG")
    .argument('<code>')
    .requiredOption('--out <file>', 'file to write (.svg or .png)')
    .option('--base <url>', 'resolver base URL printed in the code (default: the node)')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (code: string, opts: { out: string; base?: string; url: string }) => {
      try {
        const format = opts.out.endsWith('.png') ? 'png' : 'svg';
        const res = await fetch(new URL(`/v1/drugs/qr?code=${encodeURIComponent(code)}&format=${format}${opts.base ? `&base=${encodeURIComponent(opts.base)}` : ''}`, opts.url));
        if (!res.ok) {
          const body = (await res.json()) as { code?: string; message?: string };
          throw new CodedError(body.code ?? `HTTP_${res.status}`, body.message ?? 'QR failed');
        }
        writeFileSync(opts.out, Buffer.from(await res.arrayBuffer()));
        print({ written: opts.out, format });
      } catch (err) {
        fail(err);
      }
    });
}
