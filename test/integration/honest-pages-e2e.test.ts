/**
 * Honest pages with real processes: compter (the built CLI, embedded store), Prometheus with
 * the shipped rules scraping it every second, Alertmanager with the shipped routing sending to
 * a webhook here. Only the root of a chain pages; a restart after compter's own outage pages
 * for nothing until a deadline it watched is missed; a maintenance window excuses what falls
 * due inside it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import {
  shippedAlertmanagerConfig,
  startAlertmanager,
  startPrometheus,
  startWebhookReceiver,
  type OwnedProcess,
  type PrometheusProcess,
  type WebhookCall,
  type WebhookReceiver,
} from '../support/monitoring.js';

interface Route {
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
  [key: string]: unknown;
}

function fastRoutes(route: Route): Route {
  return { ...route, group_wait: '1s', group_interval: '1s', routes: route.routes?.map(fastRoutes) };
}

/** The shipped Alertmanager config with 1 s waits and every receiver sent to `<webhook>/<name>`. */
function testAlertmanagerConfig(webhookUrl: string): Record<string, unknown> {
  const shipped = parse(readFileSync(shippedAlertmanagerConfig, 'utf8')) as {
    route: Route;
    receivers: { name: string; webhook_configs?: { url: string }[] }[];
  };
  return {
    ...shipped,
    route: fastRoutes(shipped.route),
    receivers: shipped.receivers.map((r) => ({
      ...r,
      webhook_configs: (r.webhook_configs ?? []).map((w) => ({ ...w, url: `${webhookUrl}/${r.name}` })),
    })),
  };
}

function firing(call: WebhookCall, alertname: string, debt: string): boolean {
  return call.body.alerts.some((a) => a.status === 'firing' && a.labels.alertname === alertname && a.labels.debt === debt);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function send(url: string, method: string, body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.status, text).toBeLessThan(300);
  return text ? JSON.parse(text) : null;
}

describe('honest pages end to end', () => {
  let webhook: WebhookReceiver | undefined;
  let alertmanager: OwnedProcess | undefined;
  let compter: CompterProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let port = 0;
  let dataDir = '';

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(testAlertmanagerConfig(webhook.url));
    dataDir = mkdtempSync(join(tmpdir(), 'compter-honest-e2e-'));
    port = await freePort();
    compter = await startCompterProcess({ COMPTER_DATA_DIR: dataDir }, { pickPort: async () => port });
    prometheus = await startPrometheus({ compterTarget: `127.0.0.1:${port}`, alertmanagerTarget: new URL(alertmanager.url).host });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await compter?.stop();
    await alertmanager?.stop();
    await webhook?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('in a three-debt chain only the root pages; the two behind it are blocked, info only', { timeout: 120_000 }, async () => {
    const url = compter!.url;
    const hook = webhook!;
    const at = (ms: number) => ({ schedule: { deadline: new Date(Date.now() + ms).toISOString() }, grace: 0 });
    await send(`${url}/v1/debts/e2e-overdraft`, 'PUT', at(2_000));
    await send(`${url}/v1/debts/e2e-dss-load`, 'PUT', { ...at(3_000), after: ['e2e-overdraft'] });
    await send(`${url}/v1/debts/e2e-report`, 'PUT', { ...at(3_000), after: ['e2e-dss-load'] });

    const page = await hook.waitFor((c) => firing(c, 'CompterDebtOverdue', 'e2e-overdraft'), 45_000, 'root page');
    expect(page.path).toBe('/pager');
    const info = await hook.waitFor((c) => firing(c, 'CompterDebtBlocked', 'e2e-report'), 45_000, 'report blocked');
    expect(info.body.alerts.find((a) => a.labels.debt === 'e2e-report')!.labels.severity).toBe('info');
    await hook.waitFor((c) => firing(c, 'CompterDebtBlocked', 'e2e-dss-load'), 45_000, 'dss-load blocked');
    // Several evaluations later, still only the root has paged.
    await sleep(5_000);
    const pages = hook.calls.filter((c) => c.path === '/pager').flatMap((c) => c.body.alerts.map((a) => a.labels.debt));
    expect(pages.filter((d) => d?.startsWith('e2e-'))).toEqual(pages.filter((d) => d === 'e2e-overdraft'));
    expect(pages).toContain('e2e-overdraft');
    const blocked = await prometheus!.query('compter_debt_blocked{debt=~"e2e-.*"} == 1');
    const series = (blocked.data?.result ?? []) as { metric: Record<string, string> }[];
    expect(series.map((r) => r.metric.debt).sort()).toEqual(['e2e-dss-load', 'e2e-report']);
  });

  it('a window excuses a debt due inside it: maintenance, no page, excused in the ledger', { timeout: 60_000 }, async () => {
    const url = compter!.url;
    const now = Date.now();
    await send(`${url}/v1/debts/e2e-maint`, 'PUT', { schedule: { every: '2s' }, grace: 0 });
    await send(`${url}/v1/maintenance/e2e-window`, 'PUT', {
      match: { debts: ['e2e-maint'] },
      from: new Date(now - 1_000).toISOString(),
      to: new Date(now + 60_000).toISOString(),
      reason: 'end-to-end test',
    });
    expect((await send(`${url}/v1/debts/e2e-maint`, 'GET')).status).toBe('maintenance');
    await sleep(7_000);
    const ledger = await send(
      `${url}/v1/debts/e2e-maint/occurrences?from=${new Date(now).toISOString()}&to=${new Date().toISOString()}`,
      'GET',
    );
    expect(ledger.occurrences.map((o: any) => o.outcome)).toContain('excused');
    expect(ledger.occurrences.map((o: any) => o.outcome)).not.toContain('missed');
    const overdue = await prometheus!.query('compter_debt_overdue{debt="e2e-maint"}');
    expect(overdue.data?.result).toEqual([expect.objectContaining({ value: [expect.any(Number), '0'] })]);
    expect(webhook!.calls.some((c) => firing(c, 'CompterDebtOverdue', 'e2e-maint'))).toBe(false);
    await send(`${url}/v1/maintenance/e2e-window`, 'DELETE');
  });

  it(
    'after compter is killed for longer than a period: no page, unknown in the ledger, then a real miss pages',
    { timeout: 150_000 },
    async () => {
      const hook = webhook!;
      await send(`${compter!.url}/v1/debts/e2e-outage`, 'PUT', { schedule: { every: '8s' }, grace: 0 });
      const paidAt = Date.now();
      await send(`${compter!.url}/v1/debts/e2e-outage/payments`, 'POST', {});
      await sleep(500);
      await compter!.kill9();
      // Down for two periods: its deadline and the whole window after it pass unwatched.
      await sleep(17_000);
      compter = await startCompterProcess({ COMPTER_DATA_DIR: dataDir }, { pickPort: async () => port });
      const url = compter.url;
      const debt = await send(`${url}/v1/debts/e2e-outage`, 'GET');
      expect(debt.status).not.toBe('overdue');
      const ledger = await send(
        `${url}/v1/debts/e2e-outage/occurrences?from=${new Date(paidAt).toISOString()}&to=${new Date().toISOString()}`,
        'GET',
      );
      expect(ledger.occurrences.map((o: any) => o.outcome)).toContain('unknown');
      expect(ledger.occurrences.map((o: any) => o.outcome)).not.toContain('missed');
      // Prometheus has scraped the restarted compter: it says not overdue, and nothing paged.
      for (let i = 0; i < 20; i++) {
        const unknown = await prometheus!.query('compter_occurrences_total{debt="e2e-outage",outcome="unknown"}');
        if (((unknown.data?.result ?? []) as unknown[]).length > 0) break;
        await sleep(500);
      }
      const overdue = await prometheus!.query('compter_debt_overdue{debt="e2e-outage"}');
      expect(overdue.data?.result).toEqual([expect.objectContaining({ value: [expect.any(Number), '0'] })]);
      expect(hook.calls.some((c) => firing(c, 'CompterDebtOverdue', 'e2e-outage'))).toBe(false);
      // The first deadline compter watches and nobody pays pages as usual.
      const page = await hook.waitFor((c) => firing(c, 'CompterDebtOverdue', 'e2e-outage'), 60_000, 'real miss page');
      expect(page.path).toBe('/pager');
    },
  );
});
