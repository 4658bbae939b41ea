import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { generateIdentity, readKeyFile, writeKeyFile, type KeyFile } from '../../crypto/index.js';
import { fail, print } from '../output.js';
import { resolvePassphrase } from '../passphrase.js';

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create and inspect key files (Ed25519 signing + X25519 agreement, encrypted at rest)');
  keys
    .command('generate')
    .description('generate a new identity and write it encrypted with the passphrase')
    .requiredOption('--out <file>', 'key file to write')
    .option('--label <label>', 'a human label stored with the key')
    .option('--passphrase-file <file>', 'file holding the passphrase (else MEDCHAIN_PASSPHRASE)')
    .action(async (opts: { out: string; label?: string; passphraseFile?: string }) => {
      try {
        const identity = generateIdentity(opts.label);
        await writeKeyFile(opts.out, identity, resolvePassphrase(opts));
        print({ did: identity.did, file: opts.out });
      } catch (err) {
        fail(err);
      }
    });
  keys
    .command('show')
    .description('print the public part of a key file (no passphrase needed; --check to unlock it)')
    .argument('<file>')
    .option('--check', 'decrypt with the passphrase to prove it is right')
    .option('--passphrase-file <file>', 'file holding the passphrase (else MEDCHAIN_PASSPHRASE)')
    .action(async (file: string, opts: { check?: boolean; passphraseFile?: string }) => {
      try {
        const kf = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
        if (opts.check) await readKeyFile(file, resolvePassphrase(opts));
        print({ did: kf.did, label: kf.label, agreementPublicKey: kf.agreementPublicKey, kdf: kf.kdf.name, cipher: kf.cipher.name, unlocked: !!opts.check });
      } catch (err) {
        fail(err);
      }
    });
}
