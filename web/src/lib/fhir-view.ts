/** Turning FHIR R4 resources into what a person reads: a title, a value, a date, the encounter they belong to. */

export type Resource = Record<string, unknown> & { resourceType: string; id: string };
type Coding = { system?: string; code?: string; display?: string };
type Concept = { text?: string; coding?: Coding[] };
type Quantity = { value?: number; unit?: string; code?: string };

export const WITHHELD_FIELD_EXTENSION = 'urn:medchain:fhir:withheld-field';

const concept = (c: unknown, english: boolean): string | undefined => {
  const cc = c as Concept | undefined;
  if (!cc) return undefined;
  const display = cc.coding?.find((x) => x.display)?.display;
  return english ? (display ?? cc.text) : (cc.text ?? display);
};

const quantity = (q: unknown): string | undefined => {
  const qq = q as Quantity | undefined;
  return qq?.value === undefined ? undefined : `${qq.value}${qq.unit ? ` ${qq.unit}` : ''}`;
};

/** The heading of a record. */
export function titleOf(r: Resource, english: boolean): string {
  switch (r.resourceType) {
    case 'Patient': {
      const names = (r['name'] as Array<{ text?: string; use?: string }> | undefined) ?? [];
      return (english ? names.find((n) => n.use === 'usual') : names.find((n) => n.use === 'official'))?.text ?? names[0]?.text ?? r.id;
    }
    case 'Encounter':
      return concept((r['reasonCode'] as unknown[] | undefined)?.[0], english) ?? concept((r['type'] as unknown[] | undefined)?.[0], english) ?? r.id;
    case 'MedicationRequest':
      return concept(r['medicationCodeableConcept'], english) ?? r.id;
    case 'Immunization':
      return concept(r['vaccineCode'], english) ?? r.id;
    case 'ImagingStudy':
      return (r['description'] as string | undefined) ?? r.id;
    default:
      return concept(r['code'], english) ?? r.id;
  }
}

/** The clinically relevant date (YYYY-MM-DD). */
export function dateOf(r: Resource): string | undefined {
  const v =
    (r['effectiveDateTime'] as string) ??
    (r['recordedDate'] as string) ??
    (r['authoredOn'] as string) ??
    (r['occurrenceDateTime'] as string) ??
    (r['started'] as string) ??
    (r['issued'] as string) ??
    (r['period'] as { start?: string } | undefined)?.start ??
    (r['onsetDateTime'] as string) ??
    (r['date'] as string);
  return v ? v.slice(0, 10) : undefined;
}

/** The Encounter id a record belongs to, when it names one. */
export function encounterOf(r: Resource): string | undefined {
  if (r.resourceType === 'Encounter') return r.id;
  const ref = (r['encounter'] as { reference?: string } | undefined)?.reference ?? (r['context'] as { reference?: string } | undefined)?.reference;
  return ref?.startsWith('Encounter/') ? ref.slice('Encounter/'.length) : undefined;
}

export interface LabValue {
  value?: string;
  range?: string;
  flag?: 'H' | 'L' | 'N' | 'A' | string;
}

/** A lab or vital-sign value with its reference range and flag. */
export function labValueOf(r: Resource): LabValue {
  const range = (r['referenceRange'] as Array<{ low?: Quantity; high?: Quantity; text?: string }> | undefined)?.[0];
  const rangeText = range ? (range.text ?? [range.low?.value, range.high?.value].map((v) => (v === undefined ? '' : String(v))).join(' – ') + (range.high?.unit ?? range.low?.unit ? ` ${range.high?.unit ?? range.low?.unit}` : '')) : undefined;
  const flag = (r['interpretation'] as Concept[] | undefined)?.[0]?.coding?.[0]?.code;
  const value = quantity(r['valueQuantity']) ?? (r['valueString'] as string | undefined) ?? concept(r['valueCodeableConcept'], false);
  return { ...(value ? { value } : {}), ...(rangeText ? { range: rangeText } : {}), ...(flag ? { flag } : {}) };
}

/** The one line under a title: dosage, conclusion, clinical status, reaction… */
export function detailOf(r: Resource, english: boolean): string | undefined {
  switch (r.resourceType) {
    case 'MedicationRequest':
      return (r['dosageInstruction'] as Array<{ text?: string }> | undefined)?.map((d) => d.text).filter(Boolean).join('；');
    case 'DiagnosticReport':
      return r['conclusion'] as string | undefined;
    case 'AllergyIntolerance':
      return (r['reaction'] as Array<{ manifestation?: Concept[] }> | undefined)?.flatMap((x) => x.manifestation ?? []).map((m) => concept(m, english)).filter(Boolean).join('、');
    case 'Condition':
      return concept(r['clinicalStatus'], english);
    case 'ImagingStudy':
      return (r['modality'] as Coding[] | undefined)?.map((m) => m.code).join(', ');
    case 'Immunization':
      return r['lotNumber'] ? `Lot ${r['lotNumber'] as string}` : undefined;
    case 'Encounter':
      return (r['serviceProvider'] as { display?: string } | undefined)?.display;
    default:
      return undefined;
  }
}

/** Groups a record shown to a person: diagnoses, labs, vital signs, prescriptions, reports, imaging, other. */
export function groupOf(r: Resource): string {
  if (r.resourceType === 'Observation') {
    const cat = (r['category'] as Concept[] | undefined)?.[0]?.coding?.[0]?.code;
    return cat === 'vital-signs' ? 'vitals' : 'labs';
  }
  return (
    { Condition: 'diagnoses', MedicationRequest: 'prescriptions', DiagnosticReport: 'reports', ImagingStudy: 'imaging', AllergyIntolerance: 'allergies', Immunization: 'immunizations', Patient: 'demographics', Procedure: 'procedures', DocumentReference: 'documents' } as Record<string, string>
  )[r.resourceType] ?? 'other';
}

/** Elements a consent withheld from this copy (only those of this resource type). */
export function withheldOf(r: Resource): string[] {
  const ext = ((r['meta'] as { extension?: Array<{ url?: string; valueString?: string }> } | undefined)?.extension ?? [])
    .filter((e) => e.url === WITHHELD_FIELD_EXTENSION && e.valueString)
    .map((e) => e.valueString!);
  return ext.filter((f) => f.startsWith(`${r.resourceType}.`));
}

export function isRedacted(r: Resource): boolean {
  return ((r['meta'] as { security?: Coding[] } | undefined)?.security ?? []).some((s) => s.code === 'REDACTED');
}

export interface Bundle {
  resourceType: 'Bundle';
  entry?: Array<{ resource: Resource; search?: { mode?: string } }>;
}

/** Records of a Bundle, and the refusals the node listed in its OperationOutcome entry. */
export function splitBundle(bundle: Bundle): { records: Resource[]; refused: string[] } {
  const records: Resource[] = [];
  const refused: string[] = [];
  for (const e of bundle.entry ?? []) {
    if (e.resource.resourceType === 'OperationOutcome') {
      for (const issue of (e.resource['issue'] as Array<{ details?: { text?: string } }> | undefined) ?? []) if (issue.details?.text) refused.push(issue.details.text);
    } else records.push(e.resource);
  }
  return { records, refused };
}
