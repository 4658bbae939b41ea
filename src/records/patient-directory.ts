import type { PurposeOfUse } from '../contracts/consent/index.js';
import type { UserRequest } from '../contracts/delegation.js';
import type { Institution, KeyRecord, Patient } from '../contracts/identity/model.js';
import type { RecordHead } from '../contracts/records/model.js';
import { CodedError } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import type { PatientResourceListener, RecordService } from './service.js';

/**
 * Clinicians find patients registered at their institution by (part of) a name or by consortium patient id.
 * Names exist only in the institution's vault (encrypted FHIR Patient resources), never on the ledger, so each
 * hosted institution gets an in-memory name index built from its own vault on the first search and kept in step
 * by the record service; nothing of it is written to disk.
 *
 * The index only *matches*. What a search returns comes from a normal record read of each matching Patient
 * resource: one access tx per patient (parts of the user's one signed request, marked `context: "search"`),
 * decided by consent and committed before anything is released — so the patient sees in their access log that
 * they were looked up, and a patient whose consents refuse the clinician is not returned at all (denied entries
 * are logged too). The search text never reaches the ledger: the request is a POST and only the hash of its body,
 * which must carry a random `salt`, is recorded with the user's signature.
 */

export const MAX_SEARCH_RESULTS = 50;

interface Entry {
  patientId: string;
  recordId: string;
  /** Normalized name variants (legal name, pinyin, family + given in both orders). */
  keys: string[];
}

export interface PatientMatch {
  patientId: string;
  /** Demographics from the consented, verified copy; absent when this institution holds none or consent withholds them. */
  name?: string;
  nameEn?: string;
  gender?: string;
  birthYear?: number;
  registeredHere: boolean;
  institutions: Array<{ id: string; name: string }>;
  /** The access tx that logged the read of the demographics. */
  access?: string;
}

export interface SearchInput {
  name?: string;
  patientId?: string;
  limit?: number;
  purpose?: PurposeOfUse;
}

/** NFKC, lower case, no spaces or punctuation between name parts. */
export function normalizeName(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\s·.,'-]+/gu, '');
}

interface HumanName {
  use?: string;
  text?: string;
  family?: string;
  given?: string[];
}

function nameKeys(resource: Record<string, unknown>): string[] {
  const names = (resource['name'] as HumanName[] | undefined) ?? [];
  const out = new Set<string>();
  for (const n of names) {
    const given = (n.given ?? []).join('');
    for (const v of [n.text, `${n.family ?? ''}${given}`, `${given}${n.family ?? ''}`]) if (v) out.add(normalizeName(v));
  }
  out.delete('');
  return [...out];
}

/** The legal (official or first) name and a Latin-script name, for display. */
function displayNames(resource: Record<string, unknown>): { name?: string; nameEn?: string } {
  const names = (resource['name'] as HumanName[] | undefined) ?? [];
  const text = (n: HumanName) => n.text ?? [n.family, ...(n.given ?? [])].filter(Boolean).join(' ');
  const latin = names.find((n) => /^[\p{Script=Latin}\s.'-]+$/u.test(text(n)));
  const legal = names.find((n) => n.use === 'official') ?? names.find((n) => n !== latin) ?? names[0];
  return { ...(legal ? { name: text(legal) } : {}), ...(latin && latin !== legal ? { nameEn: text(latin) } : {}) };
}

function apply(index: Map<string, Entry>, record: { id: string; patientId?: string }, resource: Record<string, unknown> | null): void {
  if (resource && record.patientId) index.set(record.patientId, { patientId: record.patientId, recordId: record.id, keys: nameKeys(resource) });
  else for (const [pid, e] of index) if (e.recordId === record.id) index.delete(pid);
}

export class PatientDirectory {
  /** institution → patient id → entry; an institution appears once its index is built. */
  private readonly indexes = new Map<string, Map<string, Entry>>();
  private readonly building = new Map<string, Promise<Map<string, Entry>>>();
  /** Changes that arrive while an index is being built, applied when it is ready. */
  private readonly queued = new Map<string, Array<Parameters<PatientResourceListener>>>();

  constructor(
    private readonly node: MedchainNode,
    private readonly records: RecordService,
  ) {
    records.onPatientResource((custodian, record, resource) => {
      const index = this.indexes.get(custodian);
      if (index) apply(index, record, resource);
      else if (this.building.has(custodian)) this.queued.get(custodian)?.push([custodian, record, resource]);
      // Otherwise nothing to do: the index is built from the vault on first use.
    });
  }

  private q<T>(contract: string, name: string, args: unknown): T {
    return this.node.query(contract, name, args) as T;
  }

  /** Builds (once) the name index of a hosted institution from the Patient resources in its own vault. */
  private index(institution: string): Promise<Map<string, Entry>> {
    const ready = this.indexes.get(institution);
    if (ready) return Promise.resolve(ready);
    let pending = this.building.get(institution);
    if (!pending) {
      this.queued.set(institution, []);
      pending = this.build(institution).finally(() => {
        this.building.delete(institution);
        this.queued.delete(institution);
      });
      this.building.set(institution, pending);
    }
    return pending;
  }

  private async build(institution: string): Promise<Map<string, Entry>> {
    const index = new Map<string, Entry>();
    let after: string | undefined;
    for (;;) {
      const page = this.q<Patient[]>('identity', 'patientsOf', { institution, limit: 1000, ...(after ? { after } : {}) });
      for (const p of page) {
        const heads = this.q<RecordHead[]>('records', 'ofPatient', { patientId: p.id });
        // The most recently registered Patient resource this institution holds for the person.
        const own = heads
          .filter((h) => h.resourceType === 'Patient' && h.custodian === institution && h.status !== 'erased')
          .sort((a, b) => a.registeredAt - b.registeredAt)
          .pop();
        if (!own) continue;
        const resource = await this.records.custodianCopy(institution, own.id);
        index.set(p.id, { patientId: p.id, recordId: own.id, keys: nameKeys(resource) });
      }
      if (page.length < 1000) break;
      after = `id/patient/${page[page.length - 1]!.id}`;
    }
    for (const [, record, resource] of this.queued.get(institution) ?? []) apply(index, record, resource);
    this.indexes.set(institution, index);
    return index;
  }

  /** Staff of `institution` (active, through their own institution's node) may search its patients. */
  private assertStaffOf(did: string, institution: string): void {
    let key: KeyRecord;
    try {
      key = this.q<KeyRecord>('identity', 'resolveKey', { did });
    } catch {
      throw new CodedError('UNKNOWN_SIGNER', 'the signing key is not registered in the consortium');
    }
    if (key.status !== 'active') throw new CodedError('SIGNER_REVOKED', 'the signing key has been revoked');
    if (key.kind !== 'staff' || key.institution !== institution) throw new CodedError('FORBIDDEN', `only staff of ${institution} search its patients`);
    if (!this.records.hostedInstitutions().includes(institution)) throw new CodedError('NOT_HOSTED', `this node does not hold the records of ${institution}`);
  }

  async search(user: UserRequest, institution: string, input: SearchInput): Promise<{ institution: string; results: PatientMatch[] }> {
    this.assertStaffOf(user.did, institution);
    const byName = input.name !== undefined ? normalizeName(input.name) : undefined;
    if ((byName === undefined || byName === '') && !input.patientId) throw new CodedError('INVALID_ARGS', 'give a name (or part of one) or a patient id');
    const limit = Math.min(input.limit ?? 20, MAX_SEARCH_RESULTS);
    const index = await this.index(institution);
    const matches = [...index.values()]
      .filter((e) => (!input.patientId || e.patientId === input.patientId) && (!byName || e.keys.some((k) => k.includes(byName))))
      .sort((a, b) => (a.patientId < b.patientId ? -1 : 1))
      .slice(0, limit);
    const names = new Map(this.q<Institution[]>('identity', 'institutions', {}).map((i) => [i.id, i.name]));
    const where = (pid: string) => {
      const p = this.q<Patient>('identity', 'patient', { patientId: pid });
      return p.registrations.map((r) => ({ id: r.institution, name: names.get(r.institution) ?? r.institution }));
    };
    const purpose = input.purpose ?? 'TREAT';
    const reads = await Promise.all(
      matches.map(async (m, part) => {
        const read = await this.records.read(user, m.patientId, [m.recordId], purpose, { part, context: 'search' });
        const copy = read.released[0];
        if (!copy) return undefined; // denied or erased: logged, not returned
        // A name search must not find a patient whose consent withholds the name.
        if (byName && copy.withheld.includes('Patient.name')) return undefined;
        const birthDate = copy.resource['birthDate'];
        const gender = copy.resource['gender'];
        const match: PatientMatch = {
          patientId: m.patientId,
          ...displayNames(copy.resource),
          ...(typeof gender === 'string' ? { gender } : {}),
          ...(typeof birthDate === 'string' ? { birthYear: Number(birthDate.slice(0, 4)) } : {}),
          registeredHere: true,
          institutions: where(m.patientId),
          access: read.access,
        };
        return match;
      }),
    );
    const results = reads.filter((r): r is PatientMatch => r !== undefined);
    // By id, a patient whose demographics this institution does not hold is still found: ledger data only, no read.
    if (input.patientId && !byName && results.length === 0 && !index.has(input.patientId)) {
      try {
        const institutions = where(input.patientId);
        results.push({ patientId: input.patientId, registeredHere: institutions.some((i) => i.id === institution), institutions });
      } catch (err) {
        if (!(err instanceof CodedError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    return { institution, results };
  }
}
