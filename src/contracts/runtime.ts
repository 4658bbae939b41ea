import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { canonicalJson } from '../crypto/index.js';
import type { ExecutionEnv, IndexSpec, Personality, RangeOptions, StateOverlay, StateReader, TxEnvelope, TxOutcome } from '../ledger/index.js';
import { ContractCodes, ContractError } from './errors.js';

/**
 * The contract runtime. A contract is a named set of write methods and read-only queries, each a function of a
 * narrow context and a schema-validated input. The context exposes state get/put/del/range/byIndex, the signer's
 * resolved identity and roles, the tx id, the block time and emit() — and nothing else: no clock, no randomness,
 * no I/O, so every peer computes the same result.
 */

/** The acting identity, resolved from the identity contract's key registry. */
export interface Signer {
  did: string;
  /** `proxy`: a guardian or proxy who is not themselves a patient or staff member; can act only for the patients who named them. */
  kind: 'admin' | 'staff' | 'node' | 'patient' | 'device' | 'proxy';
  /** Staff id, patient id, device id, or institution id (for admin and node keys). */
  subject: string;
  institution?: string;
  institutionType?: string;
  roles: readonly string[];
}

export interface ReadState {
  get<T = unknown>(key: string): T | undefined;
  range<T = unknown>(prefix: string, options?: RangeOptions): Array<{ key: string; value: T }>;
  byIndex<T = unknown>(index: string, term: string, options?: RangeOptions): Array<{ key: string; value: T }>;
}

export interface WriteState extends ReadState {
  put(key: string, value: unknown): void;
  del(key: string): void;
}

export interface ContractEvent {
  contract: string;
  type: string;
  data: unknown;
}

export interface TxContext {
  state: WriteState;
  signer: Signer;
  tx: { id: string };
  block: { height: number; time: number };
  emit(type: string, data: unknown): void;
}

export interface QueryContext {
  state: ReadState;
  /** The caller, when the query was made by an authenticated identity. */
  caller?: Signer;
  block: { height: number; time: number };
}

export interface MethodDef<S extends TSchema = TSchema> {
  input: S;
  /** The signer needs at least one of these roles (checked before `run`). Omit to let `run` decide. */
  roles?: readonly string[];
  /** Signer kinds allowed to call; defaults to every kind. */
  kinds?: readonly Signer['kind'][];
  description?: string;
  run(ctx: TxContext, input: Static<S>): unknown;
}

export interface QueryDef<S extends TSchema = TSchema> {
  input: S;
  description?: string;
  /**
   * Answers say something about a patient (their consents, access log, records' metadata). The open query API
   * refuses these; they are served through the signed records API, which checks who asks.
   */
  sensitive?: boolean;
  run(ctx: QueryContext, input: Static<S>): unknown;
}

export interface ContractDef {
  name: string;
  description?: string;
  methods: Record<string, MethodDef>;
  queries: Record<string, QueryDef>;
  indexes?: readonly IndexSpec[];
  /**
   * Key prefixes of this contract whose every past value the ledger's `history` table need not keep, because the
   * rows' history is recorded otherwise (write-once rows; rows whose every change is an anchored event).
   */
  historyExempt?: readonly string[];
  /**
   * Raised (from 1) when a change makes the contract write different state for the same txs, so that a database
   * written before is refused rather than replayed into different state hashes.
   */
  layoutVersion?: number;
  /** Writes this contract's part of the initial state. */
  genesis?(genesis: unknown, state: WriteState): void;
}

/** Preserves each method's input type for `run` while collecting them into one record. */
export function method<S extends TSchema>(def: MethodDef<S>): MethodDef {
  return def as unknown as MethodDef;
}

export function query<S extends TSchema>(def: QueryDef<S>): QueryDef {
  return def as unknown as QueryDef;
}

export type SignerResolver = (did: string, state: ReadState) => Signer;

export interface ContractRuntimeOptions {
  contracts: readonly ContractDef[];
  resolveSigner: SignerResolver;
  isProposer: (did: string, state: ReadState) => boolean;
}

function readStateOf(reader: StateReader): ReadState {
  return {
    get<T>(key: string): T | undefined {
      const raw = reader.getRaw(key);
      return raw === undefined ? undefined : (JSON.parse(raw) as T);
    },
    range<T>(prefix: string, options?: RangeOptions) {
      return reader.rangeRaw(prefix, options).map((e) => ({ key: e.key, value: JSON.parse(e.value) as T }));
    },
    byIndex<T>(index: string, term: string, options?: RangeOptions) {
      return reader.indexRaw(index, term, options).map((e) => ({ key: e.key, value: JSON.parse(e.value) as T }));
    },
  };
}

function writeStateOf(overlay: StateOverlay): WriteState {
  return {
    ...readStateOf(overlay),
    put(key: string, value: unknown) {
      let text: string;
      try {
        text = canonicalJson(value);
      } catch {
        throw new ContractError(ContractCodes.INVALID_ARGS, 'value is not representable as canonical JSON');
      }
      overlay.put(key, text);
    },
    del(key: string) {
      overlay.del(key);
    },
  };
}

interface CompiledMethod {
  def: MethodDef;
  check: TypeCheck<TSchema>;
}

export class ContractRuntime implements Personality {
  readonly indexes: readonly IndexSpec[];
  readonly historyExempt: readonly string[];
  /** `name@version` of each contract past its first layout, e.g. `drugs@2` ('' when none). */
  readonly stateLayout: string;
  readonly contracts: ReadonlyMap<string, ContractDef>;
  private readonly methods = new Map<string, CompiledMethod>();
  private readonly queries = new Map<string, { def: QueryDef; check: TypeCheck<TSchema> }>();
  /**
   * Signers resolved before, with the raw values the resolver read. Most txs come from a few hundred keys and
   * resolving one parses three records (measured: ~4 % of a node's main thread at peak); a memo is used only while
   * every value it was resolved from is unchanged, compared as raw text, so it answers exactly what resolving again
   * would.
   */
  private readonly signerMemo = new Map<string, { reads: Array<[key: string, raw: string | undefined]>; signer: Signer }>();
  private static readonly SIGNER_MEMO_LIMIT = 10_000;

  constructor(private readonly options: ContractRuntimeOptions) {
    this.contracts = new Map(options.contracts.map((c) => [c.name, c]));
    this.indexes = options.contracts.flatMap((c) => c.indexes ?? []);
    this.historyExempt = options.contracts.flatMap((c) => c.historyExempt ?? []);
    this.stateLayout = options.contracts
      .filter((c) => (c.layoutVersion ?? 1) > 1)
      .map((c) => `${c.name}@${c.layoutVersion}`)
      .sort()
      .join(',');
    for (const c of options.contracts) {
      for (const [name, def] of Object.entries(c.methods)) this.methods.set(`${c.name}.${name}`, { def, check: TypeCompiler.Compile(def.input) });
      for (const [name, def] of Object.entries(c.queries)) this.queries.set(`${c.name}.${name}`, { def, check: TypeCompiler.Compile(def.input) });
    }
  }

  private lookup(contract: string, methodName: string): CompiledMethod {
    if (!this.contracts.has(contract)) throw new ContractError(ContractCodes.UNKNOWN_CONTRACT, `no contract named ${contract}`);
    const m = this.methods.get(`${contract}.${methodName}`);
    if (!m) throw new ContractError(ContractCodes.UNKNOWN_METHOD, `contract ${contract} has no method ${methodName}`);
    return m;
  }

  admit(tx: TxEnvelope): void {
    validate(this.lookup(tx.contract, tx.method).check, tx.args);
  }

  execute(tx: TxEnvelope, env: ExecutionEnv): TxOutcome {
    const m = this.lookup(tx.contract, tx.method);
    validate(m.check, tx.args);
    const state = writeStateOf(env.state);
    const signer = this.signerOf(tx.signer, env.state);
    if (m.def.kinds && !m.def.kinds.includes(signer.kind)) {
      throw new ContractError(ContractCodes.FORBIDDEN, `${tx.contract}.${tx.method} may not be called by a ${signer.kind} key`);
    }
    if (m.def.roles && !m.def.roles.some((r) => signer.roles.includes(r))) {
      throw new ContractError(ContractCodes.FORBIDDEN, `${tx.contract}.${tx.method} needs one of the roles: ${m.def.roles.join(', ')}`);
    }
    const events: ContractEvent[] = [];
    const ctx: TxContext = {
      state,
      signer,
      tx: { id: env.txId },
      block: { height: env.height, time: env.time },
      emit: (type, data) => events.push({ contract: tx.contract, type, data }),
    };
    const result = m.def.run(ctx, tx.args as never);
    return { result, events };
  }

  applyGenesis(genesis: unknown, overlay: StateOverlay): void {
    const state = writeStateOf(overlay);
    for (const c of this.options.contracts) c.genesis?.(genesis, state);
  }

  isProposer(did: string, reader: StateReader): boolean {
    return this.options.isProposer(did, readStateOf(reader));
  }

  /** Runs a read-only query against committed state. `callerDid`, when given, is resolved like a signer. */
  query(
    contract: string,
    name: string,
    input: unknown,
    reader: StateReader,
    block: { height: number; time: number },
    callerDid?: string,
  ): unknown {
    if (!this.contracts.has(contract)) throw new ContractError(ContractCodes.UNKNOWN_CONTRACT, `no contract named ${contract}`);
    const q = this.queries.get(`${contract}.${name}`);
    if (!q) throw new ContractError(ContractCodes.UNKNOWN_METHOD, `contract ${contract} has no query ${name}`);
    validate(q.check, input);
    const state = readStateOf(reader);
    const caller = callerDid ? this.signerOf(callerDid, reader) : undefined;
    return q.def.run({ state, caller, block }, input as never);
  }

  /** `resolveSigner`, through the memo (see signerMemo). The returned signer is frozen: it may be shared. */
  private signerOf(did: string, reader: StateReader): Signer {
    const memo = this.signerMemo.get(did);
    if (memo && memo.reads.every(([key, raw]) => reader.getRaw(key) === raw)) return memo.signer;
    const reads: Array<[string, string | undefined]> = [];
    let memoizable = true;
    // The resolver reads through this, so the memo knows every raw value its answer depends on.
    const recording: StateReader = {
      getRaw(key) {
        const raw = reader.getRaw(key);
        reads.push([key, raw]);
        return raw;
      },
      // A resolver that scans cannot be checked key by key: not memoized.
      rangeRaw(prefix, options) {
        memoizable = false;
        return reader.rangeRaw(prefix, options);
      },
      indexRaw(index, term, options) {
        memoizable = false;
        return reader.indexRaw(index, term, options);
      },
    };
    const signer = this.options.resolveSigner(did, readStateOf(recording));
    Object.freeze(signer.roles);
    Object.freeze(signer);
    if (memoizable) {
      if (this.signerMemo.size >= ContractRuntime.SIGNER_MEMO_LIMIT) this.signerMemo.clear();
      this.signerMemo.set(did, { reads, signer });
    }
    return signer;
  }

  isSensitiveQuery(contract: string, name: string): boolean {
    return this.queries.get(`${contract}.${name}`)?.def.sensitive === true;
  }

  /** Method and query catalogue (for the API docs and the CLI). */
  describe(): Array<{ contract: string; name: string; kind: 'method' | 'query'; description?: string; input: TSchema; roles?: readonly string[] }> {
    const out: Array<{ contract: string; name: string; kind: 'method' | 'query'; description?: string; input: TSchema; roles?: readonly string[] }> = [];
    for (const c of this.options.contracts) {
      for (const [name, def] of Object.entries(c.methods)) out.push({ contract: c.name, name, kind: 'method', description: def.description, input: def.input, roles: def.roles });
      for (const [name, def] of Object.entries(c.queries)) out.push({ contract: c.name, name, kind: 'query', description: def.description, input: def.input });
    }
    return out;
  }
}

function validate(check: TypeCheck<TSchema>, input: unknown): void {
  if (check.Check(input)) return;
  const first = check.Errors(input).First();
  throw new ContractError(ContractCodes.INVALID_ARGS, `invalid input at ${first?.path || '/'}: ${first?.message ?? 'invalid'}`);
}
