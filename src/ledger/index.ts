export { CodedError, LedgerCodes, type LedgerCode } from './errors.js';
export { merkleRoot, inclusionProof, verifyInclusion, leafHash, nodeHash } from './merkle.js';
export {
  parseSignedTx,
  signTx,
  checkValidityWindow,
  txSigningMessage,
  SignedTxSchema,
  TxEnvelopeSchema,
  type SignedTx,
  type TxEnvelope,
  type ParsedTx,
  type TxDraft,
  type TxLimits,
} from './tx.js';
export {
  blockHash,
  signProposal,
  verifyProposalSignature,
  signCheckpoint,
  verifyCheckpoint,
  txRootOf,
  ZERO_HASH,
  type BlockHeader,
  type BlockProposal,
  type ProposalHeader,
  type Checkpoint,
} from './block.js';
export {
  StateOverlay,
  assertValidKey,
  type StateReader,
  type StateEntry,
  type IndexSpec,
  type RangeOptions,
} from './state.js';
export { SqliteStore, DEFAULT_CACHE_MIB, type Head, type StoredTx, type StateWrite, type BlockCommit } from './sqlite-store.js';
export {
  BlockExecutor,
  ProposalRejected,
  hashWrites,
  type Personality,
  type ExecutionEnv,
  type TxOutcome,
  type TxResult,
  type ExecutedBlock,
} from './executor.js';
export type { Sequencer, SequencerHost } from './sequencer.js';
export { SoloSequencer, type SoloSequencerOptions } from './solo-sequencer.js';
export {
  WorkerSignatureVerifier,
  InlineSignatureVerifier,
  type SignatureVerifier,
  type SignatureCheck,
} from './signature-pool.js';
export { Ledger, type LedgerOptions, type Receipt, type InclusionProof } from './ledger.js';
export { verifyLedger, type VerifyOptions, type VerifyReport } from './verify.js';
export { JetStreamSequencer, streamNameOf, blocksSubjectOf, forwardSubjectOf, subjectToken, type JetStreamSequencerOptions } from './jetstream-sequencer.js';
export { encodeProposal, decodeProposal } from './proposal-wire.js';
