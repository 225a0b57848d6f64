import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { testToken, writeTokenConfig } from '../support/tokens.js';

const HTML = { accept: 'text/html,application/xhtml+xml' };

async function page(c: TestCompter, path: string, headers: Record<string, string> = {}) {
  const res = await c.request(path, { headers: { ...HTML, ...headers } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function csrfOf(text: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(text);
  if (!m) throw new Error('no csrf field on the page');
  return m[1]!;
}

function form(fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { ...HTML, 'content-type': 'application/x-www-form-urlencoded', ...headers },
  };
}

describe('console, running open', () => {
  let c: TestCompter;
  beforeAll(async () => {
    c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
    await c.json('PUT', '/v1/debts/nightly-billing', {
      name: 'Invoice billing',
      schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' },
      grace: '15m',
      labels: { team: 'billing' },
    });
    await c.json('PUT', '/v1/debts/hourly-sync', { schedule: { every: '1h' }, labels: { team: 'data' } });
    await c.json('PUT', '/v1/debts/xss', { name: '<script>alert(1)</script>', schedule: { every: '1h' } });
  });
  afterAll(async () => c.cleanup());

  it('answers API clients on / with a JSON index of the API', async () => {
    const res = await c.json('GET', '/');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'compter', openapi: '/openapi.json', routes: { debts: '/v1/debts', slos: '/v1/slos' } });
  });

  it('lists debts with status words, schedules, labels and escaped names', async () => {
    const res = await page(c, '/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.text).toContain('href="/console/debts/nightly-billing"');
    expect(res.text).toContain('data-status="new"');
    expect(res.text).toContain('team=billing');
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('filters by text, status and label', async () => {
    const byLabel = await page(c, '/?label=team%3Ddata');
    expect(byLabel.text).toContain('data-debt="hourly-sync"');
    expect(byLabel.text).not.toContain('data-debt="nightly-billing"');
    const byText = await page(c, '/?q=invoice');
    expect(byText.text).toContain('data-debt="nightly-billing"');
    expect(byText.text).not.toContain('data-debt="hourly-sync"');
    const byStatus = await page(c, '/?status=overdue');
    expect(byStatus.text).toContain('No debt matches.');
  });

  it('answers a bad filter with 422, as HTML for browsers and in the one JSON error shape for others', async () => {
    const htmlRes = await page(c, '/?status=bogus&page=0');
    expect(htmlRes.status).toBe(422);
    expect(htmlRes.text).toContain('query.status');
    expect(htmlRes.text).toContain('query.page');
    const jsonRes = await c.request('/console/debts/nope', { headers: { accept: 'application/json' } });
    expect(jsonRes.status).toBe(404);
    expect(await jsonRes.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('shows a debt: schedule in words, upcoming deadlines across DST, ledger and events', async () => {
    const res = await page(c, '/console/debts/nightly-billing');
    expect(res.status).toBe(200);
    expect(res.text).toContain('02:00 Europe/Copenhagen daily, 15 min grace');
    // 02:00 in Copenhagen is 01:00 UTC in winter.
    expect(res.text).toContain('datetime="2026-11-21T01:00:00.000Z"');
    expect(res.text).toContain('debt.defined');
    expect((await page(c, '/console/debts/missing')).status).toBe(404);
    expect((await page(c, '/console/debts/..%2F..')).status).toBe(404);
  });

  it('pauses and resumes only through a form carrying the page’s CSRF value', async () => {
    const before = await page(c, '/console/debts/hourly-sync');
    const csrf = csrfOf(before.text);
    const forged = await c.request('/console/debts/hourly-sync/pause', form({ csrf: 'wrong' }));
    expect(forged.status).toBe(403);
    const crossSite = await c.request('/console/debts/hourly-sync/pause', form({ csrf }, { 'sec-fetch-site': 'cross-site' }));
    expect(crossSite.status).toBe(403);
    expect((await c.json('GET', '/v1/debts/hourly-sync')).body.paused).toBe(false);
    const paused = await c.request('/console/debts/hourly-sync/pause', form({ csrf }));
    expect(paused.status).toBe(303);
    expect((await c.json('GET', '/v1/debts/hourly-sync')).body.status).toBe('paused');
    const resumed = await c.request('/console/debts/hourly-sync/resume', form({ csrf }));
    expect(resumed.status).toBe(303);
    expect((await c.json('GET', '/v1/debts/hourly-sync')).body.paused).toBe(false);
  });

  it('answers a form body it cannot read with 400, never a 5xx', async () => {
    const broken = await c.request('/console/debts/hourly-sync/pause', {
      method: 'POST',
      body: '--x\r\nbroken',
      headers: { accept: 'application/json', 'content-type': 'multipart/form-data; boundary=x' },
    });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: 'bad_request' } });
    expect((await c.json('GET', '/v1/debts/hourly-sync')).body.paused).toBe(false);
    expect((await page(c, '/?page=99999999999999999999')).status).toBe(422);
  });

  it('shows the SLO list even with none defined', async () => {
    const res = await page(c, '/console/slos');
    expect(res.status).toBe(200);
    expect(res.text).toContain('No SLOs are defined');
  });
});

describe('console SLO page', () => {
  it("charts each job's run duration per business date, one bar per date with a run", async () => {
    const c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
    try {
      await c.json('PUT', '/v1/calendars/every-day', { tz: 'UTC', weekdays: [0, 1, 2, 3, 4, 5, 6] });
      const reports = [];
      // Three past business dates, each run a minute longer than the one before.
      for (const [i, date] of ['2026-11-17', '2026-11-18', '2026-11-19'].entries()) {
        const runId = `r-${i}`;
        reports.push({ application: 'deposits', job: 'load', status: 'start', time: `${date}T01:00:00Z`, businessDate: date, runId });
        reports.push({ application: 'deposits', job: 'load', status: 'succeed', time: `${date}T01:0${i + 1}:00Z`, runId });
      }
      expect((await c.json('POST', '/v1/job-status', reports)).status).toBeLessThan(300);
      const slo = { application: 'deposits', calendar: 'every-day', jobs: [{ job: 'load', expectedEnd: '03:00' }] };
      expect((await c.json('PUT', '/v1/slos/load-by-3', slo)).status).toBe(201);
      const res = await page(c, '/console/slos/load-by-3');
      expect(res.status).toBe(200);
      const section = /<section class="card job-duration"[\s\S]*?<\/section>/.exec(res.text)?.[0] ?? '';
      expect(section).toContain('Run duration of deposits/load');
      const bars = [...section.matchAll(/<rect class="bar[^"]*"[^>]*><title>([^<]*)<\/title>/g)].map((m) => m[1]);
      expect(bars).toEqual(['2026-11-17: 1 min', '2026-11-18: 2 min', '2026-11-19: 3 min']);
    } finally {
      await c.cleanup();
    }
  });
});

describe('console SLO page: honest rows', () => {
  it('shows what a row waits for, an excused row in its own colour, and leaves it out of the lateness chart', async () => {
    const c = await startTestCompter({ now: '2026-11-20T02:00:00Z' });
    try {
      await c.json('PUT', '/v1/calendars/every-day', { tz: 'UTC', weekdays: [0, 1, 2, 3, 4, 5, 6] });
      const slo = (job: string, expectedEnd: string, after: string[] = []) => ({
        application: 'deposits',
        calendar: 'every-day',
        jobs: [{ job, expectedEnd }],
        after,
      });
      expect((await c.json('PUT', '/v1/slos/extract-by-3', slo('extract', '03:00'))).status).toBe(201);
      expect((await c.json('PUT', '/v1/slos/publish-by-5', slo('publish', '05:00', ['extract-by-3']))).status).toBe(201);
      const window = { match: { slos: ['publish-by-5'] }, from: '2026-11-20T04:30:00Z', to: '2026-11-20T05:30:00Z' };
      expect((await c.json('PUT', '/v1/maintenance/upgrade', window)).status).toBe(201);

      // 04:00: extract is past its 03:00 deadline and has not run.
      c.clock.set(Date.parse('2026-11-20T04:00:00Z'));
      let res = await page(c, '/console/slos/publish-by-5');
      expect(res.text).toMatch(/Runs after<\/dt>\s*<dd><a class="id" href="\/console\/slos\/extract-by-3">extract-by-3<\/a><\/dd>/);
      const performance = () => /<table id="performance">[\s\S]*?<\/table>/.exec(res.text)?.[0] ?? '';
      expect(performance()).toMatch(/blocked by\s*<a href="\/console\/slos\/extract-by-3">extract-by-3<\/a>/);

      // publish delivers 20 minutes late, but its deadline fell inside the window.
      c.clock.set(Date.parse('2026-11-20T05:20:00Z'));
      const run = { application: 'deposits', job: 'publish', businessDate: '2026-11-20', runId: 'p-1' };
      await c.json('POST', '/v1/job-status', [
        { ...run, status: 'start', time: '2026-11-20T05:00:00Z' },
        { ...run, status: 'succeed', time: '2026-11-20T05:20:00Z' },
      ]);
      res = await page(c, '/console/slos/publish-by-5');
      expect(performance()).toContain('<span class="pill idle" data-status="excused">excused</span>');
      expect(performance()).not.toContain('blocked by');
      const chart = /<section aria-labelledby="chart-h">[\s\S]*?<\/section>/.exec(res.text)?.[0] ?? '';
      expect(chart).not.toContain('2026-11-20');
      const list = await page(c, '/console/slos');
      expect(list.text).toMatch(/data-slo="publish-by-5"[\s\S]*?data-status="excused"/);
    } finally {
      await c.cleanup();
    }
  });
});

describe('console upcoming deadlines', () => {
  it('lists the next deadlines across the end of summer time', async () => {
    const c = await startTestCompter({ now: '2026-10-22T12:00:00Z' });
    try {
      await c.json('PUT', '/v1/debts/nightly', { schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' }, grace: '15m' });
      const res = await page(c, '/console/debts/nightly');
      // 02:00 in Copenhagen is 00:00 UTC in summer time, also on 25 October (02:00 comes twice
      // that night; the first counts), and 01:00 UTC from the 26th.
      expect(res.text).toContain('datetime="2026-10-25T00:00:00.000Z"');
      expect(res.text).toContain('datetime="2026-10-26T01:00:00.000Z"');
      expect(res.text).toContain('datetime="2026-10-26T01:15:00.000Z"');
    } finally {
      await c.cleanup();
    }
  });
});

describe('console with tokens', () => {
  let c: TestCompter;
  let dir: string;
  const reader = testToken('reader', 'alpha', ['read']);
  const writer = testToken('writer', 'alpha', ['write']);
  const other = testToken('other', 'beta', ['read']);
  const pinger = testToken('pinger', 'alpha', ['ping']);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'compter-console-'));
    const configFile = join(dir, 'compter.yaml');
    await writeTokenConfig(configFile, [reader, writer, other, pinger]);
    c = await startTestCompter({ env: { COMPTER_CONFIG: configFile } });
    const put = await c.request('/v1/debts/alpha-job', {
      method: 'PUT',
      body: JSON.stringify({ schedule: { every: '1h' } }),
      headers: { authorization: `Bearer ${writer.secret}`, 'content-type': 'application/json' },
    });
    expect(put.status).toBe(201);
  });
  afterAll(async () => {
    await c.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function logIn(secret: string) {
    const res = await c.request('/console/login', form({ token: secret }));
    return { status: res.status, cookie: res.headers.get('set-cookie') ?? '' };
  }

  it('shows nothing but the login form before a token is entered', async () => {
    const res = await c.request('/', { headers: HTML });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/login');
    expect((await page(c, '/console/debts/alpha-job')).status).toBe(303);
    const login = await page(c, '/console/login');
    expect(login.text).toContain('name="token"');
    expect(login.text).not.toContain('alpha-job');
    expect((await c.request('/console/debts/alpha-job/pause', form({ csrf: 'x' }))).status).toBe(401);
  });

  it('keeps the token in an HttpOnly SameSite=Strict cookie and shows only its project', async () => {
    const bad = await logIn('cpt_not_a_token');
    expect(bad.status).toBe(401);
    const { status, cookie } = await logIn(reader.secret);
    expect(status).toBe(303);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const session = cookie.split(';')[0]!;
    const list = await page(c, '/', { cookie: session });
    expect(list.text).toContain('data-debt="alpha-job"');
    const beta = await logIn(other.secret);
    const betaList = await page(c, '/', { cookie: beta.cookie.split(';')[0]! });
    expect(betaList.text).not.toContain('alpha-job');
    expect((await page(c, '/console/debts/alpha-job', { cookie: beta.cookie.split(';')[0]! })).status).toBe(404);
  });

  it('offers pause only to a write token, and refuses it to a read token', async () => {
    const readSession = (await logIn(reader.secret)).cookie.split(';')[0]!;
    const readPage = await page(c, '/console/debts/alpha-job', { cookie: readSession });
    expect(readPage.text).toContain('needs a token with the write scope');
    const refused = await c.request('/console/debts/alpha-job/pause', form({ csrf: csrfOf(readPage.text) }, { cookie: readSession }));
    expect(refused.status).toBe(403);
    const writeSession = (await logIn(writer.secret)).cookie.split(';')[0]!;
    const writePage = await page(c, '/console/debts/alpha-job', { cookie: writeSession });
    const ok = await c.request('/console/debts/alpha-job/pause', form({ csrf: csrfOf(writePage.text) }, { cookie: writeSession }));
    expect(ok.status).toBe(303);
    expect((await page(c, '/console/debts/alpha-job', { cookie: writeSession })).text).toContain('Resume this debt');
  });

  it('refuses a token without read scope at login, and logout clears the cookie', async () => {
    expect((await logIn(pinger.secret)).status).toBe(403);
    const session = (await logIn(reader.secret)).cookie.split(';')[0]!;
    const list = await page(c, '/', { cookie: session });
    const out = await c.request('/console/logout', form({ csrf: csrfOf(list.text) }, { cookie: session }));
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/compter_console=;.*Max-Age=0/i);
  });
});
