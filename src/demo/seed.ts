import { Ed25519Signer, type Identity } from '../crypto/index.js';
import { signTx, type Receipt } from '../ledger/index.js';
import type { MedchainNode } from '../node/node.js';
import { DEMO_INSTITUTIONS, demoHandle, DEMO_CHAIN_ID } from './consortium.js';
import { demoIdentity } from './keys.js';
import { demoPeople, type DemoPerson } from './people.js';

/** Signs txs as a demo identity and submits them to a node, failing loudly if a demo step is refused. */
export class DemoActor {
  private readonly signer: Ed25519Signer;
  constructor(
    readonly identity: Identity,
    private readonly node: MedchainNode,
  ) {
    this.signer = new Ed25519Signer(identity.signing.seed);
  }

  static as(handle: string, node: MedchainNode): DemoActor {
    return new DemoActor(demoIdentity(handle), node);
  }

  async call(contract: string, method: string, args: unknown): Promise<Receipt> {
    const tx = signTx({ chain: DEMO_CHAIN_ID, contract, method, args }, this.identity.did, this.signer);
    const receipt = await this.node.submit(tx);
    if (receipt.result.status !== 'ok') {
      throw new Error(`demo step ${contract}.${method} failed: ${receipt.result.code} ${receipt.result.message}`);
    }
    return receipt;
  }
}

const REGISTRAR: Record<string, string> = {
  'qingshan-county-hospital': 'reg-zhao-min',
  'baishi-health-centre': 'nurse-zhou-yan',
  'hexi-health-centre': 'nurse-wu-xia',
  'taoyuan-clinic': 'dr-ma-jun',
};

export interface SeedProgress {
  (step: string, done: number, total: number): void;
}

/** Fills a fresh demo ledger: staff, patients (some at two institutions), devices and governance votes. */
export async function seedDemo(node: MedchainNode, onProgress: SeedProgress = () => {}): Promise<{ people: DemoPerson[] }> {
  const staff = DEMO_INSTITUTIONS.flatMap((inst) => inst.staff.map((s) => ({ inst: inst.id, ...s })));
  let done = 0;
  await Promise.all(
    staff.map(async (s) => {
      await DemoActor.as(demoHandle.admin(s.inst), node).call('identity', 'enrolStaff', {
        staffId: s.id,
        name: s.name,
        roles: s.roles,
        key: demoIdentity(demoHandle.staff(s.inst, s.id)).did,
      });
      onProgress('staff', ++done, staff.length);
    }),
  );

  const people = demoPeople();
  const registrations = people.flatMap((p) => p.institutions.map((inst, i) => ({ p, inst, first: i === 0 })));
  done = 0;
  // First registrations bind the patient's own key; later ones resolve to the same consortium id.
  for (const wave of [registrations.filter((r) => r.first), registrations.filter((r) => !r.first)]) {
    await Promise.all(
      wave.map(async ({ p, inst, first }) => {
        await DemoActor.as(demoHandle.staff(inst, REGISTRAR[inst]!), node).call('identity', 'registerPatient', {
          patientId: p.patientId,
          ...(first ? { patientKey: demoIdentity(demoHandle.patient(p.n)).did } : {}),
        });
        onProgress('patients', ++done, registrations.length);
      }),
    );
  }

  const nurse = DemoActor.as(demoHandle.staff('taoyuan-clinic', 'dr-ma-jun'), node);
  const taoyuanPatient = people.find((p) => p.institutions[0] === 'taoyuan-clinic') ?? people[0]!;
  await nurse.call('identity', 'registerDevice', {
    deviceId: 'glucometer-ty-001',
    key: demoIdentity('device:glucometer-ty-001').did,
    kind: 'glucose-meter',
    patientId: taoyuanPatient.patientId,
  });
  await DemoActor.as(demoHandle.staff('qingshan-county-hospital', 'nurse-liu-fang'), node).call('identity', 'registerDevice', {
    deviceId: 'ecg-monitor-cw-07',
    key: demoIdentity('device:ecg-monitor-cw-07').did,
    kind: 'ecg-monitor',
  });
  onProgress('devices', 2, 2);

  await seedGovernance(node);
  onProgress('governance', 1, 1);
  return { people };
}

/** One admission decided by vote (a new village clinic joins) and one still open. */
async function seedGovernance(node: MedchainNode): Promise<void> {
  const admin = (inst: string) => DemoActor.as(demoHandle.admin(inst), node);
  const candidate = (id: string, name: string, type: string, port: number) => ({
    id,
    name,
    type,
    endpoint: `http://127.0.0.1:${port}`,
    nodeKey: demoIdentity(demoHandle.node(id)).did,
    admins: [demoIdentity(demoHandle.admin(id)).did],
    location: '青山县',
  });
  const passed = await admin('qingshan-county-hospital').call('identity', 'proposeAdmission', {
    institution: candidate('dongpo-clinic', '东坡村卫生室', 'clinic', 8090),
  });
  const proposalId = passed.id;
  const voters = DEMO_INSTITUTIONS.map((i) => i.id).filter((id) => id !== 'qingshan-county-hospital');
  for (const voter of voters) {
    const receipt = await admin(voter).call('identity', 'vote', { proposal: proposalId, approve: voter !== 'kangning-pharmacy' });
    if ((receipt.result as { result?: { status?: string } }).result?.status === 'passed') break;
  }
  const open = await admin('baishi-health-centre').call('identity', 'proposeAdmission', {
    institution: candidate('renai-private-hospital', '仁爱民营医院', 'hospital', 8091),
  });
  await admin('hexi-health-centre').call('identity', 'vote', { proposal: open.id, approve: true });
}
