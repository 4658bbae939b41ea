import type { Command } from 'commander';
import { Ed25519Signer, readKeyFile } from '../../crypto/index.js';
import { CodedError, signTx } from '../../ledger/index.js';
import { callApi, fail, print } from '../output.js';
import { resolvePassphrase } from '../passphrase.js';

const DEFAULT_URL = process.env['MEDCHAIN_URL'] ?? 'http://127.0.0.1:8080';

function parseJson(text: string | undefined, what: string): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new CodedError('USAGE', `${what} is not valid JSON`);
  }
}

/** Commands that talk to a running node over its HTTP API. */
export function registerRemote(program: Command): void {
  program
    .command('status')
    .description('status of a running node')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (opts: { url: string }) => {
      try {
        print(await callApi(opts.url, '/v1/status'));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('block')
    .description('show a block (default: the head)')
    .argument('[height]')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (height: string | undefined, opts: { url: string }) => {
      try {
        const h = height ?? String(((await callApi(opts.url, '/v1/head')) as { height: number }).height);
        if (!/^\d+$/.test(h)) throw new CodedError('USAGE', 'height must be a non-negative integer');
        print(await callApi(opts.url, `/v1/blocks/${h}`));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('query')
    .description('run a read-only contract query, e.g. `medchain query identity institutions`')
    .argument('<contract>')
    .argument('<name>')
    .option('--args <json>', 'query input as JSON', '{}')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (contract: string, name: string, opts: { args: string; url: string }) => {
      try {
        print(await callApi(opts.url, `/v1/query/${contract}/${name}`, { body: { args: parseJson(opts.args, '--args') } }));
      } catch (err) {
        fail(err);
      }
    });

  const tx = program.command('tx').description('sign and submit transactions, or look one up');
  tx.command('submit')
    .description('sign a tx with a key file and submit it; waits for commit and prints the receipt')
    .requiredOption('--key <file>', 'key file of the acting person')
    .requiredOption('--contract <name>')
    .requiredOption('--method <name>')
    .option('--args <json>', 'method input as JSON', '{}')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .option('--passphrase-file <file>', 'file holding the passphrase (else MEDCHAIN_PASSPHRASE)')
    .action(async (opts: { key: string; contract: string; method: string; args: string; url: string; passphraseFile?: string }) => {
      try {
        const identity = await readKeyFile(opts.key, resolvePassphrase(opts));
        const { chain } = (await callApi(opts.url, '/v1/status')) as { chain: string };
        const signed = signTx(
          { chain, contract: opts.contract, method: opts.method, args: parseJson(opts.args, '--args') },
          identity.did,
          new Ed25519Signer(identity.signing.seed),
        );
        print(await callApi(opts.url, '/v1/txs', { body: signed }));
      } catch (err) {
        fail(err);
      }
    });
  tx.command('get')
    .description('show a committed tx with its result')
    .argument('<id>')
    .option('--proof', 'also fetch its Merkle inclusion proof')
    .option('--url <url>', 'node API', DEFAULT_URL)
    .action(async (id: string, opts: { url: string; proof?: boolean }) => {
      try {
        const out = (await callApi(opts.url, `/v1/txs/${id}`)) as Record<string, unknown>;
        if (opts.proof) out['proof'] = await callApi(opts.url, `/v1/txs/${id}/proof`);
        print(out);
      } catch (err) {
        fail(err);
      }
    });
}
