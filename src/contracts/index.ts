import { ContractRuntime, type ContractDef } from './runtime.js';
import { identityContract, isProposer, resolveSigner } from './identity/index.js';
import { consentContract } from './consent/index.js';
import { accessContract } from './access/index.js';
import { recordsContract } from './records/index.js';
import { drugsContract } from './drugs/index.js';

export { ContractError, ContractCodes, type ContractCode } from './errors.js';
export {
  ContractRuntime,
  method,
  query,
  type ContractDef,
  type MethodDef,
  type QueryDef,
  type TxContext,
  type QueryContext,
  type Signer,
  type ReadState,
  type WriteState,
  type ContractEvent,
} from './runtime.js';
export * as identity from './identity/index.js';
export * as consent from './consent/index.js';
export * as access from './access/index.js';
export * as records from './records/index.js';
export * as drugs from './drugs/index.js';
export { actingUser, userRequestMessage, UserRequest, USER_REQUEST_WINDOW_MS } from './delegation.js';

/** Every contract of the platform, in a fixed order (genesis sections are applied in this order). */
export const ALL_CONTRACTS: readonly ContractDef[] = [identityContract, consentContract, recordsContract, accessContract, drugsContract];

export function createContractRuntime(contracts: readonly ContractDef[] = ALL_CONTRACTS): ContractRuntime {
  return new ContractRuntime({ contracts, resolveSigner, isProposer });
}
