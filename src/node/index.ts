export { createNode, LEDGER_FILE, type MedchainNode, type NodeConfig, type NodeStatus, type SequencerConfig, type NatsTls } from './node.js';
export { patientIdFor, normalizeNationalId, residentIdChecksumOk } from './patient-id.js';
export {
  DEFAULT_SETTINGS,
  isInitialized,
  readGenesis,
  readNodeIdentity,
  readSettings,
  sharedCoreWorkers,
  writeDataDir,
  type NodeSettings,
} from './data-dir.js';
