import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { DomainError, ID_PATTERN, type DomainErrorCode, type Problem } from '../domain/problems.js';
import type { Clock } from '../domain/time/clock.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import type { SloEngine } from '../engine/slo-engine.js';
import type { SloTrendJson } from '../engine/trend-service.js';
import type { TokenRegistry } from '../http/auth.js';
import type { AppEnv } from '../http/env.js';
import { withRules, type RouteRules } from '../http/route-rules.js';
import { BadRequestError } from '../http/errors.js';
import type { TrendReader } from '../http/trend-routes.js';
import { apiIndex } from './api-index.js';
import { ConsoleAuth, isSameSiteForm, sessionGrants, type ConsoleSession } from './console-auth.js';
import { debtContent } from './debt-page.js';
import { byUrgency, DEBT_STATUSES, debtsContent, matchesFilter, PAGE_SIZE, type DebtFilter } from './debts-page.js';
import { page, type PageFrame } from './layout.js';
import { loginContent } from './login-page.js';
import { sloContent, slosContent } from './slo-pages.js';

/** What the console reads: the same engines the API routes call. */
export interface ConsoleDeps {
  engine: DebtEngine;
  slos?: SloEngine;
  trends?: TrendReader;
  tokens: TokenRegistry;
  clock: Clock;
  version: string;
  /** The console's external base URL (COMPTER_PUBLIC_URL), for the JSON index; relative links without it. */
  publicUrl?: string;
}

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;
type Ctx = Context<AppEnv>;

const DAY_MS = 86_400_000;
// How far the ledger looks back and the upcoming list ahead: a month of history, two weeks of
// deadlines (enough to see the next DST change or holiday in most schedules).
const LEDGER_DAYS = 31;
const UPCOMING_DAYS = 14;
const UPCOMING_ROWS = 10;
const LEDGER_ROWS = 60;
const EVENT_ROWS = 25;
const SLO_DAYS = 30;
const LIST_REFRESH_SECONDS = 10;

const STATUS_OF: Partial<Record<DomainErrorCode, ContentfulStatusCode>> = {
  invalid: 422,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  unavailable: 503,
  too_large: 413,
};

const filterSchema = z.object({
  q: z.string().max(200).default(''),
  status: z.union([z.literal(''), z.enum(DEBT_STATUSES)]).default(''),
  label: z.string().max(200).default(''),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
});

// The console authenticates by its own cookie (console-auth.ts), not by a bearer token, and
// is not charged against a project's rate limit.
const CONSOLE_RULES: Partial<RouteRules> & { scope: 'none' } = { scope: 'none', body: 'definition', rateLimit: 'none' };

type PageHandler = (c: Ctx) => Response | Promise<Response>;

/** Registers the console's pages: `/` (debts, or the JSON index for API clients) and `/console/*`. */
export function registerConsoleRoutes(app: OpenAPIHono<AppEnv>, deps: ConsoleDeps): void {
  const auth = new ConsoleAuth(deps.tokens);
  const get = (path: string, handler: PageHandler) => app.get(path, withRules(handler, CONSOLE_RULES));
  const post = (path: string, handler: PageHandler) => app.post(path, withRules(handler, CONSOLE_RULES));

  get('/', (c) => {
    if (!prefersHtml(c)) return c.json(apiIndex(deps.version, deps.publicUrl, Boolean(deps.slos), Boolean(deps.trends)));
    return withSession(c, auth, 'read', (session, nonce) => {
      const parsed = filterSchema.safeParse(c.req.query());
      if (!parsed.success) throw badQuery(parsed.error.issues);
      const filter: DebtFilter = { ...parsed.data, q: parsed.data.q.trim(), label: parsed.data.label.trim() };
      const project = session.principal.project;
      const all = deps.engine.briefs(project);
      const byStatus: Record<string, number> = {};
      for (const d of all) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
      const matching = all.filter((d) => matchesFilter(d, filter)).sort(byUrgency);
      const start = (filter.page - 1) * PAGE_SIZE;
      const rows = matching
        .slice(start, start + PAGE_SIZE)
        .map(({ id }) => ({ debt: deps.engine.get(project, id), lastOutcome: deps.engine.lastOutcome(project, id) }));
      const content = debtsContent(rows, { matching: matching.length, total: all.length, byStatus }, filter, deps.clock.now());
      return render(c, frame('Debts', 'debts', session, nonce, LIST_REFRESH_SECONDS), content);
    });
  });

  get('/console', (c) => c.redirect('/', 303));

  get('/console/login', (c) => {
    if (!auth.needsLogin) return c.redirect('/', 303);
    return render(c, { title: 'Log in', section: 'login', nonce: nonceOf() }, loginContent(null));
  });

  post('/console/login', async (c) => {
    if (!auth.needsLogin) return c.redirect('/', 303);
    if (c.req.header('sec-fetch-site') === 'cross-site') {
      const page = loginContent('Log in from this console’s own page.');
      return render(c, { title: 'Log in', section: 'login', nonce: nonceOf() }, page, 403);
    }
    const body = await formOf(c);
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    const principal = token ? auth.lookup(token) : null;
    if (!principal)
      return render(
        c,
        { title: 'Log in', section: 'login', nonce: nonceOf() },
        loginContent(token ? 'Unknown or revoked token.' : 'Enter a token.'),
        401,
      );
    if (!principal.scopes.some((s) => s === 'read' || s === 'write' || s === 'admin'))
      return render(
        c,
        { title: 'Log in', section: 'login', nonce: nonceOf() },
        loginContent(`Token "${principal.name}" has no read scope.`),
        403,
      );
    auth.logIn(c, token);
    return c.redirect('/', 303);
  });

  post('/console/logout', async (c) => {
    const session = auth.session(c);
    const body = await formOf(c);
    if (session && !isSameSiteForm(c, session, body.csrf)) {
      return errorPage(c, 403, 'This form did not come from the console’s own page.');
    }
    auth.logOut(c);
    return c.redirect(auth.needsLogin ? '/console/login' : '/', 303);
  });

  get('/console/debts/:id', (c) =>
    withSession(c, auth, 'read', async (session, nonce) => {
      const id = debtIdOf(c);
      const project = session.principal.project;
      const debt = deps.engine.get(project, id);
      const now = deps.clock.now();
      const occurrences = await deps.engine.occurrences(project, id, now - LEDGER_DAYS * DAY_MS, now + UPCOMING_DAYS * DAY_MS);
      const upcoming = occurrences.filter((o) => o.outcome === 'upcoming').slice(0, UPCOMING_ROWS);
      const ledger = occurrences
        .filter((o) => o.outcome !== 'upcoming')
        .reverse()
        .slice(0, LEDGER_ROWS);
      const events = await deps.engine.events(project, id, EVENT_ROWS);
      const content = debtContent({
        debt,
        upcoming,
        ledger,
        events,
        canWrite: sessionGrants(session, 'write'),
        csrf: session.csrf,
        nowMs: now,
      });
      return render(c, frame(debt.name || debt.id, 'debts', session, nonce), content);
    }),
  );

  for (const action of ['pause', 'resume'] as const) {
    post(`/console/debts/:id/${action}`, (c) =>
      withSession(c, auth, 'write', async (session) => {
        const id = debtIdOf(c);
        const body = await formOf(c);
        if (!isSameSiteForm(c, session, body.csrf)) return errorPage(c, 403, 'This form did not come from the console’s own page.');
        await deps.engine.setPaused(session.principal.project, id, action === 'pause');
        return c.redirect(`/console/debts/${id}`, 303);
      }),
    );
  }

  get('/console/slos', (c) =>
    withSession(c, auth, 'read', async (session, nonce) => {
      const project = session.principal.project;
      const slos = deps.slos ? deps.slos.listSlos(project) : [];
      const [sloTrends, jobs] = deps.trends
        ? await Promise.all([deps.trends.sloTrends(project), deps.trends.jobTrends(project)])
        : [[], []];
      const trendById = new Map<string, SloTrendJson>(sloTrends.map((t) => [t.sloId, t]));
      return render(c, frame('SLOs', 'slos', session, nonce, LIST_REFRESH_SECONDS * 3), slosContent(slos, trendById, jobs));
    }),
  );

  get('/console/slos/:id', (c) =>
    withSession(c, auth, 'read', async (session, nonce) => {
      if (!deps.slos) throw new DomainError('not_found', 'this compter serves no SLOs');
      const id = c.req.param('id') ?? '';
      if (!ID_PATTERN.test(id)) throw new DomainError('not_found', 'no such SLO');
      const project = session.principal.project;
      const slo = deps.slos.getSlo(project, id);
      // A day past today's UTC date covers calendars in zones ahead of UTC.
      const to = new Date(deps.clock.now() + DAY_MS).toISOString().slice(0, 10);
      const from = new Date(deps.clock.now() - SLO_DAYS * DAY_MS).toISOString().slice(0, 10);
      const rows = await deps.slos.performance(project, id, from, to);
      const [sloTrends, jobTrends, durations] = deps.trends
        ? await Promise.all([
            deps.trends.sloTrends(project),
            deps.trends.jobTrends(project),
            deps.trends.sloJobDurations?.(project, id) ?? [],
          ])
        : [[], [], []];
      const jobs = jobTrends.filter((j) => slo.jobs.some((s) => s.application === j.application && s.job === j.job));
      const content = sloContent(
        slo,
        rows,
        sloTrends.find((t) => t.sloId === id),
        jobs,
        durations,
      );
      return render(c, frame(slo.name || slo.id, 'slos', session, nonce), content);
    }),
  );
}

/** The posted form's fields; a body that is no readable form is a 400, never a 500. */
async function formOf(c: Ctx): Promise<Record<string, unknown>> {
  try {
    return await c.req.parseBody();
  } catch {
    throw new BadRequestError('the form body could not be read (send application/x-www-form-urlencoded)');
  }
}

function nonceOf(): string {
  return randomBytes(16).toString('base64');
}

function frame(title: string, section: PageFrame['section'], session: ConsoleSession, nonce: string, refreshSeconds?: number): PageFrame {
  const f: PageFrame = {
    title,
    section,
    nonce,
    who: { project: session.principal.project, name: session.principal.name, canLogOut: session.isLoggedIn, csrf: session.csrf },
  };
  if (refreshSeconds !== undefined) f.refreshSeconds = refreshSeconds;
  return f;
}

/** True when the client asks for HTML (browsers do); API clients and plain curl get JSON. */
function prefersHtml(c: Ctx): boolean {
  return (c.req.header('accept') ?? '').toLowerCase().includes('text/html');
}

function debtIdOf(c: Ctx): string {
  const id = c.req.param('id') ?? '';
  if (!ID_PATTERN.test(id)) throw new DomainError('not_found', 'no such debt');
  return id;
}

function badQuery(issues: readonly z.core.$ZodIssue[]): DomainError {
  const problems: Problem[] = issues.map((i) => ({ path: `query.${i.path.join('.')}`, message: i.message }));
  return new DomainError('invalid', 'the filter is not valid', problems);
}

// Pages show one project's data to whoever holds the cookie: never cached, never framed (the
// pause button must not be clickable through someone else's page), and no script or style
// runs but the page's own.
function securityHeaders(c: Ctx, nonce: string): void {
  c.header(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; ` +
      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'same-origin');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Cache-Control', 'no-store');
}

async function render(c: Ctx, f: PageFrame, content: Html, status: ContentfulStatusCode = 200): Promise<Response> {
  securityHeaders(c, f.nonce);
  return c.html(await page(f, content), status);
}

function errorPage(c: Ctx, status: ContentfulStatusCode, message: string, problems: readonly Problem[] = []): Promise<Response> {
  const content = html`<h1>${status === 404 ? 'Not found' : 'Cannot show this'}</h1>
    <div class="card error" role="alert">
      <p>${message}</p>
      ${
        problems.length
          ? html`<ul>
              ${problems.map((p) => html`<li><code>${p.path}</code>: ${p.message}</li>`)}
            </ul>`
          : ''
      }
    </div>
    <p><a href="/">Back to the debts</a></p>`;
  return render(c, { title: 'Error', section: 'debts', nonce: nonceOf() }, content, status);
}

/**
 * Runs a page handler for the cookie's session: without one, the login page (GETs) or 401;
 * without the scope, 403. Domain errors become an HTML error page for browsers, and the one
 * JSON error shape (through the app's onError) for everything else.
 */
async function withSession(
  c: Ctx,
  auth: ConsoleAuth,
  scope: 'read' | 'write',
  handler: (session: ConsoleSession, nonce: string) => Response | Promise<Response>,
): Promise<Response> {
  const session = auth.session(c);
  try {
    if (!session) {
      if (c.req.method === 'GET' && prefersHtml(c)) return c.redirect('/console/login', 303);
      throw new DomainError('unauthorized', 'log in to the console with a token first');
    }
    if (!sessionGrants(session, scope))
      throw new DomainError(
        'forbidden',
        `token "${session.principal.name}" has scopes [${session.principal.scopes.join(', ')}]; this needs "${scope}"`,
      );
    const startedMs = performance.now();
    const res = await handler(session, nonceOf());
    // What the console bench reads: the server's own time, without the network.
    res.headers.set('Server-Timing', `app;dur=${(performance.now() - startedMs).toFixed(1)}`);
    return res;
  } catch (err) {
    if (err instanceof DomainError && prefersHtml(c)) return errorPage(c, STATUS_OF[err.code] ?? 400, err.message, err.problems);
    throw err;
  }
}
