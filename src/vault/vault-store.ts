import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, closeSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { CodedError } from '../ledger/errors.js';
import { IntegrityError } from './errors.js';
import { rewrapKey, unwrapKey, wrapKey, type WrappedKey } from './key-wrap.js';
import { DecryptStream, EncryptStream } from './stream-cipher.js';

/**
 * One institution's encrypted record store. Ciphertext lives in files (`objects/{id}.enc`), metadata and the
 * per-recipient wrapped data keys in `vault.db`. The data key itself is never stored: only its wraps. Erasure is
 * crypto-shredding — the wraps and the ciphertext are deleted and a tombstone row remains — so nobody, the
 * custodian included, can decrypt the record afterwards.
 */

export interface VaultRecord {
  id: string;
  /** Hex SHA-256 of the ciphertext file (what the ledger anchors). */
  sha256: string;
  ciphertextBytes: number;
  plaintextBytes: number;
  createdAt: number;
  erasedAt?: number;
  erasureReason?: string;
}

export interface KeyHolder {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const RECORD_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, ciphertext_bytes INTEGER NOT NULL, plaintext_bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL, erased_at INTEGER, erasure_reason TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wraps (
  record_id TEXT NOT NULL, recipient TEXT NOT NULL, wrapped TEXT NOT NULL, PRIMARY KEY (record_id, recipient)) WITHOUT ROWID;
`;

function context(id: string): string {
  return `record:${id}`;
}

export class VaultStore {
  private readonly db: Database.Database;
  private readonly objects: string;

  constructor(
    dir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.objects = join(dir, 'objects');
    mkdirSync(this.objects, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, 'vault.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private path(id: string): string {
    return join(this.objects, `${id}.enc`);
  }

  /**
   * Encrypts `content` under a fresh data key, wraps the key for every recipient public key (custodian, patient...),
   * and stores it. The file is fsynced and renamed into place before the metadata commits.
   */
  async put(id: string, content: Uint8Array | Readable, recipients: Uint8Array[]): Promise<VaultRecord> {
    if (!RECORD_ID.test(id)) throw new CodedError('INVALID_ARGS', 'record ids are 1-128 letters, digits, dots, dashes or underscores');
    if (recipients.length === 0) throw new CodedError('INVALID_ARGS', 'a record needs at least one recipient');
    if (this.get(id)) throw new CodedError('ALREADY_EXISTS', `record ${id} is already in the vault`);
    const dataKey = randomBytes(32);
    const tmp = `${this.path(id)}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const enc = new EncryptStream(dataKey);
      const source = content instanceof Readable ? content : Readable.from([Buffer.from(content)]);
      await pipeline(source, enc, createWriteStream(tmp, { mode: 0o600 }));
      const fd = openSync(tmp, 'r');
      fsyncSync(fd);
      closeSync(fd);
      const record: VaultRecord = {
        id,
        sha256: enc.sha256(),
        ciphertextBytes: enc.ciphertextBytes,
        plaintextBytes: enc.plaintextBytes,
        createdAt: this.now(),
      };
      const wraps = recipients.map((pub) => wrapKey(dataKey, pub, context(id)));
      renameSync(tmp, this.path(id));
      this.db.transaction(() => {
        this.db
          .prepare('INSERT INTO records (id, sha256, ciphertext_bytes, plaintext_bytes, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(id, record.sha256, record.ciphertextBytes, record.plaintextBytes, record.createdAt);
        for (const w of wraps) this.db.prepare('INSERT INTO wraps (record_id, recipient, wrapped) VALUES (?, ?, ?)').run(id, w.recipient, JSON.stringify(w));
      })();
      return record;
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    } finally {
      dataKey.fill(0);
    }
  }

  get(id: string): VaultRecord | undefined {
    const row = this.db.prepare('SELECT * FROM records WHERE id = ?').get(id) as
      | { id: string; sha256: string; ciphertext_bytes: number; plaintext_bytes: number; created_at: number; erased_at: number | null; erasure_reason: string | null }
      | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      sha256: row.sha256,
      ciphertextBytes: row.ciphertext_bytes,
      plaintextBytes: row.plaintext_bytes,
      createdAt: row.created_at,
      ...(row.erased_at !== null ? { erasedAt: row.erased_at, erasureReason: row.erasure_reason ?? '' } : {}),
    };
  }

  private live(id: string): VaultRecord {
    const record = this.get(id);
    if (!record) throw new CodedError('NOT_FOUND', `no record ${id} in this vault`);
    if (record.erasedAt !== undefined) throw new CodedError('GONE', `record ${id} was erased`);
    return record;
  }

  private wrapFor(id: string, holder: KeyHolder): WrappedKey {
    const row = this.db.prepare('SELECT wrapped FROM wraps WHERE record_id = ? AND recipient = ?').get(id, Buffer.from(holder.publicKey).toString('base64url')) as
      | { wrapped: string }
      | undefined;
    if (!row) throw new CodedError('FORBIDDEN', `record ${id} is not wrapped for this key`);
    return JSON.parse(row.wrapped) as WrappedKey;
  }

  /** Hashes the stored ciphertext and compares it with the recorded hash (and, if given, the ledger's). */
  async checkIntegrity(id: string, expectedSha256?: string): Promise<void> {
    const record = this.live(id);
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(this.path(id))) hash.update(chunk as Buffer);
    const actual = hash.digest('hex');
    if (actual !== record.sha256 || (expectedSha256 !== undefined && actual !== expectedSha256)) {
      throw new IntegrityError(`stored ciphertext of ${id} does not match its recorded hash`);
    }
  }

  /**
   * Decrypts a record for a key holder as a stream. The ciphertext hash is checked first, and every chunk is
   * authenticated as it is read: a changed file fails with INTEGRITY_ERROR, never with wrong plaintext.
   */
  async open(id: string, holder: KeyHolder, expectedSha256?: string): Promise<Readable> {
    this.live(id);
    const dataKey = unwrapKey(this.wrapFor(id, holder), holder.privateKey, holder.publicKey, context(id));
    await this.checkIntegrity(id, expectedSha256);
    const dec = new DecryptStream(dataKey);
    dataKey.fill(0);
    return createReadStream(this.path(id)).pipe(dec);
  }

  async read(id: string, holder: KeyHolder, expectedSha256?: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of await this.open(id, holder, expectedSha256)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  /** A holder of the record's key (normally the custodian) wraps it for another public key. */
  grant(id: string, holder: KeyHolder, recipientPublicKey: Uint8Array): WrappedKey {
    this.live(id);
    const wrapped = rewrapKey(this.wrapFor(id, holder), holder, recipientPublicKey, context(id));
    this.db.prepare('INSERT OR REPLACE INTO wraps (record_id, recipient, wrapped) VALUES (?, ?, ?)').run(id, wrapped.recipient, JSON.stringify(wrapped));
    return wrapped;
  }

  /** Crypto-shredding: deletes every wrap and the ciphertext, and leaves a tombstone. */
  erase(id: string, reason: string): VaultRecord {
    this.live(id);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM wraps WHERE record_id = ?').run(id);
      this.db.prepare('UPDATE records SET erased_at = ?, erasure_reason = ? WHERE id = ?').run(this.now(), reason, id);
    })();
    rmSync(this.path(id), { force: true });
    return this.get(id)!;
  }

  /**
   * Removes an object that was never anchored on the ledger (its register tx was refused), leaving no tombstone:
   * as far as the consortium knows it never existed.
   */
  discard(id: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM wraps WHERE record_id = ?').run(id);
      this.db.prepare('DELETE FROM records WHERE id = ?').run(id);
    })();
    rmSync(this.path(id), { force: true });
  }

  /** Ids of objects whose ciphertext is still held (for reconciling with tombstones on the ledger). */
  liveIds(): string[] {
    return (this.db.prepare('SELECT id FROM records WHERE erased_at IS NULL ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  }

  hasCiphertext(id: string): boolean {
    return existsSync(this.path(id));
  }
}
