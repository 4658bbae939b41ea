import { gs1CheckDigit, sgtinEpc, ssccEpc } from '../gs1/codes.js';
import type { MedchainNode } from '../node/node.js';
import { demoHandle } from './consortium.js';
import type { DemoPerson } from './people.js';
import { DemoActor, type SeedProgress } from './seed.js';

/**
 * The demo supply chain: a maker's three products, their batches and packs (SGTIN + 20-digit code), cases,
 * shipments to the distributor and on to the pharmacy and the county hospital, a cold-chain excursion released
 * by a pharmacist, dispensing to demo patients against their prescriptions, a recall, and suspicious scans — a
 * diverted pack and a counterfeit code — reported to the regulator.
 */

const MAKER = 'huakang-pharma';
const DIST = 'jiuzhou-distribution';
const PHARMACY = 'kangning-pharmacy';
const HOSPITAL = 'qingshan-county-hospital';
export const DEMO_GLN: Record<string, string> = {
  [MAKER]: '6901234000009',
  [DIST]: '6901234000016',
  [PHARMACY]: '6901234000023',
  [HOSPITAL]: '6901234000030',
};
const gtin = (body: string) => `${body}${gs1CheckDigit(body)}`;
const sscc = (n: number) => {
  const body = `0690123400000${String(n).padStart(4, '0')}`;
  return `${body}${gs1CheckDigit(body)}`;
};

export const DEMO_PRODUCTS = [
  { gtin: gtin('0690123456001'), approvalNumber: '国药准字H20260001', name: '阿莫西林胶囊', nameEn: 'Amoxicillin capsules', dosageForm: '胶囊', strength: '0.25 g × 24 粒', cnPrefix: '8100001', storage: { minC: 2, maxC: 30 }, lot: 'AMX2605A', expires: '2028-04-30' },
  { gtin: gtin('0690123456002'), approvalNumber: '国药准字S20263001', name: '门冬胰岛素注射液', nameEn: 'Insulin aspart injection', dosageForm: '注射液', strength: '3 ml:300 U', cnPrefix: '8100002', storage: { minC: 2, maxC: 8 }, lot: 'INS2605B', expires: '2027-10-31' },
  { gtin: gtin('0690123456003'), approvalNumber: '国药准字H20260002', name: '苯磺酸氨氯地平片', nameEn: 'Amlodipine besylate tablets', dosageForm: '片剂', strength: '5 mg × 28 片', cnPrefix: '8100003', storage: { minC: 2, maxC: 30 }, lot: 'AML2604C', expires: '2028-03-31' },
] as const;

const PACKS_PER_BATCH = 120;

export interface DemoDrugStories {
  genuine: string;
  excursionReleased: string;
  recalled: string;
  diverted: string;
  counterfeit: string;
}

export async function seedDemoDrugs(node: MedchainNode, people: DemoPerson[], onProgress: SeedProgress = () => {}): Promise<DemoDrugStories> {
  const as = (inst: string, staff: string) => DemoActor.as(demoHandle.staff(inst, staff), node);
  const maker = as(MAKER, 'qa-lin-tao');
  const dist = as(DIST, 'log-he-peng');
  const pharmacy = as(PHARMACY, 'pharm-gao-ping');
  const hospital = as(HOSPITAL, 'pharm-sun-hui');
  for (const [inst, gln] of Object.entries(DEMO_GLN)) await DemoActor.as(demoHandle.admin(inst), node).call('drugs', 'registerLocation', { gln, name: inst });
  let t = Date.UTC(2026, 4, 6, 0, 0, 0);
  const when = () => new Date((t += 60_000) + 8 * 3600_000).toISOString().replace('Z', '+08:00').replace('.000', '');
  const event = (bizStep: string, epcList: string[], extra: Record<string, unknown> = {}) => ({
    type: 'ObjectEvent',
    eventTime: when(),
    eventTimeZoneOffset: '+08:00',
    action: 'OBSERVE',
    bizStep,
    epcList,
    ...extra,
  });
  const to = (inst: string) => ({ destinationList: [{ type: 'owning_party', destination: `https://id.gs1.org/417/${DEMO_GLN[inst]}` }] });
  const temps = (...values: number[]) => ({ sensorElementList: [{ sensorMetadata: { deviceID: 'urn:medchain:device:logger-07' }, sensorReport: values.map((value) => ({ type: 'gs1:Temperature', value, uom: 'CEL' })) }] });
  const packEpc = (p: (typeof DEMO_PRODUCTS)[number], i: number) => sgtinEpc(p.gtin, String(100_000 + i));

  let cases = 0;
  for (const [n, p] of DEMO_PRODUCTS.entries()) {
    const { lot, expires, ...product } = p;
    await maker.call('drugs', 'registerProduct', product);
    await maker.call('drugs', 'registerBatch', { gtin: p.gtin, lot, manufactured: '2026-04-20', expires });
    await maker.call('drugs', 'commission', { gtin: p.gtin, lot, serials: { first: 100_000, count: PACKS_PER_BATCH }, cnFirst: `${p.cnPrefix}${String(100_000).padStart(13, '0')}`, eventTime: when() });
    // Cases of 20 packs; six cases per batch.
    const batchCases: string[] = [];
    for (let c = 0; c < PACKS_PER_BATCH / 20; c++) {
      const code = ssccEpc(sscc(++cases));
      batchCases.push(code);
      await maker.call('drugs', 'capture', {
        event: { ...event('packing', []), type: 'AggregationEvent', action: 'ADD', epcList: undefined, parentID: code, childEPCs: Array.from({ length: 20 }, (_, k) => packEpc(p, c * 20 + k)) },
      });
    }
    await maker.call('drugs', 'capture', { event: event('shipping', batchCases, { ...to(DIST), ...temps(4.5, 5.2, 6.1) }) });
    await dist.call('drugs', 'capture', { event: event('receiving', batchCases, temps(5.0)) });
    // Half to the pharmacy, half to the hospital; the insulin van to the pharmacy ran warm.
    const warm = p.storage.maxC === 8;
    await dist.call('drugs', 'capture', { event: event('shipping', batchCases.slice(0, 3), { ...to(PHARMACY), ...(warm ? temps(6.0, 11.5, 12.3) : temps(18, 22)) }) });
    await pharmacy.call('drugs', 'capture', { event: event('receiving', batchCases.slice(0, 3)) });
    await dist.call('drugs', 'capture', { event: event('shipping', batchCases.slice(3), { ...to(HOSPITAL), ...(warm ? temps(4.0, 5.5) : temps(16, 20)) }) });
    await hospital.call('drugs', 'capture', { event: event('receiving', batchCases.slice(3)) });
    // Packs are unpacked at the pharmacy shelf before they are sold one by one.
    for (const c of batchCases.slice(0, 3)) await pharmacy.call('drugs', 'capture', { event: { ...event('unpacking', []), type: 'AggregationEvent', action: 'DELETE', epcList: undefined, parentID: c } });
    onProgress('drugs', n + 1, DEMO_PRODUCTS.length);
  }

  const [amoxicillin, insulin, amlodipine] = DEMO_PRODUCTS;
  // The warm insulin: the pharmacist checks the logger data and releases one pack with a documented reason.
  await pharmacy.call('drugs', 'release', { codes: [`sgtin:${insulin.gtin}.100000`], note: '温度记录仪显示超温 18 分钟，最高 12.3 °C，经质量评估仍可使用' });
  // Dispensing to demo patients against their prescriptions (MedicationRequest ids from the demo records).
  const dispense = (pack: string, person: DemoPerson) =>
    pharmacy.call('drugs', 'capture', { event: event('dispensing', [pack]), dispense: { patientId: person.patientId, prescription: `rx-${person.n}-0` } });
  await dispense(packEpc(amoxicillin, 0), people[0]!);
  await dispense(packEpc(insulin, 0), people[1]!);
  await dispense(packEpc(amlodipine, 1), people[2]!);
  // A recall of the amlodipine batch by its maker.
  await maker.call('drugs', 'recall', { gtin: amlodipine.gtin, lot: amlodipine.lot, reason: '稳定性考察含量下降，主动召回' });
  // A dispensed pack turns up again for sale (回流药), and a fake code is scanned: both reach the regulator.
  const diverted = `sgtin:${amoxicillin.gtin}.100000`;
  await node.drugs.verify(diverted);
  const counterfeit = `https://id.gs1.org/01/${amoxicillin.gtin}/21/999999`;
  await node.drugs.verify(counterfeit);
  return {
    genuine: `sgtin:${amoxicillin.gtin}.100030`,
    excursionReleased: `sgtin:${insulin.gtin}.100000`,
    recalled: `sgtin:${amlodipine.gtin}.100005`,
    diverted,
    counterfeit,
  };
}
