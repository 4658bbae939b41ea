// The key file's JSON shape, importing nothing: the web app (web/src/lib/identity.ts) reads the same files.

/**
 * Key file format v1: the two 32-byte private keys, encrypted with AES-256-GCM under a key derived from the
 * passphrase by scrypt. Public parts stay readable so a file can be identified without the passphrase;
 * they are bound to the ciphertext as GCM associated data, so swapping them is detected.
 */
export interface KeyFile {
  format: 'medchain-key';
  version: 1;
  did: string;
  label?: string;
  agreementPublicKey: string;
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
  cipher: { name: 'aes-256-gcm'; iv: string; tag: string };
  ciphertext: string;
}
