/** Public facts about the consortium (from the ledger's identity contract): institutions and their staff. */
export interface Institution {
  id: string;
  name: string;
  nameEn?: string;
  type: string;
  status: string;
  nodeKey?: string;
}
export interface StaffMember {
  id: string;
  institution: string;
  name: string;
  roles: string[];
  did: string;
  status: string;
}
export interface DemoPeople {
  demo: true;
  consortium: { name: string; nameEn?: string };
  institutions: Array<{ id: string; name: string; nameEn: string; type: string }>;
  patients: Array<{ handle: string; patientId: string; name: string; nameEn: string; gender: string; birthDate: string; institutions: string[] }>;
  staff: Array<{ handle: string; name: string; institution: string; roles: string[] }>;
}

export interface Directory {
  chain: string;
  consortium: string;
  institutions: Institution[];
  staff: StaffMember[];
  demo: DemoPeople | undefined;
  institutionName(id: string | undefined): string;
  personName(did: string | undefined): string | undefined;
}
