import { patientIdFor, withResidentIdChecksum } from '../node/patient-id.js';
import { DEMO_PATIENT_ID_SECRET } from './keys.js';
import { prng } from './prng.js';

/**
 * Synthetic demo patients. Their personal data (name, id number, phone, address) lives only off the ledger,
 * at the institutions that registered them; the ledger knows each by its pseudonymous patient id.
 */
export interface DemoPerson {
  n: number;
  patientId: string;
  name: string;
  nameEn: string;
  gender: 'male' | 'female';
  birthDate: string;
  nationalId: string;
  phone: string;
  address: string;
  /** Institutions where the person is registered: the home primary-care site first. */
  institutions: string[];
}

const SURNAMES = [
  ['王', 'Wang'], ['李', 'Li'], ['张', 'Zhang'], ['刘', 'Liu'], ['陈', 'Chen'], ['杨', 'Yang'], ['黄', 'Huang'], ['赵', 'Zhao'],
  ['吴', 'Wu'], ['周', 'Zhou'], ['徐', 'Xu'], ['孙', 'Sun'], ['马', 'Ma'], ['朱', 'Zhu'], ['胡', 'Hu'], ['郭', 'Guo'],
] as const;
const GIVEN_MALE = [['建国', 'Jianguo'], ['志强', 'Zhiqiang'], ['海峰', 'Haifeng'], ['德明', 'Deming'], ['小龙', 'Xiaolong'], ['国平', 'Guoping'], ['文博', 'Wenbo'], ['宇航', 'Yuhang']] as const;
const GIVEN_FEMALE = [['秀英', 'Xiuying'], ['桂兰', 'Guilan'], ['丽华', 'Lihua'], ['晓燕', 'Xiaoyan'], ['婷婷', 'Tingting'], ['淑珍', 'Shuzhen'], ['雨欣', 'Yuxin'], ['美玲', 'Meiling']] as const;
const VILLAGES = [
  ['青山县白石镇桃源村', 'taoyuan-clinic', 'baishi-health-centre'],
  ['青山县白石镇石门村', 'baishi-health-centre', 'baishi-health-centre'],
  ['青山县河西乡柳树村', 'hexi-health-centre', 'hexi-health-centre'],
  ['青山县河西乡东湾村', 'hexi-health-centre', 'hexi-health-centre'],
  ['青山县城关镇人民路', 'qingshan-county-hospital', 'qingshan-county-hospital'],
] as const;

export function demoPeople(count = 60): DemoPerson[] {
  const rand = prng(20260101);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const people: DemoPerson[] = [];
  for (let n = 1; n <= count; n++) {
    const gender = rand() < 0.5 ? 'male' : 'female';
    const [surname, surnameEn] = pick(SURNAMES);
    const [given, givenEn] = pick<readonly [string, string]>(gender === "male" ? GIVEN_MALE : GIVEN_FEMALE);
    const year = 1940 + Math.floor(rand() * 80);
    const month = 1 + Math.floor(rand() * 12);
    const day = 1 + Math.floor(rand() * 28);
    const birthDate = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
    const sequence = String(100 + n).padStart(3, '0');
    // Sequence digit parity encodes sex in GB 11643 (odd = male).
    const sexDigit = gender === 'male' ? 2 * Math.floor(rand() * 5) + 1 : 2 * Math.floor(rand() * 5);
    const nationalId = withResidentIdChecksum(`339901${birthDate.replaceAll('-', '')}${sequence.slice(0, 2)}${sexDigit}`);
    const [village, home, centre] = pick(VILLAGES);
    const institutions = [home];
    if (centre !== home) institutions.push(centre);
    if (home !== 'qingshan-county-hospital' && rand() < 0.5) institutions.push('qingshan-county-hospital');
    people.push({
      n,
      patientId: patientIdFor(nationalId, DEMO_PATIENT_ID_SECRET),
      name: surname + given,
      nameEn: `${surnameEn} ${givenEn}`,
      gender,
      birthDate,
      nationalId,
      phone: `139${String(10000000 + Math.floor(rand() * 89999999))}`,
      address: `${village}${1 + Math.floor(rand() * 12)}组${1 + Math.floor(rand() * 60)}号`,
      institutions,
    });
  }
  return people;
}
