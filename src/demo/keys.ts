import { identityFromSecrets, sha256, type Identity } from '../crypto/index.js';

/**
 * Demo identities are derived from their handle, so the demo node can act as any demo person (the web UI's
 * "sign in as") without storing dozens of key files. Never use this for real people: anyone who knows the
 * handle knows the key.
 */
export function demoIdentity(handle: string): Identity {
  return identityFromSecrets(sha256('medchain-demo/v1/sign/', handle), sha256('medchain-demo/v1/agree/', handle), handle);
}

/** The demo consortium's patient-id secret (real consortia generate 32 random bytes and share them off-ledger). */
export const DEMO_PATIENT_ID_SECRET = sha256('medchain-demo/v1/patient-id-secret');
export const DEMO_PASSPHRASE = 'medchain-demo';
