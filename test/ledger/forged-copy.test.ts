import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/index.js';
import { parseSignedTx } from '../../src/ledger/index.js';
import { admin, LEAD } from '../helpers/test-node.js';
import { buildProposal, GENESIS_TIME, genesisLedger, LIMITS, signaturesOf } from '../helpers/ledger-fixtures.js';

/**
 * The tx id covers the envelope, not the signature. A proposer that slips in a copy with a forged signature must
 * not be able to burn the genuine tx's id: the forgery is recorded as TX_BAD_SIGNATURE and occupies nothing.
 */
describe('a forged copy of a tx', () => {
  const genuineTx = () =>
    admin(LEAD).tx(
      'identity',
      'enrolStaff',
      { staffId: 'dr-genuine', name: '真', roles: ['doctor'], key: generateIdentity().did },
      { notBefore: GENESIS_TIME, notAfter: GENESIS_TIME + 3_600_000 },
    );

  it('does not make the genuine tx a duplicate, in a later block or in the same block', async () => {
    const { store, executor, head } = genesisLedger();
    const signed = genuineTx();
    const sig = Buffer.from(signed.sig, 'base64url');
    sig[0]! ^= 1;
    const forged = parseSignedTx({ ...signed, sig: sig.toString('base64url') }, LIMITS);
    const genuine = parseSignedTx(signed, LIMITS);
    expect(forged.id).toBe(genuine.id);

    const p1 = buildProposal(head(), [forged, genuine]);
    const b1 = executor.execute(p1, head(), await signaturesOf(p1.txs));
    expect(b1.results.map((r) => (r.status === 'ok' ? 'ok' : r.code))).toEqual(['TX_BAD_SIGNATURE', 'ok']);
    store.commitBlock(b1);
    expect(store.hasTx(genuine.id)).toBe(true);
    expect(store.getTx(genuine.id)).toMatchObject({ index: 1, sigOk: true });

    // Once the genuine tx is in, it is a duplicate for real.
    const p2 = buildProposal(head(), [genuine]);
    expect(executor.execute(p2, head(), await signaturesOf(p2.txs)).results[0]).toMatchObject({ code: 'TX_DUPLICATE' });
  });

  it('committed alone, leaves the id free for the genuine tx', async () => {
    const { store, executor, head } = genesisLedger();
    const signed = genuineTx();
    // A real signature, but over another message.
    const otherSig = admin(LEAD).tx('identity', 'revokeStaff', { staffId: 'someone' }).sig;
    const forged = parseSignedTx({ ...signed, sig: otherSig }, LIMITS);
    const p1 = buildProposal(head(), [forged]);
    const b1 = executor.execute(p1, head(), await signaturesOf(p1.txs));
    expect(b1.results[0]).toMatchObject({ code: 'TX_BAD_SIGNATURE' });
    store.commitBlock(b1);
    expect(store.hasTx(forged.id)).toBe(false);
    const p2 = buildProposal(head(), [parseSignedTx(signed, LIMITS)]);
    expect(executor.execute(p2, head(), await signaturesOf(p2.txs)).results[0]).toMatchObject({ status: 'ok' });
  });
});
