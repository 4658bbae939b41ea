import { createRequire } from 'node:module';
import { CodedError } from '../ledger/errors.js';

/**
 * Codes on drug packs. Every sellable pack carries a GS1 SGTIN (GTIN + serial, AI 01 + AI 21) and may carry
 * China's 20-digit drug traceability code (药品追溯码). Cases and pallets carry an SSCC (AI 00). Digital Link URLs
 * (`https://host/01/{gtin}/10/{lot}/21/{serial}`) are built and validated with GS1's digital-link.js; the
 * hot paths (contracts, lookups) use the plain key form `sgtin:{gtin}.{serial}`.
 *
 * The 20-digit code is treated as the issuing platform defines it: a 7-digit product identifier (药品标识码)
 * followed by 13 digits for the pack; MedChain checks the product prefix and uniqueness, not the platform's
 * check digits, whose algorithm belongs to the issuer.
 */

const require = createRequire(import.meta.url);
const { DigitalLink } = require('digital-link.js') as {
  DigitalLink(input: string | object): {
    isValid(): boolean;
    getIdentifier(): Record<string, string>;
    getKeyQualifiers(): Record<string, string>;
    toWebUriString(): string;
  };
};

export const GS1_RESOLVER = 'https://id.gs1.org';

/** GS1 mod-10 check digit of the digits before it. */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    const digit = body.charCodeAt(body.length - 1 - i) - 48;
    sum += digit * (i % 2 === 0 ? 3 : 1);
  }
  return (10 - (sum % 10)) % 10;
}

export function isValidGtin(gtin: string): boolean {
  return /^\d{14}$/.test(gtin) && gs1CheckDigit(gtin.slice(0, 13)) === Number(gtin[13]);
}

/** GTIN-8/12/13/14 to GTIN-14 (zero-padded), or throws INVALID_CODE. */
export function normalizeGtin(input: string): string {
  if (!/^(\d{8}|\d{12}|\d{13}|\d{14})$/.test(input)) throw new CodedError('INVALID_CODE', `GTIN must be 8, 12, 13 or 14 digits: ${input}`);
  const gtin = input.padStart(14, '0');
  if (!isValidGtin(gtin)) throw new CodedError('INVALID_CODE', `GTIN ${input} has a wrong check digit`);
  return gtin;
}

export function isValidSscc(sscc: string): boolean {
  return /^\d{18}$/.test(sscc) && gs1CheckDigit(sscc.slice(0, 17)) === Number(sscc[17]);
}

/** Serials and lots: GS1 allows up to 20 characters of a wider set; MedChain takes letters and digits. */
export const SERIAL = /^[0-9A-Za-z]{1,20}$/;
export const LOT = /^[0-9A-Za-z-]{1,20}$/;
export const CN_CODE = /^\d{20}$/;

export type PackCode = { kind: 'sgtin'; gtin: string; serial: string; lot?: string } | { kind: 'cn'; code: string } | { kind: 'sscc'; sscc: string };

/** The key a code is stored under: `sgtin:{gtin}.{serial}`, `cn:{20 digits}` or `sscc:{18 digits}`. */
export function codeKey(code: PackCode): string {
  return code.kind === 'sgtin' ? `sgtin:${code.gtin}.${code.serial}` : code.kind === 'cn' ? `cn:${code.code}` : `sscc:${code.sscc}`;
}

export function sgtinKey(gtin: string, serial: string): string {
  return `sgtin:${gtin}.${serial}`;
}

/** The Digital Link of a pack (what its QR code holds). */
export function packDigitalLink(gtin: string, lot: string, serial: string, domain = GS1_RESOLVER): string {
  return DigitalLink({ domain, identifier: { '01': gtin }, keyQualifiers: { '10': lot, '21': serial }, sortKeyQualifiers: true }).toWebUriString();
}

/** The EPC of a pack in EPCIS 2.0 documents: the canonical GS1 Digital Link without the lot. */
export function sgtinEpc(gtin: string, serial: string): string {
  return `${GS1_RESOLVER}/01/${gtin}/21/${serial}`;
}

/** A 20-digit traceability code as an EPC URI (EPCIS requires URIs). */
export function cnEpc(code: string): string {
  return `urn:medchain:cn:${code}`;
}

export function ssccEpc(sscc: string): string {
  return `${GS1_RESOLVER}/00/${sscc}`;
}

/**
 * Reads any form a scanner or a person may give: a Digital Link URL (any domain), an EPC URN
 * (`urn:epc:id:sgtin:…` / `urn:epc:id:sscc:…`), a GS1 element string (`(01)…(21)…` or `01…21…`), a 20-digit
 * Chinese traceability code (bare, or as the URI `urn:medchain:cn:{code}` that EPCIS documents need), a bare
 * 18-digit SSCC, or a stored key (`sgtin:…`). Throws INVALID_CODE.
 */
export function parseCode(input: string): PackCode {
  const text = input.trim();
  if (CN_CODE.test(text)) return { kind: 'cn', code: text };
  if (/^\d{18}$/.test(text)) return sscc(text);
  let m = /^sgtin:(\d{14})\.([0-9A-Za-z]{1,20})$/.exec(text);
  if (m) return sgtin(m[1]!, m[2]!);
  if ((m = /^cn:(\d{20})$/.exec(text))) return { kind: 'cn', code: m[1]! };
  // EPCIS documents need a URI for every EPC: a 20-digit code travels as `urn:medchain:cn:{code}`.
  if ((m = /^urn:medchain:cn:(\d{20})$/.exec(text))) return { kind: 'cn', code: m[1]! };
  if ((m = /^sscc:(\d{18})$/.exec(text))) return sscc(m[1]!);
  if (/^https?:\/\//.test(text)) return fromDigitalLink(text);
  if ((m = /^urn:epc:id:sgtin:(\d+)\.(\d+)\.([0-9A-Za-z]{1,20})$/.exec(text))) {
    const [, prefix, itemRef, serial] = m;
    // EPC URN: indicator digit leads the item reference; the check digit is recomputed.
    const body = `${itemRef!.slice(0, 1)}${prefix}${itemRef!.slice(1)}`;
    if (body.length !== 13) throw new CodedError('INVALID_CODE', 'SGTIN URN has the wrong length');
    return sgtin(`${body}${gs1CheckDigit(body)}`, serial!);
  }
  if ((m = /^urn:epc:id:sscc:(\d+)\.(\d+)$/.exec(text))) {
    const body = `${m[2]!.slice(0, 1)}${m[1]}${m[2]!.slice(1)}`;
    if (body.length !== 17) throw new CodedError('INVALID_CODE', 'SSCC URN has the wrong length');
    return sscc(`${body}${gs1CheckDigit(body)}`);
  }
  const plain = text.replace(/[()]/g, '');
  if ((m = /^01(\d{14})(?:10([0-9A-Za-z-]{1,20})\x1d?)?21([0-9A-Za-z]{1,20})$/.exec(plain))) return sgtin(m[1]!, m[3]!, m[2]);
  if ((m = /^00(\d{18})$/.exec(plain))) return sscc(m[1]!);
  throw new CodedError('INVALID_CODE', `not a pack code: ${text.slice(0, 80)}`);
}

/**
 * EPCs as they appear in EPCIS events: canonical Digital Links take a fast path (the full Digital Link grammar
 * check costs milliseconds), everything else goes through `parseCode`.
 */
export function parseEpc(epc: string): PackCode {
  let m = /^https?:\/\/[^/\s]+\/01\/(\d{14})\/21\/([0-9A-Za-z]{1,20})$/.exec(epc);
  if (m) return sgtin(m[1]!, m[2]!);
  if ((m = /^https?:\/\/[^/\s]+\/00\/(\d{18})$/.exec(epc))) return sscc(m[1]!);
  return parseCode(epc);
}

function sgtin(gtin: string, serial: string, lot?: string): PackCode {
  if (!isValidGtin(gtin)) throw new CodedError('INVALID_CODE', `GTIN ${gtin} has a wrong check digit`);
  if (!SERIAL.test(serial)) throw new CodedError('INVALID_CODE', `serial ${serial} is not 1-20 letters or digits`);
  return { kind: 'sgtin', gtin, serial, ...(lot ? { lot } : {}) };
}

function sscc(value: string): PackCode {
  if (!isValidSscc(value)) throw new CodedError('INVALID_CODE', `SSCC ${value} has a wrong check digit`);
  return { kind: 'sscc', sscc: value };
}

function fromDigitalLink(url: string): PackCode {
  let dl: ReturnType<typeof DigitalLink>;
  try {
    dl = DigitalLink(url);
  } catch {
    throw new CodedError('INVALID_CODE', 'not a GS1 Digital Link');
  }
  const id = dl.getIdentifier();
  const q = dl.getKeyQualifiers();
  if (id['00']) return sscc(id['00']);
  if (id['01'] && q['21']) return sgtin(id['01'].padStart(14, '0'), q['21'], q['10']);
  throw new CodedError('INVALID_CODE', 'a pack Digital Link needs a GTIN (01) and a serial (21), or an SSCC (00)');
}
