import { expect } from 'vitest';
import { generateIdentity, type Identity } from '../../src/crypto/index.js';
import { gs1CheckDigit, sgtinEpc } from '../../src/gs1/codes.js';
import type { MedchainNode } from '../../src/node/index.js';
import { Actor, admin } from './test-node.js';

/** A demo-consortium supply chain for drug tests: maker, distributor, pharmacy, regulator, one product and batch. */

export const MAKER = 'huakang-pharma';
export const DIST = 'jiuzhou-distribution';
export const PHARMACY = 'kangning-pharmacy';
export const GLN: Record<string, string> = { [MAKER]: '6901234000009', [DIST]: '6901234000016', [PHARMACY]: '6901234000023' };
export const withCheck = (body: string) => `${body}${gs1CheckDigit(body)}`;
export const INSULIN = withCheck('0690123456001');
export const LOT = 'B2026001';
export const CASE = withCheck('06901234000000001');
/** A patient registered at the pharmacy (dispensing names a consortium patient). */
export const PATIENT = 'PQRSTUVWXYZ234567ABCDEFGHIJ';
/** Another patient of the pharmacy. */
export const OTHER_PATIENT = 'PABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** Records the pharmacy registered (metadata only): PATIENT's prescription, OTHER_PATIENT's, and PATIENT's lab result. */
export const PRESCRIPTION = 'rx-drugs-1';
export const OTHER_PRESCRIPTION = 'rx-drugs-2';
export const NOT_A_PRESCRIPTION = 'obs-drugs-1';

export interface DrugChain {
  people: Record<'maker' | 'dist' | 'pharmacist' | 'regulator', Identity>;
  actors: Record<'maker' | 'dist' | 'pharmacist' | 'regulator', Actor>;
}

let eventSeq = 0;
/** A distinct EPCIS ObjectEvent each call (the time differs), so hash ids differ. */
export function epcisEvent(bizStep: string, epcList: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  eventSeq++;
  return {
    type: 'ObjectEvent',
    eventTime: `2026-06-01T${String(8 + Math.floor(eventSeq / 3600)).padStart(2, '0')}:${String(Math.floor(eventSeq / 60) % 60).padStart(2, '0')}:${String(eventSeq % 60).padStart(2, '0')}+08:00`,
    eventTimeZoneOffset: '+08:00',
    action: 'OBSERVE',
    bizStep,
    epcList,
    ...extra,
  };
}
export const pack = (serial: number) => sgtinEpc(INSULIN, String(serial));
export const shipTo = (inst: string) => ({ destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${GLN[inst]}` }] });
export const temperatures = (...values: number[]) => ({ sensorElementList: [{ sensorReport: values.map((value) => ({ type: 'Temperature', value, uom: 'CEL' })) }] });

export async function setupDrugChain(node: MedchainNode, commissionCount = 50): Promise<DrugChain> {
  const people = { maker: generateIdentity(), dist: generateIdentity(), pharmacist: generateIdentity(), regulator: generateIdentity() };
  const enrol = async (inst: string, id: string, roles: string[], did: string) =>
    expect((await node.submit(admin(inst).tx('identity', 'enrolStaff', { staffId: id, name: id, roles, key: did }))).result).toMatchObject({ status: 'ok' });
  await enrol(MAKER, 'qa', ['logistics'], people.maker.did);
  await enrol(DIST, 'log', ['logistics'], people.dist.did);
  await enrol(PHARMACY, 'ph', ['pharmacist'], people.pharmacist.did);
  await enrol('qingshan-health-commission', 'reg', ['regulator'], people.regulator.did);
  const actors = { maker: new Actor(people.maker), dist: new Actor(people.dist), pharmacist: new Actor(people.pharmacist), regulator: new Actor(people.regulator) };
  const ok = async (actor: Actor, method: string, args: unknown) => expect((await node.submit(actor.tx('drugs', method, args))).result).toMatchObject({ status: 'ok' });
  for (const inst of [MAKER, DIST, PHARMACY]) await ok(admin(inst), 'registerLocation', { gln: GLN[inst], name: inst });
  for (const patientId of [PATIENT, OTHER_PATIENT]) {
    expect((await node.submit(admin(PHARMACY).tx('identity', 'registerPatient', { patientId }))).result).toMatchObject({ status: 'ok' });
  }
  // Dispensing fills a prescription: the records contract's metadata rows are what the drugs contract checks.
  const register = async (id: string, patientId: string, resourceType: string) =>
    expect((await node.submit(actors.pharmacist.tx('records', 'register', { record: { id, patientId, resourceType, codes: [], ciphertextSha256: 'a'.repeat(64), fieldRoot: 'b'.repeat(64), bytes: 100 } }))).result).toMatchObject({ status: 'ok' });
  await register(PRESCRIPTION, PATIENT, 'MedicationRequest');
  await register(OTHER_PRESCRIPTION, OTHER_PATIENT, 'MedicationRequest');
  await register(NOT_A_PRESCRIPTION, PATIENT, 'Observation');
  await ok(actors.maker, 'registerProduct', {
    gtin: INSULIN,
    approvalNumber: '国药准字S20263001',
    name: '门冬胰岛素注射液',
    nameEn: 'Insulin aspart injection',
    dosageForm: '注射液',
    strength: '3 ml:300 U',
    cnPrefix: '8123456',
    storage: { minC: 2, maxC: 8 },
  });
  await ok(actors.maker, 'registerBatch', { gtin: INSULIN, lot: LOT, manufactured: '2026-05-01', expires: '2028-04-30' });
  await ok(actors.maker, 'commission', { gtin: INSULIN, lot: LOT, serials: { first: 1000, count: commissionCount }, cnFirst: '81234560000000001000', eventTime: '2026-05-02T08:00:00+08:00' });
  return { people, actors };
}
