/**
 * The shipped Grafana dashboards (dashboards/): the committed JSON is exactly what
 * dashboards/src generates; they use only metric names compter exports (as do the alert
 * rules); every PromQL expression evaluates on a real Prometheus scraping a real compter with
 * the shipped rules loaded; every SQL panel and variable runs, macros substituted as the
 * grafana-clickhouse-datasource plugin does, on a real ClickHouse holding compter's schema.
 */
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type * as grafana from '@grafana/grafana-foundation-sdk/dashboard';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allDashboards, renderDashboard } from '../../dashboards/src/index.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { decodeEvent, type StoredEventRow, type LogEvent } from '../../src/domain/event.js';
import { METRIC } from '../../src/metrics/names.js';
import { ClickHouseEventStore } from '../../src/store/clickhouse/clickhouse-store.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { rulesFile, startPrometheus, type PrometheusProcess, type PromResponse } from '../support/monitoring.js';
import { labelValuesAsQuery, labelValuesMetric, promqlMetricNames } from '../support/promql-names.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dashboardsDir = join(root, 'dashboards');
const generated = allDashboards();

interface Target {
  refId?: string;
  datasource?: { type?: string; uid?: string };
  expr?: string;
  rawSql?: string;
  editorType?: string;
  format?: number;
  queryType?: string;
}

interface PanelTarget {
  dashboard: string;
  panel: string;
  panelType: string;
  target: Target;
}

function panelsOf(d: grafana.Dashboard): grafana.Panel[] {
  return (d.panels ?? []).flatMap((p) => [p as grafana.Panel, ...((p as grafana.RowPanel).panels ?? [])]);
}

function targetsOf(d: grafana.Dashboard): PanelTarget[] {
  return panelsOf(d).flatMap((p) =>
    ((p.targets ?? []) as Target[]).map((target) => ({
      dashboard: d.uid ?? d.title ?? '',
      panel: p.title ?? '',
      panelType: p.type,
      target,
    })),
  );
}

const allTargets = generated.flatMap(({ dashboard }) => targetsOf(dashboard));
const promTargets = allTargets.filter((t) => t.target.datasource?.type === 'prometheus');
const sqlTargets = allTargets.filter((t) => t.target.datasource?.type === 'grafana-clickhouse-datasource');
const variables = generated.flatMap(({ dashboard }) =>
  (dashboard.templating?.list ?? []).map((v) => ({ dashboard: dashboard.uid ?? '', v })),
);
const promVariables = variables.filter(({ v }) => v.type === 'query' && v.datasource?.type === 'prometheus');
const sqlVariables = variables.filter(({ v }) => v.type === 'query' && v.datasource?.type === 'grafana-clickhouse-datasource');

/** Grafana's interval variables as a test-sized value, then every template variable as "All". */
function expandPromQL(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, '.*');
}

interface TimeRange {
  fromSeconds: number;
  toSeconds: number;
}

/**
 * What the plugin's backend sends ClickHouse (pkg/macros of grafana-clickhouse-datasource),
 * with every `${var:regex}` as Grafana formats the custom All value (`.*`) or `values`.
 */
function expandSql(sql: string, range: TimeRange, values: Record<string, string> = {}): string {
  const from = `toDateTime(${range.fromSeconds})`;
  const to = `toDateTime(${range.toSeconds})`;
  const out = sql
    .replace(/\$__timeFilter\(\s*([^)]+?)\s*\)/g, (_, col: string) => `${col} >= ${from} AND ${col} <= ${to}`)
    .replaceAll('$__fromTime', from)
    .replaceAll('$__toTime', to)
    .replace(/\$\{(\w+):regex\}/g, (_, name: string) => values[name] ?? '.*');
  if (/\$__|\$\{/.test(out)) throw new Error(`unexpanded macro or variable in:\n${out}`);
  return out;
}

describe('dashboards/*.json', () => {
  it('are exactly what dashboards/src generates (npm run dashboards)', () => {
    const stale = generated
      .filter(({ file, dashboard }) => {
        try {
          return readFileSync(join(dashboardsDir, file), 'utf8') !== renderDashboard(dashboard);
        } catch {
          return true;
        }
      })
      .map(({ file }) => file);
    expect(stale, 'regenerate with npm run dashboards').toEqual([]);
    // No committed dashboard the generator no longer makes.
    const committed = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json') && f !== 'tsconfig.json');
    expect(committed.sort()).toEqual(generated.map((g) => g.file).sort());
  });

  it('are the four dashboards the issue asks for, with the panels it names', () => {
    const titles = new Map(generated.map(({ dashboard }) => [dashboard.uid, panelsOf(dashboard).map((p) => p.title)]));
    expect([...titles.keys()]).toEqual(['compter-overview', 'compter-slo-performance', 'compter-trends', 'compter-health']);
    expect(titles.get('compter-overview')).toEqual(
      expect.arrayContaining(['Debts by status', 'Overdue debts', 'Upcoming deadlines', 'Payment rate by kind']),
    );
    expect(titles.get('compter-slo-performance')).toEqual(
      expect.arrayContaining([
        'Lateness',
        'Lateness per business date',
        'On-time ratio per business date',
        'On time, last 14 days',
        'Deliveries',
      ]),
    );
    expect(titles.get('compter-trends')).toEqual(
      expect.arrayContaining([
        'Run duration per business date, with its linear trend',
        'Duration and end-lateness slopes per job',
        'Early/late distribution',
      ]),
    );
    expect(titles.get('compter-health')).toEqual(
      expect.arrayContaining([
        'Requests by route',
        'Latency p99 by route',
        'Events appended',
        'Flush duration',
        'Spool depth',
        'Memory',
        'CPU',
      ]),
    );
    // The trends dashboard is SQL over the event log.
    expect(sqlTargets.filter((t) => t.dashboard === 'compter-trends').length).toBeGreaterThanOrEqual(5);
  });

  it('have unique panel ids, a data source on every panel and target, and unique refIds per panel', () => {
    const problems: string[] = [];
    for (const { dashboard } of generated) {
      const ids = panelsOf(dashboard).map((p) => p.id);
      if (new Set(ids).size !== ids.length || ids.some((id) => !id)) problems.push(`${dashboard.uid}: panel ids ${ids.join(',')}`);
      for (const p of panelsOf(dashboard)) {
        if (p.type === 'row') continue;
        const targets = (p.targets ?? []) as Target[];
        if (targets.length === 0) problems.push(`${dashboard.uid} / ${p.title}: no targets`);
        if (!p.datasource?.uid) problems.push(`${dashboard.uid} / ${p.title}: no data source`);
        const refIds = targets.map((t) => t.refId);
        if (new Set(refIds).size !== refIds.length) problems.push(`${dashboard.uid} / ${p.title}: refIds ${refIds.join(',')}`);
        for (const t of targets) {
          if (t.datasource?.type !== p.datasource?.type)
            problems.push(`${dashboard.uid} / ${p.title}: target ${t.refId} on ${t.datasource?.type}`);
          if (t.datasource?.type === 'grafana-clickhouse-datasource' && (t.editorType !== 'sql' || t.format === undefined || !t.rawSql)) {
            problems.push(`${dashboard.uid} / ${p.title}: ClickHouse target ${t.refId} is not a raw SQL query`);
          }
        }
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('use only template variables they define, as regex matchers (PromQL) or match(col, ^(...)$) (SQL)', () => {
    const problems: string[] = [];
    for (const { dashboard } of generated) {
      const defined = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
      const texts = [
        ...targetsOf(dashboard).map((t) => ({
          where: t.panel,
          text: t.target.expr ?? t.target.rawSql ?? '',
          sql: t.target.rawSql !== undefined,
        })),
        ...(dashboard.templating?.list ?? []).map((v) => ({
          where: `variable ${v.name}`,
          text: typeof v.query === 'string' ? v.query : '',
          sql: v.datasource?.type === 'grafana-clickhouse-datasource',
        })),
      ];
      for (const { where, text, sql } of texts) {
        for (const m of text.matchAll(/\$\{?(\w+)/g)) {
          if (!m[1]!.startsWith('__') && !defined.has(m[1]!)) problems.push(`${dashboard.uid} / ${where}: undefined variable $${m[1]}`);
        }
        const allowed = sql ? /match\(\w+, '\^\(\$\{\w+:regex\}\)\$'\)/g : /=~"\$\w+"/g;
        const rest = text.replace(allowed, '');
        for (const m of rest.matchAll(/\$\{?(\w+)/g)) {
          if (!m[1]!.startsWith('__'))
            problems.push(`${dashboard.uid} / ${where}: $${m[1]} used outside ${sql ? "match(col, '^(${v:regex})$')" : '=~"$v"'}`);
        }
        if (sql)
          for (const m of text.matchAll(/\$__(\w+)/g))
            if (!['timeFilter', 'fromTime', 'toTime'].includes(m[1]!)) problems.push(`${where}: macro $__${m[1]}`);
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

describe('metric names in alerts/ and dashboards/', () => {
  interface RuleFile {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  }
  const rules = parse(readFileSync(rulesFile, 'utf8')) as RuleFile;
  const recorded = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
  const histograms: string[] = [METRIC.eventStoreFlushSeconds, METRIC.httpRequestDuration];

  /** Everything a compter scrape can contain, plus Prometheus's own `up` and the recording rules. */
  async function knownNames(): Promise<Set<string>> {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const defaults = (await registry.getMetricsAsJSON()).flatMap((m) =>
      // The runtime value is the string 'histogram' (the typings declare a numeric enum).
      String(m.type) === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name],
    );
    return new Set([
      ...Object.values(METRIC),
      ...histograms.flatMap((h) => ['_bucket', '_sum', '_count'].map((s) => h + s)),
      ...defaults,
      ...recorded,
      'up',
    ]);
  }

  const used = new Map<string, string>();
  for (const g of rules.groups)
    for (const r of g.rules) for (const n of promqlMetricNames(r.expr)) used.set(n, `alerts: ${r.alert ?? r.record}`);
  for (const t of promTargets) for (const n of promqlMetricNames(t.target.expr ?? '')) used.set(n, `${t.dashboard} / ${t.panel}`);
  for (const { dashboard, v } of promVariables) {
    const metric = labelValuesMetric(typeof v.query === 'string' ? v.query : '');
    if (metric) used.set(metric, `${dashboard} / variable ${v.name}`);
  }

  it('are found by the extraction (it sees the names the shipped files are known to use)', () => {
    expect(
      promqlMetricNames(
        'sum by (route, le) (rate(compter_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])) > 0.5 * time()',
      ),
    ).toEqual(['compter_http_request_duration_seconds_bucket']);
    for (const name of [
      METRIC.debtOverdue,
      METRIC.debtDeadline,
      METRIC.paymentsTotal,
      'compter:debts_by_status:count',
      'process_resident_memory_bytes',
      'up',
    ]) {
      expect([...used.keys()], name).toContain(name);
    }
  });

  it('are all exported by compter (src/metrics/names.ts, prom-client defaults) or recorded by compter.rules.yml', async () => {
    const known = await knownNames();
    const unknown = [...used].filter(([name]) => !known.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(unknown, `unknown metric names:\n${unknown.join('\n')}`).toEqual([]);
  });
});

describe('dashboard PromQL on a real Prometheus scraping a real compter', () => {
  let compter: CompterProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let dataDir = '';

  async function call(method: string, path: string, body?: unknown): Promise<void> {
    const res = await fetch(`${compter!.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    expect(res.status, `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
  }

  async function waitForData(expr: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await prometheus!.query(expr);
      if (r.status === 'success' && Array.isArray(r.data?.result) && r.data.result.length > 0) return;
      if (Date.now() > deadline)
        throw new Error(`no data for ${expr} after ${timeoutMs} ms: ${JSON.stringify(r)}\n${prometheus!.output()}`);
      await delay(250);
    }
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'compter-dashboards-'));
    compter = await startCompterProcess({ COMPTER_DATA_DIR: dataDir });
    prometheus = await startPrometheus({ compterTarget: new URL(compter.url).host });
    // Something for every debt panel: one overdue debt, one paid with a run, one upcoming.
    await call('PUT', '/v1/debts/dash-overdue', { schedule: { every: '1s' }, grace: 0 });
    await call('PUT', '/v1/debts/dash-paid', { schedule: { every: '1h' }, grace: '5m' });
    await call('PUT', '/v1/debts/dash-upcoming', { schedule: { every: '2h' }, grace: 0 });
    await call('POST', '/v1/debts/dash-paid/payments', { kind: 'start', runId: 'r-1' });
    // A rate needs the counter to grow between two scrapes: pay again once Prometheus has it.
    await waitForData('compter_payments_total', 20_000);
    await call('POST', '/v1/debts/dash-paid/payments', { kind: 'success', runId: 'r-1' });
    await call('POST', '/v1/debts/dash-paid/payments', { kind: 'start', runId: 'r-2' });
    await call('GET', '/v1/debts');
    await waitForData('rate(compter_payments_total[1m]) > 0', 20_000);
    await waitForData('compter_debt_last_duration_seconds', 20_000);
    // The recording rules need one evaluation after the samples exist.
    await waitForData('compter:debts_by_status:count', 20_000);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await compter?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('evaluates every PromQL expression of every dashboard without error', async () => {
    expect(promTargets.length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const t of promTargets) {
      const expr = expandPromQL(t.target.expr ?? '');
      const r = await prometheus!.query(expr);
      if (r.status !== 'success') failures.push(`${t.dashboard} / ${t.panel} / ${t.target.refId}: ${r.errorType}: ${r.error}\n  ${expr}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });

  it('returns data for the panels about debts and compter itself', async () => {
    const mustHaveData: Record<string, string[]> = {
      'compter-overview': [
        'Debts',
        'Overdue',
        'Payments / min',
        'Overdue debts',
        'Upcoming deadlines',
        'Debts by status',
        'Payment rate by kind',
        'Busiest debts',
        'Last run duration (longest ten)',
      ],
      'compter-health': [
        'Up',
        'Version',
        'Uptime',
        'Spooled events',
        'Store errors, last hour',
        'Requests by route',
        'Responses by status code',
        'Latency p99 by route',
        'Latency p50 by route',
        'Events appended',
        'Flush duration',
        'Events per flush',
        'Event store errors',
        'Spool depth',
        'Memory',
        'CPU',
        'Event loop lag',
        'File descriptors',
      ],
    };
    const empty: string[] = [];
    for (const [uid, titles] of Object.entries(mustHaveData)) {
      for (const title of titles) {
        const first = promTargets.find((t) => t.dashboard === uid && t.panel === title);
        expect(first, `${uid} / ${title}`).toBeDefined();
        const r: PromResponse = await prometheus!.query(expandPromQL(first!.target.expr ?? ''));
        const result = r.data?.result;
        if (r.status !== 'success' || !Array.isArray(result) || result.length === 0) empty.push(`${uid} / ${title}: ${JSON.stringify(r)}`);
      }
    }
    expect(empty, empty.join('\n')).toEqual([]);
  });

  it('shows the overdue debt in "Overdue debts" and the upcoming one in "Upcoming deadlines"', async () => {
    const series = async (uid: string, title: string): Promise<Record<string, string>[]> => {
      const t = promTargets.find((x) => x.dashboard === uid && x.panel === title)!;
      const r = await prometheus!.query(expandPromQL(t.target.expr ?? ''));
      return ((r.data?.result ?? []) as { metric: Record<string, string> }[]).map((s) => s.metric);
    };
    expect((await series('compter-overview', 'Overdue debts')).map((m) => m.debt)).toEqual(['dash-overdue']);
    expect((await series('compter-overview', 'Upcoming deadlines')).map((m) => m.debt).sort()).toEqual(['dash-paid', 'dash-upcoming']);
  });

  it('evaluates every label_values variable', async () => {
    const failures: string[] = [];
    const empty: string[] = [];
    for (const { dashboard, v } of promVariables) {
      const expr = expandPromQL(labelValuesAsQuery(String(v.query)));
      const r = await prometheus!.query(expr);
      if (r.status !== 'success') failures.push(`${dashboard} / ${v.name}: ${r.error}\n  ${expr}`);
      else if (['compter-overview', 'compter-health'].includes(dashboard) && (r.data?.result as unknown[]).length === 0)
        empty.push(`${dashboard} / ${v.name}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(empty, `variables without values: ${empty.join(', ')}`).toEqual([]);
  });
});

describe('dashboard SQL on a real ClickHouse holding compter.events', () => {
  const DAY_MS = 86_400_000;
  const now = Date.now();
  const range: TimeRange = { fromSeconds: Math.floor((now - 30 * DAY_MS) / 1000), toSeconds: Math.floor(now / 1000) };
  const ids = new EventIdGenerator();
  let store: ClickHouseEventStore | undefined;
  let client: ClickHouseClient | undefined;
  let resent: LogEvent | undefined;

  function businessDate(ms: number): string {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function event(e: Partial<StoredEventRow> & Pick<StoredEventRow, 'type' | 'ts'>): LogEvent {
    return decodeEvent({
      eventId: ids.next(e.ts),
      project: 'default',
      debt: '',
      application: '',
      job: '',
      slo: '',
      ingestedAt: e.ts,
      kind: '',
      status: '',
      runId: '',
      host: '',
      businessDate: '',
      durationMs: null,
      latenessMs: null,
      attributes: {},
      ...e,
    });
  }

  /** Ten business dates: overdraft-calc slows by 60 s/day, statements speeds up by 10 s/day. */
  function seedEvents(): LogEvent[] {
    const events: LogEvent[] = [];
    for (let d = 0; d < 10; d++) {
      const day = now - (12 - d) * DAY_MS;
      const bd = businessDate(day);
      events.push(
        event({
          type: 'job.status',
          ts: day,
          application: 'deposits',
          job: 'overdraft-calc',
          status: 'start',
          runId: `oc-${d}`,
          businessDate: bd,
        }),
        event({
          type: 'job.status',
          ts: day + 1000,
          application: 'deposits',
          job: 'overdraft-calc',
          status: 'succeed',
          runId: `oc-${d}`,
          businessDate: bd,
          durationMs: (3600 + 60 * d) * 1000,
          latenessMs: (-600 + 60 * d) * 1000,
        }),
        event({
          type: 'job.status',
          ts: day + 2000,
          application: 'deposits',
          job: 'statements',
          status: 'succeed',
          runId: `st-${d}`,
          businessDate: bd,
          durationMs: (3600 - 10 * d) * 1000,
        }),
        event({
          type: 'slo.closed',
          ts: day + 3000,
          application: 'deposits',
          slo: 'overdraft',
          status: -600 + 120 * d <= 0 ? 'on_time' : 'late',
          businessDate: bd,
          latenessMs: (-600 + 120 * d) * 1000,
          attributes: { slot: '', expectedEnd: day, actualEnd: day + (-600 + 120 * d) * 1000 },
        }),
      );
    }
    // A job with a single business date has no slope.
    events.push(
      event({
        type: 'job.status',
        ts: now - DAY_MS,
        application: 'deposits',
        job: 'one-off',
        status: 'succeed',
        runId: 'oo-1',
        businessDate: businessDate(now - DAY_MS),
        durationMs: 5000,
      }),
    );
    // A delivery never met: no lateness.
    events.push(
      event({
        type: 'slo.closed',
        ts: now - DAY_MS,
        application: 'deposits',
        slo: 'overdraft',
        status: 'missed',
        businessDate: businessDate(now - 2 * DAY_MS),
        attributes: { slot: '', expectedEnd: now - 2 * DAY_MS, actualEnd: null },
      }),
    );
    return events;
  }

  beforeAll(async () => {
    const server = await getSharedClickHouse();
    store = new ClickHouseEventStore({ url: server.url, database: 'compter' });
    await store.migrate();
    client = createClient({ url: server.url });
    const events = seedEvents();
    await store.append(events);
    // A re-sent event (same event_id) in a part of its own, kept unmerged: the dashboards
    // must count it once.
    await client.command({ query: 'SYSTEM STOP MERGES compter.events' });
    resent = events.find((e) => e.type === 'slo.closed')!;
    await store.append([resent]);
  });

  afterAll(async () => {
    await client?.command({ query: 'SYSTEM START MERGES compter.events' }).catch(() => undefined);
    await client?.close();
    await store?.close();
  });

  async function rows<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const result = await client!.query({ query: sql, format: 'JSONEachRow' });
    return result.json<T>();
  }

  function sqlOf(uid: string, title: string): string {
    const t = sqlTargets.find((x) => x.dashboard === uid && x.panel === title);
    if (!t?.target.rawSql) throw new Error(`no SQL panel ${uid} / ${title}`);
    return t.target.rawSql;
  }

  it('runs every SQL panel and SQL variable, and each returns rows', async () => {
    expect(sqlTargets.length).toBeGreaterThanOrEqual(8);
    const failures: string[] = [];
    const empty: string[] = [];
    const all = [
      ...sqlTargets.map((t) => ({ where: `${t.dashboard} / ${t.panel} / ${t.target.refId}`, sql: t.target.rawSql ?? '' })),
      ...sqlVariables.map(({ dashboard, v }) => ({ where: `${dashboard} / variable ${v.name}`, sql: String(v.query) })),
    ];
    for (const { where, sql } of all) {
      const expanded = expandSql(sql, range);
      try {
        if ((await rows(expanded)).length === 0) empty.push(where);
      } catch (err) {
        failures.push(`${where}: ${(err as Error).message}\n${expanded}`);
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
    expect(empty, `no rows: ${empty.join(', ')}`).toEqual([]);
  });

  it('filters by the chosen variable values', async () => {
    const sql = expandSql(sqlOf('compter-trends', 'Duration and end-lateness slopes per job'), range, { job: 'statements' });
    expect((await rows<{ job: string }>(sql)).map((r) => r.job)).toEqual(['statements']);
    const none = expandSql(sqlOf('compter-trends', 'Duration and end-lateness slopes per job'), range, { project: 'someone-else' });
    expect(await rows(none)).toEqual([]);
  });

  it('computes each job slope with covarPop/varPop (seconds per calendar day)', async () => {
    const result = await rows<{
      job: string;
      runs: string | number;
      duration_slope_seconds_per_day: number | null;
      end_lateness_slope_seconds_per_day: number | null;
      p90_duration_seconds: number;
    }>(expandSql(sqlOf('compter-trends', 'Duration and end-lateness slopes per job'), range));
    const byJob = new Map(result.map((r) => [r.job, r]));
    expect(byJob.get('overdraft-calc')?.duration_slope_seconds_per_day).toBeCloseTo(60, 6);
    expect(byJob.get('overdraft-calc')?.end_lateness_slope_seconds_per_day).toBeCloseTo(60, 6);
    // Starts are not runs: ten successes, ten business dates.
    expect(Number(byJob.get('overdraft-calc')?.runs)).toBe(10);
    expect(byJob.get('statements')?.duration_slope_seconds_per_day).toBeCloseTo(-10, 6);
    expect(byJob.get('statements')?.end_lateness_slope_seconds_per_day).toBeNull();
    expect(byJob.get('one-off')?.duration_slope_seconds_per_day).toBeNull();
    // Steepest slowdown first.
    expect(result[0]?.job).toBe('overdraft-calc');
  });

  it('draws the fitted line through the daily durations, and none for a job with one date', async () => {
    const points = await rows<{ job_name: string; duration_seconds: number; trend_seconds: number | null }>(
      expandSql(sqlOf('compter-trends', 'Run duration per business date, with its linear trend'), range),
    );
    const overdraft = points.filter((p) => p.job_name === 'deposits/overdraft-calc');
    expect(overdraft).toHaveLength(10);
    for (const p of overdraft) expect(p.trend_seconds).toBeCloseTo(p.duration_seconds, 6);
    expect(points.find((p) => p.job_name === 'deposits/one-off')?.trend_seconds).toBeNull();
  });

  it('counts a re-sent delivery once', async () => {
    const raw = await rows<{ n: string | number }>(`SELECT count() AS n FROM compter.events WHERE event_id = '${resent!.eventId}'`);
    // The duplicate is really there, unmerged: only the queries' LIMIT 1 BY event_id hides it.
    expect(Number(raw[0]?.n)).toBe(2);
    const deliveries = await rows(expandSql(sqlOf('compter-slo-performance', 'Deliveries'), range));
    expect(deliveries).toHaveLength(11);
    const distribution = await rows<{ lateness: string; deliveries: string | number }>(
      expandSql(sqlOf('compter-trends', 'Early/late distribution'), range),
    );
    expect(distribution.reduce((n, r) => n + Number(r.deliveries), 0)).toBe(10);
    // Lateness -600 + 120 d s for d = 0..9, in bucket order (the missed delivery has none).
    expect(distribution.map((r) => [r.lateness, Number(r.deliveries)])).toEqual([
      ['early < 15m', 5],
      ['on the dot', 1],
      ['late < 15m', 4],
    ]);
  });

  it('finds the on-time ratio and bias per SLO', async () => {
    const [bias] = await rows<{
      slo: string;
      deliveries: string | number;
      on_time_ratio: number;
      median_lateness_seconds: number;
      bias: string;
    }>(expandSql(sqlOf('compter-trends', 'Routinely early or late'), range));
    // 11 deliveries: lateness -600 + 120 d for d = 0..9 (6 on time, 4 late) and one missed.
    expect(bias).toMatchObject({ slo: 'overdraft', bias: 'none' });
    expect(Number(bias!.deliveries)).toBe(11);
    expect(bias!.on_time_ratio).toBeCloseTo(6 / 11, 6);
  });
});
