import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { gs1CheckDigit } from './codes.js';

/**
 * The CBV 2.0 event hash ID (CBV 2.0 §8.9, "Event Hash ID"): a canonical pre-hash string of an EPCIS event —
 * fields in the standard's order, list entries sorted, bare CBV words expanded to their URIs, times in UTC with
 * milliseconds, EPC URNs as canonical GS1 Digital Links, user extensions last and sorted — hashed with SHA-256
 * into `ni:///sha-256;{hex}?ver=CBV2.0`.
 *
 * GS1's epcis2.js implements the whole algorithm but spends ~25 µs per EPC (it tries every EPC scheme's regular
 * expression on every value). This module builds the same string directly for the events MedChain handles —
 * ObjectEvents and AggregationEvents with SGTINs and GLNs as URNs or Digital Links, SSCCs as Digital Links, standard fields, sensor reports, business
 * transactions, sources and destinations and ILMD of plain values. For anything else (other EPC schemes, user
 * extensions, quantities, unusual values) `fastPreHash` answers `undefined` and `cbvEventHashId` asks epcis2.js,
 * so every event still gets exactly the library's id. test/gs1/event-hash.test.ts compares both on generated
 * events of every supported shape.
 */

const require = createRequire(import.meta.url);
const epcis = require('epcis2.js') as {
  eventToHashedId(event: unknown, context: unknown): string;
  cbv: Record<'bizSteps' | 'dispositions' | 'businessTransactionTypes' | 'sourceDestinationTypes' | 'sensorMeasurementTypes' | 'alarmTypes' | 'components', Record<string, string>>;
};

export const EPCIS_CONTEXT = ['https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld'];

const vocab = (list: Record<string, string>) => new Set(Object.values(list));
const BIZ_STEPS = vocab(epcis.cbv.bizSteps);
const DISPOSITIONS = vocab(epcis.cbv.dispositions);
const BTT = vocab(epcis.cbv.businessTransactionTypes);
const SDT = vocab(epcis.cbv.sourceDestinationTypes);
const MEASUREMENTS = vocab(epcis.cbv.sensorMeasurementTypes);
const ALARMS = vocab(epcis.cbv.alarmTypes);
const COMPONENTS = vocab(epcis.cbv.components);

/** The standard's field order for an event (CBV 2.0 §8.9.2). */
const EVENT_ORDER = [
  'type', 'eventTime', 'eventTimeZoneOffset', 'certificationInfo', 'epcList', 'parentID', 'inputEPCList', 'childEPCs',
  'quantityList', 'childQuantityList', 'inputQuantityList', 'outputEPCList', 'outputQuantityList', 'action',
  'transformationID', 'bizStep', 'disposition', 'persistentDisposition', 'readPoint', 'bizLocation',
  'bizTransactionList', 'sourceList', 'destinationList', 'sensorElementList', 'ilmd',
] as const;
const METADATA_ORDER = ['time', 'startTime', 'endTime', 'deviceID', 'deviceMetadata', 'rawData', 'dataProcessingMethod', 'bizRules'];
const REPORT_ORDER = [
  'type', 'exception', 'deviceID', 'deviceMetadata', 'rawData', 'dataProcessingMethod', 'time', 'microorganism', 'chemicalSubstance',
  'value', 'component', 'stringValue', 'booleanValue', 'hexBinaryValue', 'uriValue', 'minValue', 'maxValue', 'meanValue', 'sDev',
  'percRank', 'percValue', 'uom', 'coordinateReferenceSystem',
];
/** Never part of the pre-hash string, at any level. */
const IGNORED = new Set(['recordTime', 'eventID', 'errorDeclaration', '@context']);
/** Namespaces every EPCIS 2.0 JSON-LD document has (ILMD keys such as `cbvmda:lotNumber` expand with these). */
const NAMESPACES: Record<string, string> = {
  epcis: 'https://ref.gs1.org/epcis/',
  cbv: 'https://ref.gs1.org/cbv/',
  cbvmda: 'urn:epcglobal:cbv:mda:',
  gs1: 'https://gs1.org/voc/',
  rdfs: 'http://www.w3.org/2000/01/rdf-schema#',
  owl: 'http://www.w3.org/2002/07/owl#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  dcterms: 'http://purl.org/dc/terms/',
};

/** Thrown inside the fast path for anything it does not cover; the caller then asks epcis2.js. */
class NotCovered extends Error {}
const notCovered = (): never => {
  throw new NotCovered();
};

type Scalar = string | number | boolean;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const CANONICAL_DL = /^https:\/\/id\.gs1\.org\/(01\/\d{14}\/21\/[0-9A-Za-z]{1,20}|00\/\d{18}|414\/\d{13}|417\/\d{13})$/;
const SGTIN_URN = /^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.([0-9A-Za-z]{1,20})$/;
const PGLN_URN = /^urn:epc:id:pgln:(\d{6,12})\.(\d{0,6})$/;
const SGLN_URN = /^urn:epc:id:sgln:(\d{6,12})\.(\d{0,6})\.0$/;
/** Path segments of GS1 primary keys (numeric and named): a value containing one might be rewritten as a Digital Link. */
const KEY_SEGMENT = /\/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)\//;

/** An EPC URN or Digital Link as its canonical GS1 Digital Link; other text unchanged. */
function canonicalUri(value: string): string {
  if (!value.includes('.')) return value;
  if (value.startsWith('urn:epc:')) {
    let m = SGTIN_URN.exec(value);
    if (m && m[1]!.length + m[2]!.length === 13) {
      const body = m[2]![0] + m[1] + m[2]!.slice(1);
      return `https://id.gs1.org/01/${body}${gs1CheckDigit(body)}/21/${m[3]}`;
    }
    // SSCC URNs are left to epcis2.js (2.7.3 builds their Digital Link with the extension digit twice; the id
    // must still be the library's).
    m = PGLN_URN.exec(value) ?? SGLN_URN.exec(value);
    if (m && m[1]!.length + m[2]!.length === 12) {
      const body = m[1]! + m[2]!;
      return `https://id.gs1.org/${value.startsWith('urn:epc:id:pgln') ? '417' : '414'}/${body}${gs1CheckDigit(body)}`;
    }
    return notCovered();
  }
  if (CANONICAL_DL.test(value)) return value;
  // Non-canonical Digital Links (other hosts, lots, named keys) are rewritten by rules not repeated here.
  if (KEY_SEGMENT.test(value)) return notCovered();
  return value;
}

/** Numbers written as text lose leading and trailing zeros. */
function trimZeros(value: string): string {
  if (!/^[\d.]+$/.test(value)) return value;
  let v = value;
  while (v.startsWith('0') && v.length > 2) v = v.slice(1);
  while (v.endsWith('0') && v.includes('.') && v.length > 3) v = v.slice(0, -1);
  if (v.endsWith('.')) v = v.slice(0, -1);
  return v;
}

/** One value as the pre-hash string writes it: trimmed, times in UTC with milliseconds, URIs canonical. */
function valueText(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return notCovered();
  let v = value.trim();
  // A date-time is any non-numeric text longer than 17 characters that Date.parse reads.
  if (v.length > 17 && Number.isNaN(Number(v)) && !Number.isNaN(Date.parse(v))) {
    if (!ISO_TIME.test(v)) return notCovered();
    v = new Date(v).toISOString();
  }
  return trimZeros(canonicalUri(v));
}

const field = (name: string, value: unknown) => `${name}=${valueText(value)}`;
const sorted = (parts: string[]) => parts.sort().join('');
const expand = (value: unknown, words: Set<string>, prefix: string) => (typeof value === 'string' && words.has(value) ? `${prefix}${value}` : value);

/** The fields of a nested object in the given order; any other field is an extension, which the fast path leaves to epcis2.js. */
function ordered(object: unknown, order: readonly string[], expandValue: (name: string, value: unknown) => unknown = (_, v) => v): string {
  if (!isObject(object)) return notCovered();
  for (const key of Object.keys(object)) if (!order.includes(key) && !IGNORED.has(key)) notCovered();
  let out = '';
  for (const name of order) {
    if (!Object.prototype.hasOwnProperty.call(object, name)) continue;
    const value = object[name];
    if (typeof value === 'object') notCovered(); // nested lists and objects, and null
    out += field(name, expandValue(name, value));
  }
  return out;
}

function list(value: unknown): unknown[] {
  // epcis2.js fails on empty lists; the fallback reproduces that.
  if (!Array.isArray(value) || value.length === 0) return notCovered();
  return value;
}

function ilmd(value: unknown): string {
  if (!isObject(value)) return notCovered();
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (key === 'rdfs:comment') continue;
    if (typeof v === 'object' || key.startsWith('#') || key.startsWith('@')) notCovered();
    const colon = key.indexOf(':');
    if (colon < 0) {
      parts.push(field(key, v));
      continue;
    }
    const namespace = NAMESPACES[key.slice(0, colon)];
    if (!namespace || key.indexOf(':', colon + 1) >= 0) notCovered();
    parts.push(field(`{${namespace}}${key.slice(colon + 1)}`, v));
  }
  return `ilmd${sorted(parts)}`;
}

function eventField(name: (typeof EVENT_ORDER)[number], value: unknown): string {
  switch (name) {
    case 'type':
      if (typeof value !== 'string') notCovered();
      return field('eventType', value);
    case 'epcList':
    case 'childEPCs':
    case 'inputEPCList':
    case 'outputEPCList':
      return name + sorted(list(value).map((epc) => (typeof epc === 'string' ? field('epc', epc) : notCovered())));
    case 'bizStep':
      return field(name, expand(value, BIZ_STEPS, 'https://ref.gs1.org/cbv/BizStep-'));
    case 'disposition':
      return field(name, expand(value, DISPOSITIONS, 'https://ref.gs1.org/cbv/Disp-'));
    case 'readPoint':
    case 'bizLocation':
      return name + ordered(value, ['id']);
    case 'bizTransactionList':
      return name + sorted(list(value).map((t) => ordered(t, ['type', 'bizTransaction'], (k, v) => (k === 'type' ? expand(v, BTT, 'https://ref.gs1.org/cbv/BTT-') : v))));
    case 'sourceList':
    case 'destinationList': {
      const party = name === 'sourceList' ? 'source' : 'destination';
      return name + sorted(list(value).map((t) => ordered(t, ['type', party], (k, v) => (k === 'type' ? expand(v, SDT, 'https://ref.gs1.org/cbv/SDT-') : v))));
    }
    case 'sensorElementList':
      return name + sorted(list(value).map(sensorElement));
    case 'ilmd':
      return ilmd(value);
    case 'eventTime':
    case 'eventTimeZoneOffset':
    case 'certificationInfo':
    case 'parentID':
    case 'action':
    case 'transformationID':
      if (typeof value === 'object') notCovered();
      return field(name, value);
    default:
      // Quantities and persistent dispositions: left to epcis2.js.
      return notCovered();
  }
}

function sensorElement(element: unknown): string {
  if (!isObject(element)) return notCovered();
  for (const key of Object.keys(element)) if (key !== 'sensorMetadata' && key !== 'sensorReport' && !IGNORED.has(key)) notCovered();
  let out = 'sensorElement';
  if (Object.prototype.hasOwnProperty.call(element, 'sensorMetadata')) out += `sensorMetadata${ordered(element['sensorMetadata'], METADATA_ORDER)}`;
  if (Object.prototype.hasOwnProperty.call(element, 'sensorReport')) {
    out += sorted(
      list(element['sensorReport']).map(
        (r) =>
          `sensorReport${ordered(r, REPORT_ORDER, (k, v) =>
            k === 'type' ? expand(v, MEASUREMENTS, 'https://gs1.org/voc/') : k === 'exception' ? expand(v, ALARMS, 'https://gs1.org/voc/') : k === 'component' ? expand(v, COMPONENTS, 'https://ref.gs1.org/cbv/Comp-') : v,
          )}`,
      ),
    );
  }
  return out;
}

/** The CBV 2.0 pre-hash string of an event, or undefined when the event has something this fast path does not cover. */
export function fastPreHash(event: unknown): string | undefined {
  try {
    if (!isObject(event)) return notCovered();
    for (const key of Object.keys(event)) if (!(EVENT_ORDER as readonly string[]).includes(key) && !IGNORED.has(key)) notCovered();
    let out = '';
    for (const name of EVENT_ORDER) {
      if (Object.prototype.hasOwnProperty.call(event, name)) out += eventField(name, event[name]);
    }
    return out;
  } catch (err) {
    if (err instanceof NotCovered) return undefined;
    throw err;
  }
}

export const hashPreHashString = (preHash: string) => `ni:///sha-256;${createHash('sha256').update(preHash, 'utf8').digest('hex')}?ver=CBV2.0`;

/**
 * The CBV 2.0 event hash ID of an EPCIS 2.0 event (`ni:///sha-256;…?ver=CBV2.0`). Deterministic and pure; the
 * event is not modified (epcis2.js, used for what the fast path does not cover, gets a copy: it expands vocabulary
 * in place). Throws what epcis2.js throws for an event it cannot hash.
 */
export function cbvEventHashId(event: unknown): string {
  const preHash = fastPreHash(event);
  if (preHash !== undefined) return hashPreHashString(preHash);
  return epcis.eventToHashedId(structuredClone(event), EPCIS_CONTEXT);
}

/** epcis2.js alone (for tests and the benchmark's comparison). */
export function libraryEventHashId(event: unknown): string {
  return epcis.eventToHashedId(structuredClone(event), EPCIS_CONTEXT);
}
