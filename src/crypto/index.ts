export { canonicalJson, canonicalBytes } from './canonical-json.js';
export { sha256, sha256Hex, hmacSha256 } from './hash.js';
export { toHex, fromHex, toBase64Url, fromBase64Url } from './encoding.js';
export {
  Ed25519Signer,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  generateEd25519,
  type Ed25519KeyPair,
} from './ed25519.js';
export { generateX25519, x25519FromPrivate, x25519SharedSecret, type X25519KeyPair } from './x25519.js';
export { didKeyFromPublicKey, publicKeyFromDidKey, ed25519KeyOfDid, type DidKeyType } from './did-key.js';
export {
  generateIdentity,
  identityFromSecrets,
  encryptIdentity,
  decryptIdentity,
  writeKeyFile,
  readKeyFile,
  KeyFileError,
  type Identity,
  type KeyFile,
} from './key-file.js';
