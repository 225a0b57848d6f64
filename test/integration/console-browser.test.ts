import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibilityViolations, allowOnlyOrigin, launchBrowser, type TestBrowser } from '../support/browser.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { testToken, writeTokenConfig } from '../support/tokens.js';

// The screenshots the README shows are the ones these tests take.
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'console');

async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function statusOfRow(page: Page, debt: string): Promise<string | null> {
  return page.locator(`tr[data-debt="${debt}"] td:nth-child(2) .pill`).getAttribute('data-status');
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await accessibilityViolations(page)).toEqual([]);
}

describe('console in a real browser, running open', () => {
  let compter: CompterProcess;
  let dataDir: string;
  let browser: TestBrowser;
  let page: Page;
  let foreign: string[];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'compter-console-e2e-'));
    compter = await startCompterProcess({ COMPTER_DATA_DIR: dataDir, COMPTER_TRENDS_REFRESH_SECONDS: '1' });
    const base = compter.url;
    expect(
      (
        await api(base, 'PUT', '/v1/debts/nightly-billing', {
          name: 'Invoice billing',
          schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' },
          grace: '15m',
          labels: { team: 'billing' },
        })
      ).status,
    ).toBe(201);
    await api(base, 'PUT', '/v1/debts/report-export', {
      name: 'Report export',
      schedule: { every: '1h' },
      grace: '10m',
      labels: { team: 'data' },
    });
    for (const [i, seconds] of [41, 44, 43, 47, 52, 50, 55].entries()) {
      const paid = await api(base, 'POST', '/v1/debts/report-export/payments', {
        kind: 'success',
        runId: `r${i}`,
        durationSeconds: seconds,
        message: `exported ${1000 + i * 37} rows\nupload ok`,
      });
      expect(paid.status).toBe(200);
    }
    // Rows for business dates before an SLO exists are not derived, so both SLOs close today:
    // one due at 23:59 UTC, paid now (on time); one due a minute or two from now, paid four
    // minutes ahead (inside the allowed clock skew, so late).
    expect((await api(base, 'PUT', '/v1/calendars/every-day', { tz: 'UTC', weekdays: [0, 1, 2, 3, 4, 5, 6] })).status).toBe(201);
    const soon = new Date(Date.now() + 120_000).toISOString().slice(11, 16);
    for (const [id, name, job, expectedEnd] of [
      ['deposits-overnight', 'Deposits overnight', 'overdraft-calc', soon],
      ['deposits-daytime', 'Deposits daytime', 'interest-accrual', '23:59'],
    ] as const) {
      const slo = await api(base, 'PUT', `/v1/slos/${id}`, {
        name,
        application: 'deposits',
        calendar: 'every-day',
        jobs: [{ application: 'deposits', job, expectedStart: '00:00', expectedEnd }],
        slack: '23h',
      });
      expect(slo.status).toBe(201);
    }
    const today = new Date().toISOString().slice(0, 10);
    const started = new Date(Date.now() - 90_000).toISOString();
    const reports = [
      ['overdraft-calc', new Date(Date.now() + 240_000).toISOString()],
      ['interest-accrual', new Date().toISOString()],
    ].flatMap(([job, ended]) => [
      { application: 'deposits', job, status: 'start', time: started, businessDate: today, runId: `${job}-${today}` },
      { application: 'deposits', job, status: 'succeed', time: ended, businessDate: today, runId: `${job}-${today}` },
    ]);
    expect((await api(base, 'POST', '/v1/job-status', reports)).status).toBe(200);
    browser = await launchBrowser({ viewport: { width: 1280, height: 800 }, timezoneId: 'Europe/Copenhagen', locale: 'en-GB' });
    page = browser.page;
    foreign = await allowOnlyOrigin(page, base);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await compter?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists debts whose status changes when one falls overdue and when it is paid', async () => {
    // Defined here, not with the others: seeding them may take longer than its interval.
    const defined = await api(compter.url, 'PUT', '/v1/debts/quick-loop', {
      name: 'Queue drain',
      schedule: { every: '6s' },
      grace: '0s',
      labels: { team: 'ops' },
    });
    expect(defined.status).toBe(201);
    await page.goto(`${compter.url}/`);
    expect(await page.title()).toContain('Debts');
    expect(await statusOfRow(page, 'quick-loop')).toBe('new');
    // No reload: the page's own script refreshes the list in place (every 10 s).
    const loadedAt = await page.evaluate('performance.timeOrigin');
    await expect.poll(() => statusOfRow(page, 'quick-loop'), { timeout: 25_000, interval: 500 }).toBe('overdue');
    expect(await page.evaluate('performance.timeOrigin')).toBe(loadedAt);
    // Overdue debts come first.
    expect(await page.locator('tbody tr').first().getAttribute('data-debt')).toBe('quick-loop');
    expect(await page.locator('tr[data-debt="quick-loop"] .pill').first().textContent()).toBe('overdue');
    await api(compter.url, 'POST', '/v1/debts/quick-loop/payments', { kind: 'success' });
    await page.reload();
    expect(await statusOfRow(page, 'quick-loop')).toBe('up');
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'debts.png'), fullPage: true });
  }, 45_000);

  it('filters by text, status and label with the form', async () => {
    await page.goto(`${compter.url}/`);
    await page.getByLabel('Search').fill('invoice');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/q=invoice/);
    expect(await page.locator('tbody tr[data-debt]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-debt')))).toEqual([
      'nightly-billing',
    ]);
    await page.goto(`${compter.url}/`);
    await page.getByLabel('Label').fill('team=data');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/label=team/);
    expect(await page.locator('tbody tr[data-debt]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-debt')))).toEqual([
      'report-export',
    ]);
    await page.goto(`${compter.url}/`);
    await page.getByLabel('Status').selectOption('new');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/status=new/);
    expect(await page.locator('tbody tr[data-debt]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-debt')))).toEqual([
      'nightly-billing',
    ]);
  });

  it('navigates to a debt: schedule in words, deadlines in the viewer’s zone, ledger, events, chart; pause and resume', async () => {
    await page.goto(`${compter.url}/`);
    await page.getByRole('link', { name: 'Invoice billing' }).click();
    await page.waitForURL(/\/console\/debts\/nightly-billing$/);
    expect(await page.locator('#schedule-words').textContent()).toBe('02:00 Europe/Copenhagen daily, 15 min grace');
    // The server writes UTC; the page script shows the viewer's zone: 02:15 in Copenhagen.
    const deadline = page.locator('section[aria-labelledby="upcoming-h"] tbody tr td:nth-child(3) time').first();
    expect(await deadline.textContent()).toMatch(/02:15/);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'debt-upcoming.png'), fullPage: true });

    await page.goto(`${compter.url}/console/debts/report-export`);
    expect(await page.locator('#ledger tbody tr').count()).toBeGreaterThanOrEqual(6);
    expect(await page.locator('#ledger').textContent()).toContain('55 s');
    expect(await page.locator('svg.chart rect.bar').count()).toBeGreaterThanOrEqual(6);
    expect(await page.locator('svg.chart line.trend').count()).toBe(1);
    expect(await page.locator('#events').textContent()).toContain('upload ok');
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'debt.png'), fullPage: true });

    await page.getByRole('button', { name: 'Pause this debt' }).click();
    await page.waitForLoadState();
    expect(await page.locator('h1 .pill').getAttribute('data-status')).toBe('paused');
    expect((await api(compter.url, 'GET', '/v1/debts/report-export')).body.paused).toBe(true);
    await page.getByRole('button', { name: 'Resume this debt' }).click();
    await page.waitForLoadState();
    expect((await api(compter.url, 'GET', '/v1/debts/report-export')).body.paused).toBe(false);
  });

  it('navigates to an SLO: performance rows per business date with status colours and lateness, and the trends', async () => {
    await page.goto(`${compter.url}/`);
    await page.getByRole('link', { name: 'SLOs and trends' }).click();
    await page.waitForURL(/\/console\/slos$/);
    // The list shows each SLO's current row: today's for the daytime one, which closed on time.
    expect(await page.locator('tr[data-slo="deposits-daytime"] .pill').getAttribute('data-status')).toBe('on_time');
    expect(await page.getByRole('heading', { name: 'Job trends' }).count()).toBe(1);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'slos.png'), fullPage: true });

    await page.getByRole('link', { name: 'Deposits overnight' }).click();
    await page.waitForURL(/\/console\/slos\/deposits-overnight$/);
    const today = new Date().toISOString().slice(0, 10);
    const row = page.locator('#performance tbody tr', { has: page.locator(`td:text-is("${today}")`) });
    expect(await row.locator('.pill').getAttribute('data-status')).toBe('late');
    expect(await row.locator('td:nth-child(7)').textContent()).toMatch(/ late$/);
    // One lateness bar (today's row); each job has its run-duration chart below the trends.
    expect(await page.locator('section[aria-labelledby="chart-h"] svg.chart rect.bar').count()).toBe(1);
    expect(await page.locator('section.job-duration').count()).toBeGreaterThan(0);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'slo.png'), fullPage: true });
  });

  it('works with JavaScript off', async () => {
    const noJs = await launchBrowser({ javaScriptEnabled: false });
    const p = noJs.page;
    const blocked = await allowOnlyOrigin(p, compter.url);
    await p.goto(`${compter.url}/?q=billing`);
    expect(await p.locator('tbody tr[data-debt]').count()).toBe(1);
    // Without the script the time stays in UTC, as the server wrote it.
    expect(await p.locator('tbody tr time').first().textContent()).toMatch(/UTC$/);
    await noJs.close();
    expect(blocked).toEqual([]);
  });

  it('made no request to any other origin', () => {
    expect(foreign).toEqual([]);
  });
});

describe('console in a real browser, with tokens', () => {
  let compter: CompterProcess;
  let dir: string;
  const alpha = testToken('alpha-ops', 'alpha', ['write']);
  const beta = testToken('beta-ops', 'beta', ['write']);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'compter-console-tokens-'));
    const config = join(dir, 'compter.yaml');
    await writeTokenConfig(config, [alpha, beta]);
    compter = await startCompterProcess({ COMPTER_DATA_DIR: join(dir, 'data'), COMPTER_CONFIG: config });
    expect((await api(compter.url, 'PUT', '/v1/debts/alpha-billing', { schedule: { every: '1h' } }, alpha.secret)).status).toBe(201);
    expect((await api(compter.url, 'PUT', '/v1/debts/beta-secret-job', { schedule: { every: '1h' } }, beta.secret)).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await compter?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows no data before login, only the token’s project after it, and nothing after logout', async () => {
    const browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
    const { context, page } = browser;
    const foreign = await allowOnlyOrigin(page, compter.url);
    const betaPingId = (await api(compter.url, 'GET', '/v1/debts/beta-secret-job', undefined, beta.secret)).body.pingId as string;
    expect(betaPingId).toMatch(/^[0-9a-f-]{36}$/);
    const seen: string[] = [];
    // A response whose body is still arriving when the page navigates away has no text any
    // more; it is not a page the user saw, so it is left out instead of failing the run later.
    page.on('response', (res) => {
      if (!res.headers()['content-type']?.includes('text/html')) return;
      res.text().then(
        (html) => seen.push(html),
        () => undefined,
      );
    });

    await page.goto(`${compter.url}/`);
    await page.waitForURL(/\/console\/login$/);
    expect(await page.content()).not.toContain('alpha-billing');
    await page.goto(`${compter.url}/console/debts/alpha-billing`);
    await page.waitForURL(/\/console\/login$/);
    await expectAccessible(page);
    await page.screenshot({ path: join(SHOTS, 'login.png'), fullPage: true });

    await page.getByLabel('Token').fill('cpt_wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    expect(await page.locator('#login-error').textContent()).toContain('Unknown or revoked token');

    await page.getByLabel('Token').fill(alpha.secret);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${compter.url}/`);
    expect(await page.locator('tr[data-debt="alpha-billing"]').count()).toBe(1);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'compter_console');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).not.toContain('compter_console');
    await page.goto(`${compter.url}/console/debts/beta-secret-job`);
    expect(await page.locator('h1').textContent()).toBe('Not found');
    expect(await page.locator('main').textContent()).not.toContain(betaPingId);

    await page.goto(`${compter.url}/`);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login$/);
    expect((await context.cookies()).some((c) => c.name === 'compter_console')).toBe(false);
    await page.goto(`${compter.url}/`);
    await page.waitForURL(/\/console\/login$/);

    expect(seen.length).toBeGreaterThan(3);
    expect(seen.some((body) => body.includes(betaPingId))).toBe(false);
    expect(seen.some((body) => body.includes('data-debt="beta-secret-job"'))).toBe(false);
    expect(foreign).toEqual([]);
    await browser.close();
  }, 30_000);
});
