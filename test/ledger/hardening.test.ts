import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { copyLedger, verifyDb } from '../helpers/ledger-fixtures.js';
import { Actor, admin, LEAD, openTestNode } from '../helpers/test-node.js';

describe('admission against the local clock', () => {
  it('refuses a tx that becomes valid even a few seconds from now (it would only be recorded as invalid)', async () => {
    const { node, cleanup } = await openTestNode();
    try {
      const soon = admin(LEAD).tx('identity', 'revokeStaff', { staffId: 'nobody' }, { notBefore: Date.now() + 3_000 });
      await expect(node.submit(soon)).rejects.toMatchObject({ code: 'TX_NOT_YET_VALID' });
    } finally {
      await cleanup();
    }
  });
});

describe('verify checks checkpoints', () => {
  it('names the height of a checkpoint whose state hash or signature was altered', async () => {
    const { node, dir, cleanup } = await openTestNode({ checkpointInterval: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: `dr-${i}`, name: 'x', roles: ['doctor'], key: generateIdentity().did }));
      }
      const height = node.ledger.head().height - 1;
      await node.close();
      expect((await verifyDb(join(dir, 'ledger.db'))).ok).toBe(true);
      for (const sql of [
        `UPDATE checkpoints SET body = replace(body, '"stateHash":"', '"stateHash":"0') WHERE height = ${height}`,
        `UPDATE checkpoints SET body = replace(body, '"sig":"', '"sig":"A') WHERE height = ${height}`,
      ]) {
        const copy = copyLedger(join(dir, 'ledger.db'));
        const db = new Database(copy.dbPath);
        expect(db.prepare(sql).run().changes).toBe(1);
        db.close();
        const report = await verifyDb(copy.dbPath);
        copy.remove();
        expect(report).toMatchObject({ ok: false, firstBadHeight: height });
      }
    } finally {
      await cleanup();
    }
  });
});

describe('devices', () => {
  it('are bound only to patients registered at the same institution', async () => {
    const { node, cleanup } = await openTestNode();
    try {
      const nurseA = new Actor(generateIdentity());
      const nurseB = new Actor(generateIdentity());
      await node.submit(admin(LEAD).tx('identity', 'enrolStaff', { staffId: 'nurse-a', name: 'a', roles: ['nurse'], key: nurseA.did }));
      await node.submit(admin('baishi-health-centre').tx('identity', 'enrolStaff', { staffId: 'nurse-b', name: 'b', roles: ['nurse'], key: nurseB.did }));
      const patientId = 'PABCDEFGHIJKLMNOPQRSTUVWXYZ';
      expect((await node.submit(nurseA.tx('identity', 'registerPatient', { patientId }))).result.status).toBe('ok');
      const r = await node.submit(nurseB.tx('identity', 'registerDevice', { deviceId: 'meter-b', key: generateIdentity().did, kind: 'glucose-meter', patientId }));
      expect(r.result).toMatchObject({ status: 'error', code: 'FORBIDDEN' });
    } finally {
      await cleanup();
    }
  });
});

describe('the store schema version', () => {
  it('refuses a database written by an incompatible version, with a clear code', async () => {
    const { node, dir, cleanup } = await openTestNode();
    await node.close();
    const db = new Database(join(dir, 'ledger.db'));
    db.prepare("UPDATE meta SET v = '0' WHERE k = 'schemaVersion'").run();
    db.close();
    await expect(openTestNode({ dataDir: dir })).rejects.toMatchObject({ code: 'STORE_INCOMPATIBLE' });
    await cleanup();
  });
});
