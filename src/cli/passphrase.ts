import { readFileSync } from 'node:fs';
import { DEMO_PASSPHRASE } from '../demo/index.js';
import { CodedError } from '../ledger/index.js';

/**
 * Where a key file's passphrase comes from, in order: --passphrase-file, the MEDCHAIN_PASSPHRASE environment
 * variable, or — for demo data directories only — the documented demo passphrase. Never a command-line argument
 * (it would show in `ps`).
 */
export function resolvePassphrase(options: { passphraseFile?: string }, demo = false): string {
  if (options.passphraseFile) {
    return readFileSync(options.passphraseFile, 'utf8').replace(/\r?\n$/, '');
  }
  const env = process.env['MEDCHAIN_PASSPHRASE'];
  if (env) return env;
  if (demo) return DEMO_PASSPHRASE;
  throw new CodedError('PASSPHRASE_REQUIRED', 'set MEDCHAIN_PASSPHRASE or pass --passphrase-file to unlock the key file');
}
