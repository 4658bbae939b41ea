export { IntegrityError } from './errors.js';
export { wrapKey, unwrapKey, rewrapKey, type WrappedKey } from './key-wrap.js';
export {
  EncryptStream,
  DecryptStream,
  encryptFile,
  decryptFile,
  encryptBuffer,
  decryptBuffer,
  DEFAULT_CHUNK_SIZE,
} from './stream-cipher.js';
export { VaultStore, type VaultRecord, type KeyHolder } from './vault-store.js';
