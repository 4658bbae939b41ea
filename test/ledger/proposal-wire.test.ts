import { describe, expect, it } from 'vitest';
import { Ed25519Signer } from '../../src/crypto/index.js';
import { decodeProposal, encodeProposal, parseSignedTx, signProposal, txRootOf, type BlockProposal, type ParsedTx, type ProposalHeader } from '../../src/ledger/index.js';
import { newPatientTx } from '../helpers/nats.js';
import { CHAIN, LEAD_NODE, LIMITS } from '../helpers/ledger-fixtures.js';

function proposalOf(txs: ParsedTx[]): BlockProposal {
  const header: ProposalHeader = { chain: CHAIN, slot: 7, time: 1_800_000_000_000, proposer: LEAD_NODE.did, txRoot: txRootOf(txs.map((t) => t.id)), txCount: txs.length };
  return { header, proposerSig: signProposal(header, new Ed25519Signer(LEAD_NODE.signing.seed)), txs };
}

describe('proposal wire form', () => {
  it('decodes what it encodes, tx for tx', () => {
    const txs = [parseSignedTx(newPatientTx(), LIMITS), parseSignedTx(newPatientTx(), LIMITS)];
    const decoded = decodeProposal(encodeProposal(proposalOf(txs)), LIMITS);
    expect(decoded.header).toEqual(proposalOf(txs).header);
    expect(decoded.txs.map((t) => t.id)).toEqual(txs.map((t) => t.id));
    expect(decoded.txs.map((t) => t.storedBytes.toString())).toEqual(txs.map((t) => t.storedBytes.toString()));
  });

  it('takes a tx this peer knows (by signature) instead of parsing it again, only when its envelope is byte for byte the same', () => {
    const mine = parseSignedTx(newPatientTx(), LIMITS);
    const other = parseSignedTx(newPatientTx(), LIMITS);
    const known = (sig: string) => (sig === mine.signed.sig ? mine : undefined);
    const decoded = decodeProposal(encodeProposal(proposalOf([other, mine])), LIMITS, known);
    expect(decoded.txs[1]).toBe(mine); // the same object: not parsed again
    expect(decoded.txs[0]).not.toBe(other);
    expect(decoded.txs[0]!.id).toBe(other.id);

    // A proposer that pairs our signature with another envelope: parsed as it is (its id is another tx's), never
    // mistaken for ours.
    const tampered = JSON.parse(encodeProposal(proposalOf([mine])).toString()) as { txs: Array<{ tx: { args: { patientId: string } } }> };
    tampered.txs[0]!.tx.args.patientId = 'PTAMPERED000000000000000000';
    const decodedTampered = decodeProposal(Buffer.from(JSON.stringify(tampered)), LIMITS, known);
    expect(decodedTampered.txs[0]).not.toBe(mine);
    expect(decodedTampered.txs[0]!.id).not.toBe(mine.id);
    expect(decodedTampered.txs[0]!.signed.sig).toBe(mine.signed.sig);
  });
});
