import type { TFunction } from 'i18next';
import type { Directory } from '../../directory-types.js';

/** A consent as the patient states it (the grant form) or as the node lists it (a FHIR Consent), in one shape. */
export interface ConsentTerms {
  provision: 'permit' | 'deny';
  actor: { kind: 'user'; did: string } | { kind: 'institution'; id: string } | { kind: 'role'; role: string; institution?: string } | { kind: 'institution-type'; type: string };
  purposes: string[];
  resourceTypes?: string[];
  excludeFields?: string[];
  end?: number;
}

export function actorText(actor: ConsentTerms['actor'], t: TFunction, directory: Directory): string {
  switch (actor.kind) {
    case 'user': {
      const staff = directory.staff.find((s) => s.did === actor.did);
      return staff ? t('consent.actorUser', { name: staff.name, institution: directory.institutionName(staff.institution) }) : t('consent.actorKey', { did: `${actor.did.slice(0, 16)}…` });
    }
    case 'institution':
      return t('consent.actorInstitution', { institution: directory.institutionName(actor.id) });
    case 'role':
      return actor.institution
        ? t('consent.actorRoleAt', { role: t(`roles.${actor.role}`, { defaultValue: actor.role }), institution: directory.institutionName(actor.institution) })
        : t('consent.actorRole', { role: t(`roles.${actor.role}`, { defaultValue: actor.role }) });
    case 'institution-type':
      return t('consent.actorType', { type: t(`institutionTypes.${actor.type}`, { defaultValue: actor.type }) });
  }
}

/** One sentence that says what the consent allows, in the reader's language. */
export function describeConsent(c: ConsentTerms, t: TFunction, directory: Directory): string {
  const list = (xs: string[]) => xs.join(t('common.listSeparator'));
  const who = actorText(c.actor, t, directory);
  const what = c.resourceTypes?.length ? list(c.resourceTypes.map((r) => t(`resourceTypes.${r}`, { defaultValue: r }))) : t('consent.allRecords');
  const why = list(c.purposes.map((p) => t(`purposes.${p}`, { defaultValue: p })));
  const until = c.end !== undefined ? t('consent.until', { date: new Date(c.end).toLocaleDateString(t('common.locale'), { timeZone: 'Asia/Shanghai' }) }) : t('consent.noEnd');
  const hidden = c.excludeFields?.length ? t('consent.hiding', { fields: list(c.excludeFields.map((f) => t(`fields.${f}`, { defaultValue: f }))) }) : '';
  return t(c.provision === 'deny' ? 'consent.sentenceDeny' : 'consent.sentencePermit', { who, what, why, until, hidden });
}

type Fhir = Record<string, unknown>;

/** Reads back the terms of a FHIR Consent that src/contracts/consent/fhir.ts wrote. */
export function termsOfFhirConsent(c: Fhir): ConsentTerms {
  const p = (c['provision'] ?? {}) as Fhir;
  const ref = ((p['actor'] as Array<{ reference?: { reference?: string; display?: string } }> | undefined)?.[0]?.reference ?? {}) as { reference?: string; display?: string };
  let actor: ConsentTerms['actor'];
  if (ref.reference?.startsWith('Practitioner/')) actor = { kind: 'user', did: ref.reference.slice('Practitioner/'.length) };
  else if (ref.reference?.startsWith('Organization/')) actor = { kind: 'institution', id: ref.reference.slice('Organization/'.length) };
  else if (ref.display?.startsWith('institution type ')) actor = { kind: 'institution-type', type: ref.display.slice('institution type '.length) };
  else if (ref.display?.startsWith('role ')) actor = { kind: 'role', role: ref.display.slice('role '.length) };
  else {
    const [role, institution] = (ref.display ?? '').split(' @ ');
    actor = { kind: 'role', role: role ?? '', ...(institution ? { institution } : {}) };
  }
  const end = (p['period'] as { end?: string } | undefined)?.end;
  const excluded = ((p['provision'] as Array<{ code?: Array<{ coding?: Array<{ code?: string }> }> }> | undefined) ?? []).flatMap((x) => x.code ?? []).map((x) => x.coding?.[0]?.code).filter((x): x is string => !!x);
  return {
    provision: p['type'] === 'deny' ? 'deny' : 'permit',
    actor,
    purposes: ((p['purpose'] as Array<{ code?: string }> | undefined) ?? []).map((x) => x.code ?? ''),
    ...(p['class'] ? { resourceTypes: (p['class'] as Array<{ code: string }>).map((x) => x.code) } : {}),
    ...(excluded.length ? { excludeFields: excluded } : {}),
    ...(end ? { end: Date.parse(end) } : {}),
  };
}
