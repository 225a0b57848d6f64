/**
 * The whole alerting path with real processes: compter (the built CLI, embedded store),
 * Prometheus scraping it every second with the shipped rules and the shipped scrape job
 * (deploy/prometheus/prometheus.yml), and Alertmanager with the shipped example routing
 * (alerts/alertmanager.example.yml) whose receivers point at a webhook in this test. An
 * unpaid debt must page as CompterDebtOverdue with its labels; paying it must resolve the page.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
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
  receiver?: string;
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
  [key: string]: unknown;
}

interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; webhook_configs?: { url: string; send_resolved?: boolean }[] }[];
  [key: string]: unknown;
}

/** Every route waits 1 s instead of 30 s, so a notification arrives within the test. */
function fastRoutes(route: Route): Route {
  return { ...route, group_wait: '1s', group_interval: '1s', routes: route.routes?.map(fastRoutes) };
}

/**
 * The shipped example with each receiver's webhooks sent to `<webhook>/<receiver name>`,
 * so the test sees which receiver the shipped routing chose.
 */
function testAlertmanagerConfig(webhookUrl: string): AlertmanagerConfig {
  const shipped = parse(readFileSync(shippedAlertmanagerConfig, 'utf8')) as AlertmanagerConfig;
  return {
    ...shipped,
    route: { ...fastRoutes(shipped.route), group_wait: '1s', group_interval: '1s' },
    receivers: shipped.receivers.map((r) => ({
      ...r,
      webhook_configs: (r.webhook_configs ?? []).map((w) => ({ ...w, url: `${webhookUrl}/${r.name}` })),
    })),
  };
}

function overdueAlert(call: WebhookCall, debt: string, status: 'firing' | 'resolved') {
  return call.body.alerts.find((a) => a.status === status && a.labels.alertname === 'CompterDebtOverdue' && a.labels.debt === debt);
}

describe('end to end: compter → Prometheus (shipped rules) → Alertmanager (shipped routing) → webhook', () => {
  let webhook: WebhookReceiver | undefined;
  let alertmanager: OwnedProcess | undefined;
  let compter: CompterProcess | undefined;
  let prometheus: PrometheusProcess | undefined;
  let dataDir = '';

  beforeAll(async () => {
    webhook = await startWebhookReceiver();
    alertmanager = await startAlertmanager(testAlertmanagerConfig(webhook.url));
    dataDir = mkdtempSync(join(tmpdir(), 'compter-e2e-'));
    compter = await startCompterProcess({ COMPTER_DATA_DIR: dataDir });
    prometheus = await startPrometheus({
      compterTarget: new URL(compter.url).host,
      alertmanagerTarget: new URL(alertmanager.url).host,
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await compter?.stop();
    await alertmanager?.stop();
    await webhook?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('pages CompterDebtOverdue for an unpaid debt with its labels, and resolves it once paid', { timeout: 120_000 }, async () => {
    const c = compter!;
    const hook = webhook!;
    const debt = `e2e-overdue-${Date.now().toString(36)}`;
    const created = await fetch(`${c.url}/v1/debts/${debt}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      // One occurrence due 2 s from now, no grace: overdue then until paid, and up for good once
      // paid, so no later occurrence can race the checks below on a slow machine.
      body: JSON.stringify({ schedule: { deadline: new Date(Date.now() + 2_000).toISOString() }, grace: 0 }),
    });
    expect(created.status, await created.clone().text()).toBeLessThan(300);

    const firing = await hook.waitFor(
      (call) => overdueAlert(call, debt, 'firing') !== undefined,
      45_000,
      `firing CompterDebtOverdue for ${debt}`,
    );
    const alert = overdueAlert(firing, debt, 'firing')!;
    expect(alert.labels).toMatchObject({ alertname: 'CompterDebtOverdue', debt, project: 'default', severity: 'critical', job: 'compter' });
    expect(alert.annotations.runbook_url).toMatch(/runbooks\.md#compterdebtoverdue$/);
    // The shipped routing sends severity=critical to the pager receiver.
    expect(firing.path).toBe('/pager');
    expect(firing.body.receiver).toBe('pager');

    const payment = await fetch(`${c.url}/v1/debts/${debt}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(payment.status, await payment.text()).toBeLessThan(300);
    const resolved = await hook.waitFor(
      (call) => overdueAlert(call, debt, 'resolved') !== undefined,
      45_000,
      `resolved CompterDebtOverdue for ${debt}`,
    );
    expect(resolved.path).toBe('/pager');
    expect(overdueAlert(resolved, debt, 'resolved')!.labels).toMatchObject({ debt, project: 'default', severity: 'critical' });
    // Paid up, Prometheus sees it as not overdue.
    const now = await prometheus!.query(`compter_debt_overdue{debt="${debt}"}`);
    expect(now.status).toBe('success');
    expect(now.data?.result).toEqual([expect.objectContaining({ value: [expect.any(Number), '0'] })]);
  });
});
