import { makeUserRequest } from '../api/user-auth.js';
import type { Identity } from '../crypto/index.js';
import type { MedchainNode } from '../node/node.js';
import { demoHandle } from './consortium.js';
import { demoIdentity } from './keys.js';
import type { DemoPerson } from './people.js';

/**
 * Demo stories for the regulator dashboard and the clinicians' access requests: a county-hospital nurse who opens
 * the registration records of many patients in one day (over the distinct-patients threshold), a pharmacist whose
 * repeated attempts on patients' records are denied (a denial burst), and access requests — one pending with a
 * message, one approved (a consent follows), one declined.
 */

export interface DemoOversightStories {
  /** Handle of the staff member flagged for reading many patients in a day. */
  highVolumeReader: string;
  /** Handle of the staff member flagged for a burst of denied attempts. */
  denialBurst: string;
  /** Patient ids with a pending, an approved and a declined access request. */
  accessRequests: { pending: string; approved: string; declined: string };
}

const LEAD = 'qingshan-county-hospital';
const staff = (inst: string, id: string): Identity => demoIdentity(demoHandle.staff(inst, id));

export async function seedOversightStories(node: MedchainNode, people: DemoPerson[], stories: { consents: string; emergency: string }): Promise<DemoOversightStories> {
  const patientRecordAt = (p: DemoPerson, inst: string) => node.records.candidates(p.patientId, { types: ['Patient'] }).find((r) => r.custodian === inst);

  // 1. A nurse at the county hospital opens 24 patients' registration records in one sitting (threshold: 20).
  const nurse = staff(LEAD, 'nurse-liu-fang');
  const browsed = people.filter((p) => patientRecordAt(p, LEAD)).slice(0, 24);
  for (const p of browsed) {
    const record = patientRecordAt(p, LEAD)!;
    await node.records.read(makeUserRequest(nurse, 'GET', `/fhir/R4/Patient/${record.id}`), p.patientId, [record.id], 'TREAT');
  }

  // 2. The pharmacy's pharmacist tries to read six patients' records in a row; the default policy denies each.
  const pharmacist = staff('kangning-pharmacy', 'pharm-gao-ping');
  for (const p of people.slice(-6)) {
    const ids = node.records.candidates(p.patientId).map((r) => r.id).slice(0, 3);
    await node.records.read(makeUserRequest(pharmacist, 'GET', `/fhir/R4/Patient/${p.patientId}/$everything?_purpose=TREAT`), p.patientId, ids, 'TREAT');
  }

  // 3. Access requests: Hexi's doctor asks the consent-story patient (pending, with a message); Baishi's doctor asks
  // the emergency-story patient, who approves withholding the address; the insurer's adjuster is declined.
  const ask = async (who: Identity, pid: string, body: Parameters<MedchainNode['accessRequests']['create']>[2]) =>
    node.accessRequests.create(makeUserRequest(who, 'POST', `/v1/patients/${pid}/access-requests`, JSON.stringify(body)), pid, body);
  const patientOf = (pid: string) => demoIdentity(demoHandle.patient(people.find((p) => p.patientId === pid)!.n));
  await ask(staff('hexi-health-centre', 'dr-huang-lei'), stories.consents, {
    purposes: ['TREAT'],
    resourceTypes: ['Observation', 'Condition', 'MedicationRequest'],
    message: '您好，我是河西乡卫生院黄医生。您转回本院随访，需要查看县医院的检验结果和用药记录，谢谢。',
  });
  const approved = await ask(staff('baishi-health-centre', 'dr-li-qiang'), stories.emergency, {
    purposes: ['TREAT'],
    resourceTypes: ['Condition', 'Observation', 'DiagnosticReport'],
    message: '出院后在白石镇卫生院复诊，请授权查看住院期间的诊断和化验。',
  });
  const asB = patientOf(stories.emergency);
  const approveUrl = `/v1/patients/${stories.emergency}/access-requests/${approved.id}/approve`;
  await node.accessRequests.approve(makeUserRequest(asB, 'POST', approveUrl, JSON.stringify({ excludeFields: ['Patient.address'] })), stories.emergency, approved.id, ['Patient.address']);
  const declinedPatient = people.find((p) => p.patientId !== stories.consents && p.patientId !== stories.emergency)!;
  const declined = await ask(staff('kangning-pharmacy', 'pharm-gao-ping'), declinedPatient.patientId, { purposes: ['TREAT'], resourceTypes: ['MedicationRequest'] });
  const declineUrl = `/v1/patients/${declinedPatient.patientId}/access-requests/${declined.id}/decline`;
  await node.accessRequests.decline(makeUserRequest(patientOf(declinedPatient.patientId), 'POST', declineUrl, JSON.stringify({ reason: 'UNKNOWN_REQUESTER' })), declinedPatient.patientId, declined.id, 'UNKNOWN_REQUESTER');

  return {
    highVolumeReader: demoHandle.staff(LEAD, 'nurse-liu-fang'),
    denialBurst: demoHandle.staff('kangning-pharmacy', 'pharm-gao-ping'),
    accessRequests: { pending: stories.consents, approved: stories.emergency, declined: declinedPatient.patientId },
  };
}
