/**
 * The shipped alerting (alerts/, docs/runbooks.md) checked with the real tools: promtool
 * validates and unit-tests the rules, amtool validates the Alertmanager example and its
 * routing, a real Alertmanager proves the inhibitions, and the rules may use only metric
 * names compter exports (src/metrics/names.ts). Missing tools fail the suite, never skip it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRIC } from '../../src/metrics/names.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const alertsDir = join(root, 'alerts');
const rulesFile = join(alertsDir, 'compter.rules.yml');
const rulesTestFile = join(alertsDir, 'compter.rules.test.yml');
const alertmanagerFile = join(alertsDir, 'alertmanager.example.yml');
const runbooksFile = join(root, 'docs', 'runbooks.md');
const runbookBase = 'https://github.com/compter/compter/blob/main/docs/runbooks.md#';

/** Which receiver each severity must reach (alerts/alertmanager.example.yml). */
const receiverBySeverity: Record<string, string> = { critical: 'pager', warning: 'ticket', info: 'ticket' };

/** Debian packages providing the tools, so a missing one fails with the fix in the message. */
const debianPackage: Record<string, string> = {
  promtool: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
};

interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RecordingRule {
  record: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; interval?: string; rules: (AlertingRule | RecordingRule)[] }[];
}
interface RuleTestFile {
  tests: { name?: string; alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: unknown[] }[] }[];
}

/** Fails (never skips) when `bin` is not installed, saying which Debian packages to install. */
function requireTool(bin: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
  if (!found) {
    throw new Error(
      `${bin} is not on PATH. Install the Debian packages "prometheus" and "prometheus-alertmanager" ` +
        `(${bin} comes from "${debianPackage[bin] ?? 'prometheus'}"): ` +
        'apt-get install -y prometheus prometheus-alertmanager',
    );
  }
}

interface ToolRun {
  status: number | null;
  stdout: string;
  /** The command line and everything it printed, for failure messages. */
  report: string;
}

/** Runs a tool from the repository root and keeps its output for the assertion message. */
function runTool(bin: string, args: string[]): ToolRun {
  requireTool(bin);
  const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const report = `$ ${bin} ${args.join(' ')}\nexit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout ?? ''}${r.stderr ?? ''}`;
  return { status: r.status, stdout: r.stdout ?? '', report };
}

function readYaml<T>(file: string): T {
  return parse(readFileSync(file, 'utf8')) as T;
}

function alertingRules(): AlertingRule[] {
  return readYaml<RuleFile>(rulesFile).groups.flatMap((g) => g.rules.filter((r): r is AlertingRule => 'alert' in r));
}

function recordingRuleNames(): Set<string> {
  return new Set(
    readYaml<RuleFile>(rulesFile).groups.flatMap((g) => g.rules.filter((r): r is RecordingRule => 'record' in r).map((r) => r.record)),
  );
}

/** Every string value in a parsed YAML document. */
function stringsIn(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(stringsIn);
  if (node !== null && typeof node === 'object') return Object.values(node).flatMap(stringsIn);
  return [];
}

/** compter metric and recording-rule names (compter_… and compter:…) used in alerts/*.yml. */
function compterNamesInAlerts(): Map<string, string> {
  const nameRe = /(?<![A-Za-z0-9_:])compter[_:][A-Za-z0-9_:]*/g;
  const found = new Map<string, string>();
  for (const file of readdirSync(alertsDir).filter((f) => /\.ya?ml$/.test(f))) {
    for (const text of stringsIn(readYaml<unknown>(join(alertsDir, file)))) {
      for (const m of text.matchAll(nameRe)) if (!found.has(m[0])) found.set(m[0], file);
    }
  }
  return found;
}

/** Anchors GitHub generates for the headings of a Markdown file, plus explicit <a id>/<a name>. */
function markdownAnchors(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of withoutCode.matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = (m[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1] ?? '');
  return anchors;
}

describe('alerts/compter.rules.yml', () => {
  it('passes promtool check rules', () => {
    const r = runTool('promtool', ['check', 'rules', rulesFile]);
    expect(r.status, r.report).toBe(0);
  });

  it('passes its promtool unit tests', () => {
    const r = runTool('promtool', ['test', 'rules', rulesTestFile]);
    expect(r.status, r.report).toBe(0);
    expect(r.stdout, r.report).toContain('SUCCESS');
  });

  it('has every alert the runbooks document', () => {
    const names = alertingRules().map((a) => a.alert);
    for (const name of [
      'CompterDebtOverdue',
      'CompterDebtBlocked',
      'CompterDebtFailed',
      'CompterDebtTimedOut',
      'CompterSloLate',
      'CompterSloAtRisk',
      'CompterSloMissed',
      'CompterJobSlowingDown',
      'CompterSloRoutinelyLate',
      'CompterDown',
      'CompterEventStoreFailing',
      'CompterSpooling',
    ]) {
      expect(names, `alert ${name}`).toContain(name);
    }
    expect(new Set(names).size, 'alert names are unique').toBe(names.length);
  });

  it('pages for an overdue debt', () => {
    const overdue = alertingRules().find((a) => a.alert === 'CompterDebtOverdue');
    expect(overdue?.labels?.severity).toBe('critical');
  });

  it('gives every alert a severity, summary, description, runbook_url and a deliberate for', () => {
    const problems: string[] = [];
    for (const a of alertingRules()) {
      const severity = a.labels?.severity;
      if (!severity || !(severity in receiverBySeverity)) problems.push(`${a.alert}: severity "${severity}" is not critical|warning|info`);
      for (const key of ['summary', 'description', 'runbook_url']) {
        if (!a.annotations?.[key]?.trim()) problems.push(`${a.alert}: annotation ${key} missing`);
      }
      if (a.annotations?.runbook_url && !a.annotations.runbook_url.startsWith(runbookBase)) {
        problems.push(`${a.alert}: runbook_url ${a.annotations.runbook_url} does not start with ${runbookBase}`);
      }
      if (a.for === undefined) problems.push(`${a.alert}: no explicit for:`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('points every runbook_url at a section of docs/runbooks.md', () => {
    const anchors = markdownAnchors(readFileSync(runbooksFile, 'utf8'));
    const missing = alertingRules()
      .map((a) => ({ alert: a.alert, anchor: (a.annotations?.runbook_url ?? '').split('#')[1] ?? '' }))
      .filter(({ anchor }) => !anchors.has(anchor))
      .map(({ alert, anchor }) => `${alert}: #${anchor}`);
    expect(missing, `anchors missing from docs/runbooks.md (has: ${[...anchors].join(', ')})`).toEqual([]);
  });

  it('is unit-tested for every alert both firing and not firing', () => {
    const cases = readYaml<RuleTestFile>(rulesTestFile).tests.flatMap((t) => t.alert_rule_test ?? []);
    const problems: string[] = [];
    for (const { alert } of alertingRules()) {
      const mine = cases.filter((c) => c.alertname === alert);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) problems.push(`${alert}: no test where it fires`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) problems.push(`${alert}: no test where it does not fire`);
    }
    const known = new Set(alertingRules().map((a) => a.alert));
    for (const c of cases) if (!known.has(c.alertname)) problems.push(`test for unknown alert ${c.alertname}`);
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

describe('metric names in alerts/*.yml', () => {
  const histograms: string[] = [METRIC.eventStoreFlushSeconds, METRIC.httpRequestDuration];
  const exported = new Set<string>([
    ...Object.values(METRIC),
    ...histograms.flatMap((h) => ['_bucket', '_sum', '_count'].map((suffix) => h + suffix)),
  ]);

  it('are all metrics compter exports (src/metrics/names.ts)', () => {
    const used = [...compterNamesInAlerts()].filter(([name]) => !name.startsWith('compter:'));
    // Guards the extraction itself: the paging alert's metric must be seen.
    expect(used.map(([name]) => name)).toContain(METRIC.debtOverdue);
    const unknown = used.filter(([name]) => !exported.has(name)).map(([name, file]) => `${name} (alerts/${file})`);
    expect(unknown, `not exported by compter: ${unknown.join(', ')}`).toEqual([]);
  });

  it('use only recording rules that compter.rules.yml defines', () => {
    const defined = recordingRuleNames();
    const used = [...compterNamesInAlerts()].filter(([name]) => name.startsWith('compter:'));
    expect(used.length).toBeGreaterThan(0);
    const undefinedNames = used.filter(([name]) => !defined.has(name)).map(([name, file]) => `${name} (alerts/${file})`);
    expect(undefinedNames, `recording rules not defined: ${undefinedNames.join(', ')}`).toEqual([]);
  });
});

describe('alerts/alertmanager.example.yml', () => {
  function routeOf(labels: Record<string, string>): ToolRun {
    const args = ['config', 'routes', 'test', `--config.file=${alertmanagerFile}`];
    return runTool('amtool', [...args, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  }

  it('passes amtool check-config', () => {
    const r = runTool('amtool', ['check-config', alertmanagerFile]);
    expect(r.status, r.report).toBe(0);
  });

  it('routes severity=critical alertname=CompterDebtOverdue to pager', () => {
    const r = routeOf({ severity: 'critical', alertname: 'CompterDebtOverdue' });
    expect(r.status, r.report).toBe(0);
    expect(r.stdout.trim(), r.report).toBe('pager');
  });

  it('routes every alert of compter.rules.yml by its severity', () => {
    const wrong: string[] = [];
    for (const a of alertingRules()) {
      const severity = a.labels?.severity ?? '';
      const r = routeOf({ alertname: a.alert, severity, project: 'billing' });
      const expected = receiverBySeverity[severity];
      if (r.status !== 0 || r.stdout.trim() !== expected) wrong.push(`${a.alert} (${severity}) expected ${expected}:\n${r.report}`);
    }
    expect(wrong, wrong.join('\n')).toEqual([]);
  });

  it.each([
    [{ severity: 'warning', alertname: 'CompterSloLate', slo: 'statements' }, 'ticket'],
    [{ severity: 'info', alertname: 'CompterSloRoutinelyLate' }, 'ticket'],
    // A mislabelled alert still reaches people.
    [{ alertname: 'SomethingWithoutSeverity' }, 'ticket'],
  ])('routes %o to %s', (labels, receiver) => {
    const r = routeOf(labels);
    expect(r.status, r.report).toBe(0);
    expect(r.stdout.trim(), r.report).toBe(receiver);
  });
});

interface ApiAlert {
  labels: Record<string, string>;
  status: { state: string; inhibitedBy: string[] };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('alerts/alertmanager.example.yml inhibitions, in a real Alertmanager', () => {
  let am: ChildProcess | undefined;
  let amLog = '';
  let baseUrl = '';
  let dataDir = '';

  beforeAll(async () => {
    requireTool('prometheus-alertmanager');
    dataDir = mkdtempSync(join(tmpdir(), 'compter-am-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    am = spawn(
      'prometheus-alertmanager',
      [
        `--config.file=${alertmanagerFile}`,
        `--storage.path=${dataDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    am.stdout?.on('data', (d: Buffer) => (amLog += d.toString()));
    am.stderr?.on('data', (d: Buffer) => (amLog += d.toString()));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (am.exitCode !== null) throw new Error(`prometheus-alertmanager exited ${am.exitCode}:\n${amLog}`);
      try {
        if ((await fetch(`${baseUrl}/-/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`prometheus-alertmanager not ready after 30s:\n${amLog}`);
      await delay(100);
    }
  });

  afterAll(async () => {
    if (am && am.exitCode === null) {
      const exited = new Promise((r) => am?.once('exit', r));
      am.kill('SIGTERM');
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const c0 = { job: 'compter', instance: 'compter-0:8080' };
  const c1 = { job: 'compter', instance: 'compter-1:8080' };
  const fleet = { job: 'compter' };
  const overdraft = { project: 'deposits', slo: 'overdraft', application: 'deposits' };
  /** [labels, expected state]: the second element says whether an inhibition must hold it back. */
  const scenario: [Record<string, string>, 'active' | 'suppressed'][] = [
    [{ alertname: 'CompterDown', severity: 'critical', ...c0 }, 'active'],
    [{ alertname: 'CompterSpooling', severity: 'warning', ...c0 }, 'suppressed'],
    [{ alertname: 'CompterEventStoreFailing', severity: 'warning', ...c0 }, 'suppressed'],
    // Debt and SLO alerts carry no instance (every instance exports every debt): one compter
    // down does not hold them back, the others still watch the debt.
    [{ alertname: 'CompterDebtOverdue', severity: 'critical', project: 'billing', debt: 'nightly-billing', ...fleet }, 'active'],
    [{ alertname: 'CompterDebtFailed', severity: 'warning', project: 'billing', debt: 'nightly-billing', ...fleet }, 'suppressed'],
    [{ alertname: 'CompterDebtTimedOut', severity: 'warning', project: 'billing', debt: 'nightly-billing', ...fleet }, 'suppressed'],
    [{ alertname: 'CompterDebtFailed', severity: 'warning', project: 'billing', debt: 'refunds', ...fleet }, 'active'],
    [{ alertname: 'CompterSloMissed', severity: 'critical', ...overdraft, ...fleet }, 'active'],
    [{ alertname: 'CompterSloLate', severity: 'warning', ...overdraft, ...fleet }, 'suppressed'],
    [{ alertname: 'CompterSloAtRisk', severity: 'warning', ...overdraft, ...fleet }, 'suppressed'],
    [{ alertname: 'CompterSloLate', severity: 'warning', ...overdraft, slo: 'statements', ...fleet }, 'active'],
    [{ alertname: 'CompterSpooling', severity: 'warning', ...c1 }, 'active'],
    [{ alertname: 'CompterEventStoreFailing', severity: 'warning', ...c1 }, 'suppressed'],
  ];

  it('holds back exactly the alerts an inhibiting alert covers', async () => {
    const posted = await fetch(`${baseUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(scenario.map(([labels]) => ({ labels, annotations: { summary: 'test' } }))),
    });
    expect(posted.status, await posted.text()).toBe(200);

    const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());
    const want = scenario.map(([labels, state]) => `${state}  ${key(labels)}`).sort();
    let got: string[] = [];
    // The inhibitor sees new alerts asynchronously; poll briefly.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const alerts = (await (await fetch(`${baseUrl}/api/v2/alerts`)).json()) as ApiAlert[];
      got = alerts.map((a) => `${a.status.state}  ${key(a.labels)}`).sort();
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await delay(200);
    }
    expect(got.join('\n'), `Alertmanager log:\n${amLog}`).toBe(want.join('\n'));
  });
});
