import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { codeKey, packDigitalLink, parseCode } from '../../gs1/codes.js';
import { CodedError } from '../../ledger/index.js';
import type { MedchainNode } from '../../node/index.js';
import type { DrugService, Verification, Warning } from '../../drugs/service.js';
import { handled } from '../errors.js';
import { signedUser } from '../user-auth.js';

/**
 * Drug traceability over HTTP. Public: the Digital Link resolver (`/01/{gtin}/10/{lot}/21/{serial}`, a page in
 * Chinese or English, or JSON), `/v1/drugs/verify` and QR codes. Signed: EPCIS capture and event queries, stock.
 */

const WARNING_TEXT: Record<Warning, { zh: string; en: string }> = {
  'unknown-code': { zh: '未知追溯码：可能是假药，请勿使用并向药监部门报告', en: 'Unknown code: possibly counterfeit — do not use, report it' },
  'already-dispensed': { zh: '此药品已发放给患者：再次出现可能是回流药', en: 'Already dispensed to a patient: seeing it again may mean diversion' },
  recalled: { zh: '该批次已召回，请勿使用', en: 'This batch is recalled — do not use' },
  expired: { zh: '已过有效期', en: 'Expired' },
  'temperature-excursion': { zh: '运输途中超出贮藏温度，尚未经药师放行', en: 'Left its storage temperature in transit and has not been released' },
  destroyed: { zh: '此药品已登记销毁', en: 'Recorded as destroyed' },
  'in-transit': { zh: '运输中', en: 'In transit' },
};

const escape = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(v: Verification, lang: 'zh' | 'en', selfUrl: string): string {
  const t = (zh: string, en: string) => (lang === 'zh' ? zh : en);
  const colour = v.verdict === 'ok' ? '#1a7f37' : v.verdict === 'warning' ? '#9a6700' : '#cf222e';
  const headline = v.verdict === 'ok' ? t('正品，流通记录完整', 'Genuine, with a complete history') : v.verdict === 'warning' ? t('请注意', 'Please note') : t('警告', 'Warning');
  const rows = (pairs: Array<[string, unknown]>) => pairs.filter(([, x]) => x !== undefined).map(([k, x]) => `<tr><th>${escape(k)}</th><td>${escape(x)}</td></tr>`).join('');
  return `<!doctype html><html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${t('药品追溯查询', 'Drug verification')} — MedChain</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;padding:16px;max-width:640px;margin:auto;color:#1f2328}
.verdict{border-radius:12px;padding:16px;color:#fff;background:${colour}}h1{font-size:1.3em;margin:0 0 4px}ul{padding-left:20px}
table{border-collapse:collapse;width:100%;margin:12px 0}th,td{text-align:left;padding:6px;border-bottom:1px solid #d0d7de;vertical-align:top}th{width:35%;color:#57606a;font-weight:500}
ol{padding-left:20px}li{margin:6px 0}.muted{color:#57606a;font-size:.85em;word-break:break-all}a{color:#0969da}</style></head><body>
<div class="verdict"><h1>${escape(headline)}</h1>${v.warnings.length ? `<ul>${v.warnings.map((w) => `<li>${escape(WARNING_TEXT[w][lang])}</li>`).join('')}</ul>` : ''}</div>
${
  v.found && v.kind === 'container'
    ? `<table>${rows([
        [t('箱/托盘 (SSCC)', 'Case / pallet (SSCC)'), v.code],
        [t('内含', 'Contains'), v.contents],
        [t('当前持有', 'Held by'), v.holder],
        [t('状态', 'Status'), v.status],
      ])}</table><h2>${t('流通记录', 'Custody')}</h2><ol>${(v.custody ?? []).map((c) => `<li>${escape(c.time)} · ${escape(c.institution)} · ${escape(c.bizStep)}${c.to ? ` → ${escape(c.to)}` : ''}</li>`).join('')}</ol>`
    : v.found
    ? `<table>${rows([
        [t('药品', 'Product'), lang === 'en' && v.product?.nameEn ? v.product.nameEn : v.product?.name],
        [t('批准文号', 'Approval no.'), v.product?.approvalNumber],
        [t('规格', 'Strength'), `${v.product?.dosageForm} ${v.product?.strength}`],
        [t('生产企业', 'Maker'), v.product?.maker],
        [t('批号', 'Lot'), v.batch?.lot],
        [t('生产日期', 'Manufactured'), v.batch?.manufactured],
        [t('有效期至', 'Expires'), v.batch?.expires],
        [t('贮藏', 'Storage'), `${v.product?.storage.minC}–${v.product?.storage.maxC} °C`],
        [t('当前持有', 'Held by'), v.holder],
        [t('药品追溯码', 'Traceability code'), v.cn],
        [t('召回原因', 'Recall reason'), v.batch?.recall?.reason],
      ])}</table>
<h2>${t('流通记录', 'Custody')}</h2><ol>${(v.custody ?? []).map((c) => `<li>${escape(c.time)} · ${escape(c.institution)} · ${escape(c.bizStep)}${c.to ? ` → ${escape(c.to)}` : ''}</li>`).join('')}</ol>
${
  v.coldChain?.length
    ? `<h2>${t('冷链', 'Cold chain')}</h2><ol>${v.coldChain.map((c) => `<li>${escape(c.from)} → ${escape(c.to)}: ${escape(c.minC)}–${escape(c.maxC)} °C ${c.excursion ? t('（超温）', '(excursion)') : '✓'}</li>`).join('')}</ol>`
    : ''
}
<p class="muted">${t('区块', 'Block')} ${escape(v.proof?.height)} · ${t('交易', 'tx')} ${escape(v.proof?.txId)} · <a href="${escape(selfUrl)}${selfUrl.includes('?') ? '&' : '?'}format=json">JSON ${t('与默克尔证明', 'with Merkle proof')}</a></p>`
    : `<p>${t('该追溯码不在医链上。', 'This code is not on the MedChain ledger.')} <span class="muted">${escape(v.code)}</span></p>`
}
<p class="muted"><a href="?lang=${lang === 'zh' ? 'en' : 'zh'}">${lang === 'zh' ? 'English' : '中文'}</a> · 医链 MedChain</p></body></html>`;
}

export function drugRoutes(app: FastifyInstance, node: MedchainNode, drugs: DrugService): void {
  const tags = ['drugs'];
  const user = signedUser;

  const answer = async (request: FastifyRequest, reply: FastifyReply, code: string) => {
    const v = await drugs.verify(code);
    const q = request.query as { format?: string; lang?: string };
    const wantsJson = q.format === 'json' || (!q.format && (request.headers.accept ?? '').includes('application/json') && !(request.headers.accept ?? '').includes('text/html'));
    if (wantsJson) return reply.send(v);
    const lang = q.lang === 'en' || (!q.lang && !/zh/i.test(request.headers['accept-language'] ?? 'zh')) ? 'en' : 'zh';
    return reply.type('text/html; charset=utf-8').send(page(v, lang, request.url.split('?')[0]!));
  };

  const verifyQuery = Type.Object({ format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html')])), lang: Type.Optional(Type.Union([Type.Literal('zh'), Type.Literal('en')])) });
  app.get(
    '/01/:gtin/10/:lot/21/:serial',
    { schema: { tags, summary: 'GS1 Digital Link resolver: what the QR code on a pack opens (HTML page, or JSON with ?format=json / Accept: application/json)', querystring: verifyQuery } },
    handled(async (request, reply) => {
      const { gtin, serial } = request.params as { gtin: string; serial: string };
      return answer(request, reply, `sgtin:${gtin}.${serial}`);
    }),
  );
  app.get(
    '/01/:gtin/21/:serial',
    { schema: { tags, summary: 'GS1 Digital Link resolver without the lot', querystring: verifyQuery } },
    handled(async (request, reply) => {
      const { gtin, serial } = request.params as { gtin: string; serial: string };
      return answer(request, reply, `sgtin:${gtin}.${serial}`);
    }),
  );
  app.get(
    '/v1/drugs/verify',
    {
      schema: {
        tags,
        summary: 'Verify a pack code in any form (Digital Link, element string, EPC URN, 20-digit 药品追溯码); JSON by default',
        querystring: Type.Object({ code: Type.String({ minLength: 1, maxLength: 300 }), format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html')])), lang: Type.Optional(Type.Union([Type.Literal('zh'), Type.Literal('en')])) }),
      },
    },
    handled(async (request, reply) => {
      const q = request.query as { code: string; format?: string };
      if (!q.format) (request.query as { format?: string }).format = 'json';
      return answer(request, reply, q.code);
    }),
  );
  app.get(
    '/v1/drugs/qr',
    {
      schema: {
        tags,
        summary: "A pack's QR code (its GS1 Digital Link on this node) as SVG or PNG",
        querystring: Type.Object({ code: Type.String({ minLength: 1, maxLength: 300 }), format: Type.Optional(Type.Union([Type.Literal('svg'), Type.Literal('png')])), base: Type.Optional(Type.String({ pattern: '^https?://[^\\s/]+$' })) }),
      },
    },
    handled(async (request, reply) => {
      const q = request.query as { code: string; format?: 'svg' | 'png'; base?: string };
      const parsed = parseCode(q.code);
      if (parsed.kind === 'sscc') throw new CodedError('INVALID_CODE', 'QR codes are made for packs (an SGTIN or a 20-digit code)');
      const found = node.query('drugs', 'code', { code: parsed.kind === 'cn' ? parsed.code : `sgtin:${parsed.gtin}.${parsed.serial}` }) as { kind: string; gtin: string; lot: string; serial: string };
      if (found.kind !== 'pack') throw new CodedError('INVALID_CODE', 'QR codes are made for packs');
      const pack = found;
      const url = packDigitalLink(pack.gtin, pack.lot, pack.serial, q.base ?? `${request.protocol}://${request.headers.host ?? '127.0.0.1'}`);
      if (q.format === 'png') return reply.type('image/png').send(await QRCode.toBuffer(url, { errorCorrectionLevel: 'M', margin: 2, width: 320 }));
      return reply.type('image/svg+xml').send(await QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }));
    }),
  );

  const staffOf = (did: string) => node.query('identity', 'resolveKey', { did }) as { kind: string; institution?: string; subject: string };
  const isOverseer = (key: { kind: string; institution?: string; subject: string }) =>
    key.kind === 'staff' && (node.query('identity', 'staff', { institution: key.institution, staffId: key.subject }) as { roles: string[] }).roles.some((r) => r === 'regulator' || r === 'auditor');

  app.get(
    '/v1/drugs/inventory',
    {
      schema: {
        tags,
        summary: "Stock at a holder per product and batch, with expired, expiring-soon and recalled flags (the holder's staff, the regulator)",
        querystring: Type.Object({ holder: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' }), expiringWithinDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })) }),
      },
    },
    handled(async (request) => {
      const key = staffOf(user(request).did);
      const q = request.query as { holder: string; expiringWithinDays?: number };
      if (key.institution !== q.holder && !isOverseer(key)) throw new CodedError('FORBIDDEN', "stock is seen by the holder's own staff and the regulator");
      return drugs.inventory(q.holder, q.expiringWithinDays);
    }),
  );
  app.get(
    '/v1/drugs/reports/expiring',
    {
      schema: {
        tags,
        summary:
          "Expiring-soon report: stock whose batch expires within withinDays (default 90) of today (the latest block's day, UTC+8), already " +
          "expired stock flagged, sorted by expiry. A holder's staff see their institution's; the regulator and auditors any holder's, or every holder's without `holder`",
        querystring: Type.Object({
          holder: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{1,63}$' })),
          withinDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 3650 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        }),
      },
    },
    handled(async (request) => {
      const key = staffOf(user(request).did);
      const q = request.query as { holder?: string; withinDays?: number; limit?: number };
      const overseer = isOverseer(key);
      const holder = q.holder ?? (overseer ? undefined : key.institution);
      if (!overseer && (!holder || holder !== key.institution)) throw new CodedError('FORBIDDEN', "stock is seen by the holder's own staff and the regulator");
      return drugs.expiringReport({ ...(holder ? { holder } : {}), ...(q.withinDays !== undefined ? { withinDays: q.withinDays } : {}), ...(q.limit ? { limit: q.limit } : {}) });
    }),
  );
  app.get(
    '/v1/drugs/reports/regulator',
    { schema: { tags, summary: 'Suspected counterfeits and diversions (suspicious scans) and recalled stock still held: for the regulator and auditors' } },
    handled(async (request) => {
      if (!isOverseer(staffOf(user(request).did))) throw new CodedError('FORBIDDEN', 'for the regulator and auditors');
      return drugs.regulatorReport();
    }),
  );

  app.post(
    '/epcis/capture',
    { schema: { tags, summary: 'Capture an EPCIS 2.0 JSON-LD document (signed by the capturing user); invalid documents return the validator errors and write nothing',
        description:
          'A `dispensing` event names the patient in `medchain:patientId` and the prescription it fills in `medchain:prescription` (the id of a ' +
          "MedicationRequest record of that patient on the ledger; PRESCRIPTION_REQUIRED, PRESCRIPTION_NOT_FOUND, NOT_A_PRESCRIPTION, PRESCRIPTION_MISMATCH otherwise). " +
          'An over-the-counter `retail_selling` event may omit the prescription.',
      } },
    handled(async (request, reply) => {
      const results = await drugs.capture(user(request), request.body);
      const failed = results.filter((r) => r.status === 'error').length;
      return reply.code(failed === results.length ? 422 : 201).send({ captured: results.length - failed, failed, results });
    }),
  );
  app.get(
    '/epcis/events/:eventID',
    { schema: { tags, summary: 'One event as captured (EPCIS 2.0 JSON), by its CBV 2.0 hash id (consortium members)', params: Type.Object({ eventID: Type.String({ maxLength: 200 }) }) } },
    handled(async (request) => {
      user(request);
      return drugs.capturedEvent((request.params as { eventID: string }).eventID);
    }),
  );
  app.get(
    '/epcis/events',
    {
      schema: {
        tags,
        summary: 'Query captured events by code, business step, disposition, location or institution, and eventTime range [GE_eventTime, LT_eventTime) (consortium members)',
        querystring: Type.Object({
          bizStep: Type.Optional(Type.String({ maxLength: 60 })),
          disposition: Type.Optional(Type.String({ maxLength: 60 })),
          location: Type.Optional(Type.String({ maxLength: 200 })),
          institution: Type.Optional(Type.String({ maxLength: 64 })),
          GE_eventTime: Type.Optional(Type.String({ maxLength: 40 })),
          LT_eventTime: Type.Optional(Type.String({ maxLength: 40 })),
          code: Type.Optional(Type.String({ maxLength: 300 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        }),
      },
    },
    handled(async (request) => {
      user(request);
      const q = request.query as Record<string, string | number | undefined>;
      let code: string | undefined;
      if (q['code']) {
        const parsed = parseCode(String(q['code']));
        code = parsed.kind === 'cn' ? parsed.code : codeKey(parsed);
      }
      return {
        events: node.query('drugs', 'events', {
          ...(code ? { code } : {}),
          ...(q['bizStep'] ? { bizStep: q['bizStep'] } : {}),
          ...(q['disposition'] ? { disposition: q['disposition'] } : {}),
          ...(q['location'] ? { location: q['location'] } : {}),
          ...(q['institution'] ? { institution: q['institution'] } : {}),
          ...(q['GE_eventTime'] ? { from: q['GE_eventTime'] } : {}),
          ...(q['LT_eventTime'] ? { to: q['LT_eventTime'] } : {}),
          ...(q['limit'] ? { limit: Number(q['limit']) } : {}),
        }),
      };
    }),
  );
}
