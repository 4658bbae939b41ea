import type { Genesis, InstitutionType, StaffRole } from '../contracts/identity/index.js';
import { didKeyFromPublicKey } from '../crypto/index.js';
import { demoIdentity } from './keys.js';

/**
 * The demo consortium: 青山县医共体, a county medical alliance led by the county people's hospital, with two
 * township health centres, a village clinic, a pharmacy, a drug maker, a distributor, the medical-insurance
 * bureau, a research institute and the county health commission as regulator. All names are fictional.
 */

export interface DemoInstitution {
  id: string;
  name: string;
  nameEn: string;
  type: InstitutionType;
  location: string;
  port: number;
  staff: Array<{ id: string; name: string; roles: StaffRole[] }>;
}

export const DEMO_CHAIN_ID = 'qingshan-county-alliance';
/** 2026-01-01T00:00:00+08:00 */
export const DEMO_GENESIS_TIME = Date.UTC(2025, 11, 31, 16, 0, 0);

export const DEMO_INSTITUTIONS: DemoInstitution[] = [
  {
    id: 'qingshan-county-hospital',
    name: '青山县人民医院',
    nameEn: 'Qingshan County People’s Hospital',
    type: 'hospital',
    location: '青山县城关镇人民路 1 号',
    port: 8080,
    staff: [
      { id: 'dr-wang-li', name: '王丽', roles: ['doctor', 'emergency'] },
      { id: 'dr-zhang-wei', name: '张伟', roles: ['doctor'] },
      { id: 'nurse-liu-fang', name: '刘芳', roles: ['nurse'] },
      { id: 'lab-chen-jing', name: '陈静', roles: ['lab_technician'] },
      { id: 'reg-zhao-min', name: '赵敏', roles: ['registrar'] },
      { id: 'pharm-sun-hui', name: '孙慧', roles: ['pharmacist'] },
    ],
  },
  {
    id: 'baishi-health-centre',
    name: '白石镇卫生院',
    nameEn: 'Baishi Township Health Centre',
    type: 'health_centre',
    location: '青山县白石镇',
    port: 8081,
    staff: [
      { id: 'dr-li-qiang', name: '李强', roles: ['doctor'] },
      { id: 'nurse-zhou-yan', name: '周燕', roles: ['nurse', 'registrar'] },
    ],
  },
  {
    id: 'hexi-health-centre',
    name: '河西乡卫生院',
    nameEn: 'Hexi Township Health Centre',
    type: 'health_centre',
    location: '青山县河西乡',
    port: 8082,
    staff: [
      { id: 'dr-huang-lei', name: '黄磊', roles: ['doctor'] },
      { id: 'nurse-wu-xia', name: '吴霞', roles: ['nurse', 'registrar'] },
    ],
  },
  {
    id: 'taoyuan-clinic',
    name: '桃源村卫生室',
    nameEn: 'Taoyuan Village Clinic',
    type: 'clinic',
    location: '青山县白石镇桃源村',
    port: 8083,
    staff: [{ id: 'dr-ma-jun', name: '马军', roles: ['doctor', 'registrar'] }],
  },
  {
    id: 'kangning-pharmacy',
    name: '康宁大药房',
    nameEn: 'Kangning Pharmacy',
    type: 'pharmacy',
    location: '青山县城关镇解放街 18 号',
    port: 8084,
    staff: [{ id: 'pharm-gao-ping', name: '高萍', roles: ['pharmacist'] }],
  },
  {
    id: 'huakang-pharma',
    name: '华康制药有限公司',
    nameEn: 'Huakang Pharmaceutical Co., Ltd.',
    type: 'manufacturer',
    location: '青山县经济开发区',
    port: 8085,
    staff: [{ id: 'qa-lin-tao', name: '林涛', roles: ['logistics'] }],
  },
  {
    id: 'jiuzhou-distribution',
    name: '九州医药配送有限公司',
    nameEn: 'Jiuzhou Pharmaceutical Distribution Co., Ltd.',
    type: 'distributor',
    location: '青山县物流园',
    port: 8086,
    staff: [{ id: 'log-he-peng', name: '何鹏', roles: ['logistics'] }],
  },
  {
    id: 'qingshan-medical-insurance',
    name: '青山县医疗保障局',
    nameEn: 'Qingshan County Medical Insurance Bureau',
    type: 'insurer',
    location: '青山县城关镇',
    port: 8087,
    staff: [{ id: 'adj-xu-na', name: '徐娜', roles: ['claims_adjuster'] }],
  },
  {
    id: 'provincial-medical-research',
    name: '省医学科学研究院',
    nameEn: 'Provincial Academy of Medical Sciences',
    type: 'research',
    location: '省会市',
    port: 8088,
    staff: [{ id: 'res-guo-yu', name: '郭宇', roles: ['researcher'] }],
  },
  {
    id: 'qingshan-health-commission',
    name: '青山县卫生健康委员会',
    nameEn: 'Qingshan County Health Commission',
    type: 'regulator',
    location: '青山县城关镇',
    port: 8089,
    staff: [
      { id: 'reg-luo-bin', name: '罗斌', roles: ['regulator'] },
      { id: 'aud-song-jia', name: '宋佳', roles: ['auditor'] },
    ],
  },
];

/** Handles of demo keys: `admin@inst`, `node@inst`, `staffId@inst`, `patient:N`. */
export const demoHandle = {
  admin: (inst: string) => `admin@${inst}`,
  node: (inst: string) => `node@${inst}`,
  staff: (inst: string, staffId: string) => `${staffId}@${inst}`,
  patient: (n: number) => `patient:${n}`,
};

export function demoGenesis(): Genesis {
  return {
    chainId: DEMO_CHAIN_ID,
    consortium: { name: '青山县医共体', nameEn: 'Qingshan County Medical Alliance' },
    time: DEMO_GENESIS_TIME,
    governance: { admissionThreshold: { numerator: 2, denominator: 3 } },
    limits: { maxTxBytes: 64 * 1024, maxValidityMs: 24 * 60 * 60 * 1000 },
    // Without a consent, the custodian's own doctors and nurses may read for treatment (and emergencies).
    policies: { consent: { custodianStaff: { roles: ['doctor', 'nurse'], purposes: ['TREAT', 'ETREAT'] } } },
    institutions: DEMO_INSTITUTIONS.map((i) => ({
      id: i.id,
      name: i.name,
      type: i.type,
      endpoint: `http://127.0.0.1:${i.port}`,
      nodeKey: demoIdentity(demoHandle.node(i.id)).did,
      admins: [demoIdentity(demoHandle.admin(i.id)).did],
      // The vault key is the node key's X25519 half, so the node that holds an institution's records can open them.
      encryptionKey: didKeyFromPublicKey(demoIdentity(demoHandle.node(i.id)).agreement.publicKey, 'X25519'),
      location: i.location,
    })),
  };
}

/** The embedded demo node holds every demo institution's vault, so one process shows the whole consortium. */
export function demoHostedInstitutions(): Array<{ id: string; identity: ReturnType<typeof demoIdentity> }> {
  return DEMO_INSTITUTIONS.map((i) => ({ id: i.id, identity: demoIdentity(demoHandle.node(i.id)) }));
}
