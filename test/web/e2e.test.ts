import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, startNodeProcess, type NodeProcess } from '../helpers/cli-process.js';
import { buildWeb, chromiumAvailable, launchBrowser } from '../helpers/browser.js';

/**
 * The web application end to end, in Debian's headless Chromium against a real demo node started here:
 * a patient grants a consent that hides a field, a doctor at another institution reads with it withheld, the
 * patient sees that access, revokes, and the doctor's next read is denied; language switch; a phone screen;
 * every portal renders. MEDCHAIN_SCREENSHOTS=docs/screenshots saves a picture of each portal.
 */

const SHOTS = process.env['MEDCHAIN_SCREENSHOTS'];
const DOCTOR = 'dr-huang-lei@hexi-health-centre'; // 河西乡卫生院: patient 1 is not registered there

interface DemoPeople {
  patients: Array<{ handle: string; patientId: string; name: string; gender: string; birthDate: string; institutions: string[] }>;
  staff: Array<{ handle: string; name: string; roles: string[] }>;
}

let node: NodeProcess;
let dataDir: string;
let browser: { context: BrowserContext; close(): Promise<void> };
let people: DemoPeople;
let address: string;

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The highlighted option of the open antd Select once typing has filtered it (Enter picks it). */
const activeOption = (page: Page, text: string) => page.locator('.ant-select-item-option-active:visible', { hasText: text }).first();

/** Signs in as a demo person by typing the start of their label in the sign-in list (keyboard only). */
async function signIn(page: Page, label: string): Promise<void> {
  await page.goto(`${node.url}/login`);
  await page.locator('#demo-person').click();
  await page.keyboard.type(label);
  await activeOption(page, label).waitFor();
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: /^(登录|Sign in)$/ }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 20_000 });
}

const patientLabel = (p: DemoPeople['patients'][number]) => `${p.name} · ${p.gender === 'male' ? '男' : '女'} · ${p.birthDate.slice(0, 4)}`;

describe.skipIf(!chromiumAvailable())('web application in Chromium', () => {
  beforeAll(async () => {
    buildWeb();
    dataDir = mkdtempSync(join(tmpdir(), 'medchain-web-e2e-'));
    const init = await runCli(['init', '--data', dataDir, '--demo']);
    expect(init.code, init.stderr).toBe(0);
    node = await startNodeProcess(dataDir, await freePort());
    people = (await (await fetch(`${node.url}/v1/demo/people`)).json()) as DemoPeople;
    address = (JSON.parse(readFileSync(join(dataDir, 'demo', 'people.json'), 'utf8')) as Array<{ n: number; address: string }>)[0]!.address;
    browser = await launchBrowser();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the app at / and client routes, while API, docs and Digital Link routes keep answering', async () => {
    const html = await fetch(`${node.url}/patient/consents`, { headers: { accept: 'text/html' } });
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('<div id="root">');
    const api = await fetch(`${node.url}/v1/no-such-route`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await fetch(`${node.url}/openapi.json`)).status).toBe(200);
    const link = await fetch(`${node.url}/01/06901234560015/10/AMX2605A/21/100030`, { headers: { accept: 'text/html' } });
    expect(link.status).toBe(200);
    expect(await link.text()).not.toContain('<div id="root">');
  });

  it('consent with a hidden field → doctor elsewhere reads without it → patient sees the access → revokes → doctor is denied', async () => {
    const patient = people.patients.find((p) => p.handle === 'patient:1')!;
    const doctor = people.staff.find((s) => s.handle === DOCTOR)!;
    const patientPage = await browser.context.newPage();
    const doctorPage = await browser.context.newPage(); // its own tab: its own session

    // Before any consent the doctor at another institution may see nothing.
    await signIn(doctorPage, `${doctor.name} · 医生`);
    expect(new URL(doctorPage.url()).pathname).toBe('/clinician');
    await doctorPage.locator('#patient-id').fill(patient.patientId);
    await doctorPage.getByRole('button', { name: '打开', exact: true }).click();
    await expect.poll(() => doctorPage.locator('[data-testid=access-denied]').count(), { timeout: 20_000 }).toBe(1);

    // The patient grants a consent to that doctor, hiding the home address, and reads it back in plain words.
    await signIn(patientPage, patientLabel(patient));
    expect(new URL(patientPage.url()).pathname).toBe('/patient');
    await patientPage.locator('.ant-collapse-header').filter({ hasText: '急性上呼吸道感染' }).first().waitFor({ timeout: 20_000 });
    await shot(patientPage, 'patient-records');
    await patientPage.getByRole('tab', { name: '授权管理' }).click();
    await patientPage.locator('#consent-user').click();
    await patientPage.keyboard.type(doctor.name);
    await activeOption(patientPage, doctor.name).waitFor();
    await patientPage.keyboard.press('Enter');
    await patientPage.locator('#consent-hide').click();
    await patientPage.keyboard.type('住址');
    await activeOption(patientPage, '住址').waitFor();
    await patientPage.keyboard.press('Enter');
    await patientPage.keyboard.press('Escape');
    const preview = patientPage.locator('[data-testid=consent-preview]');
    await expect.poll(() => preview.textContent()).toContain(`允许河西乡卫生院的${doctor.name}为了“诊疗”查看您的全部病历，但不包括：住址。`);
    await shot(patientPage, 'patient-consents');
    await patientPage.getByRole('button', { name: '确认授权' }).click();
    await patientPage.getByText('授权已生效').waitFor({ timeout: 20_000 });
    await expect.poll(() => patientPage.locator('[data-testid=consent-item]').filter({ hasText: doctor.name }).filter({ hasText: '生效中' }).count()).toBe(1);

    // The doctor now reads the chart: records released, the address withheld and nowhere on the page.
    await doctorPage.getByRole('button', { name: '刷新' }).click();
    await doctorPage.locator('[data-testid=released-count]').waitFor({ timeout: 20_000 });
    await expect.poll(() => doctorPage.locator('[data-testid=withheld-field]').first().textContent()).toContain('住址');
    expect(await doctorPage.content()).not.toContain(address);
    await expect.poll(() => doctorPage.locator('.ant-collapse-header').filter({ hasText: '急性上呼吸道感染' }).count()).toBeGreaterThan(0);
    await shot(doctorPage, 'clinician-chart');

    // The patient sees who read, from where, why, and what was hidden.
    await patientPage.getByRole('tab', { name: '访问记录' }).click();
    const event = patientPage.locator('[data-testid=access-event]').filter({ hasText: doctor.name }).first();
    await event.waitFor({ timeout: 20_000 });
    expect(await event.textContent()).toContain('河西乡卫生院');
    expect(await event.textContent()).toContain('诊疗');
    expect(await event.textContent()).toContain('住址');
    await shot(patientPage, 'patient-access-log');

    // Revoke in one action (and confirm); the doctor's next read is denied.
    await patientPage.getByRole('tab', { name: '授权管理' }).click();
    const item = patientPage.locator('[data-testid=consent-item]').filter({ hasText: doctor.name }).filter({ hasText: '生效中' });
    await item.getByRole('button', { name: '撤销' }).click();
    await patientPage.locator('.ant-popconfirm').getByRole('button', { name: '撤销' }).click();
    await patientPage.getByText('已撤销授权').waitFor({ timeout: 20_000 });
    await doctorPage.getByRole('button', { name: '刷新' }).click();
    await expect.poll(() => doctorPage.locator('[data-testid=access-denied]').count(), { timeout: 20_000 }).toBe(1);
    expect(await doctorPage.locator('[data-testid=withheld-field]').count()).toBe(0);
    await shot(doctorPage, 'clinician-denied');

    // The denied attempt is in the patient's log too.
    await patientPage.getByRole('tab', { name: '访问记录' }).click();
    await patientPage.getByText('被拒绝的').click();
    await expect.poll(() => patientPage.locator('[data-testid=access-event]').filter({ hasText: doctor.name }).count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await patientPage.close();
    await doctorPage.close();
  }, 180_000);

  it('an emergency doctor breaks the glass with a reason; the patient sees it highlighted', async () => {
    // A demo patient registered only at township level, with no consent covering the county hospital's doctors.
    const patient = people.patients.find((p) => p.handle === 'patient:5')!;
    expect(patient.institutions).not.toContain('qingshan-county-hospital');
    const page = await browser.context.newPage();
    await signIn(page, '王丽 · 医生、急诊');
    await page.locator('#patient-id').fill(patient.patientId);
    await page.getByRole('button', { name: '打开', exact: true }).click();
    await expect.poll(() => page.locator('[data-testid=access-denied]').count(), { timeout: 20_000 }).toBe(1);
    await page.getByRole('button', { name: '紧急访问（破窗）' }).click();
    const confirm = page.getByRole('button', { name: '我确认，立即访问' });
    await page.locator('#glass-reason').fill('太短');
    expect(await confirm.isDisabled()).toBe(true); // a reason of at least 10 characters is required
    await page.locator('#glass-reason').fill('患者昏迷送入急诊，需立即查看过敏史和用药史');
    await confirm.click();
    await page.getByText('紧急访问中').waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('[data-testid=released-count]').textContent(), { timeout: 20_000 }).not.toContain('0 条');
    await shot(page, 'clinician-break-glass');

    await page.evaluate('sessionStorage.clear()');
    await signIn(page, patientLabel(patient));
    await page.getByRole('tab', { name: '访问记录' }).click();
    await page.getByText('有 1 次紧急访问').or(page.getByText(/有 \d+ 次紧急访问/)).first().waitFor({ timeout: 20_000 });
    await page.getByText('紧急访问', { exact: true }).first().click();
    const event = page.locator('[data-testid=access-event]').filter({ hasText: '王丽' }).first();
    await event.waitFor({ timeout: 20_000 });
    expect(await event.textContent()).toContain('患者昏迷送入急诊');
    await page.close();
  }, 90_000);

  it('switches between Chinese (default) and English, every visible string included', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${node.url}/login`);
    await page.getByRole('button', { name: '登录' }).waitFor();
    expect(await page.evaluate('document.documentElement.lang')).toBe('zh-CN');
    await shot(page, 'login');
    await page.getByText('EN', { exact: true }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('document.documentElement.lang')).toBe('en');
    try {
      await signIn(page, 'Zhou Wenbo');
      await page.getByRole('tab', { name: 'Consents' }).waitFor({ timeout: 20_000 });
      // No Chinese interface text is left (record content may be Chinese: what a doctor wrote is not translated).
      const chrome = await page.locator('.mc-brand, .mc-header .ant-menu, .mc-header-right button, .ant-tabs-nav, .mc-page-title, .mc-footer').allTextContents();
      expect(chrome.join(' ')).not.toMatch(/[\u4e00-\u9fff]/);
      await page.getByRole('tab', { name: 'Consents' }).click();
      const form = await page.locator('.ant-card').filter({ hasText: 'Grant a consent' }).textContent();
      expect(form).not.toMatch(/[\u4e00-\u9fff]/);
      await shot(page, 'patient-consents-en');
    } finally {
      // The choice is remembered in the browser: leave it in Chinese for the other tests.
      await page.getByText('中文', { exact: true }).click();
      await page.close();
    }
  }, 60_000);

  it('works on a phone-sized screen', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    const patient = people.patients.find((p) => p.handle === 'patient:2')!;
    await signIn(page, patientLabel(patient));
    await page.getByRole('tab', { name: '我的病历' }).waitFor({ timeout: 20_000 });
    await page.locator('.ant-collapse').first().waitFor({ timeout: 20_000 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'phone-patient');
    await page.goto(`${node.url}/verify`);
    await page.locator('#verify-code').fill('https://id.gs1.org/01/06901234560015/21/100030');
    await page.getByRole('button', { name: '验证', exact: true }).click();
    await page.getByText('正品，可放心使用').waitFor({ timeout: 20_000 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'phone-verify-medicine');
    await page.close();
  }, 60_000);

  it('pharmacy warns before dispensing a recalled pack; regulator charts; explorer verifies a proof in the browser', async () => {
    const page = await browser.context.newPage();
    await signIn(page, '高萍 · 药师');
    expect(new URL(page.url()).pathname).toBe('/pharmacy');
    await page.locator('#dispense-code').fill('sgtin:06901234560039.100005');
    await page.getByRole('button', { name: '核验' }).click();
    await page.getByText('核验未通过：请勿发药').waitFor({ timeout: 20_000 });
    await page.getByText('该批次已被召回').first().waitFor();
    expect(await page.getByRole('button', { name: '确认发药' }).isDisabled()).toBe(true);
    await shot(page, 'pharmacy-dispense');

    await page.evaluate('sessionStorage.clear()');
    await signIn(page, '罗斌 · 监管');
    expect(new URL(page.url()).pathname).toBe('/regulator');
    await page.getByText('可疑扫码明细').waitFor({ timeout: 20_000 });
    // Consortium health comes from /v1/consortium/health: the node's row with its lag column.
    await page.getByRole('columnheader', { name: '落后区块' }).waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('canvas').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await shot(page, 'regulator-dashboard');

    await page.goto(`${node.url}/explorer`);
    await page.locator('tbody tr.ant-table-row').first().click();
    await page.locator('.ant-drawer tbody tr.ant-table-row').first().click();
    await page.locator('[data-testid=verify-proof]').click();
    await page.getByText('验证通过：该交易包含在本区块中').waitFor({ timeout: 20_000 });
    await shot(page, 'explorer-proof');
    await page.close();
  }, 120_000);
});
