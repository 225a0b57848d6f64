import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { freePort } from './compter-process.js';

/**
 * Real Prometheus and Alertmanager processes for tests (Debian's `prometheus` 2.42 and
 * `prometheus-alertmanager` 0.25), each on a free loopback port with a temp directory, and
 * a webhook receiver that records what Alertmanager sends. A missing binary fails the test
 * with the Debian package to install; it never skips.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const rulesFile = join(root, 'alerts', 'compter.rules.yml');
export const shippedPrometheusConfig = join(root, 'deploy', 'prometheus', 'prometheus.yml');
export const shippedAlertmanagerConfig = join(root, 'alerts', 'alertmanager.example.yml');

/** Throws unless `bin` is on PATH, naming the Debian package that provides it. */
export function requireBinary(bin: string, debianPackage: string): void {
  if (spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`${bin} is not installed: apt-get install -y ${debianPackage} (Debian package "${debianPackage}")`);
  }
}

/** A child process the test owns, with its captured output. */
export interface OwnedProcess {
  url: string;
  dir: string;
  output(): string;
  stop(): Promise<void>;
}

async function startOwned(
  bin: string,
  args: (port: number, dir: string) => string[],
  dir: string,
  readyPath: string,
): Promise<OwnedProcess> {
  let lastError: Error | undefined;
  // A free port can be taken by another suite between finding and binding it: retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child: ChildProcess = spawn(bin, args(port, dir), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const killAtExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killAtExit);
    const owned: OwnedProcess = {
      url,
      dir,
      output: () => log,
      async stop() {
        process.removeListener('exit', killAtExit);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
      },
    };
    const deadline = Date.now() + 30_000;
    try {
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${bin} exited before it was ready:\n${log}`);
        try {
          if ((await fetch(`${url}${readyPath}`)).ok) return owned;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`${bin} not ready after 30 s:\n${log}`);
        await delay(100);
      }
    } catch (err) {
      lastError = err as Error;
      await owned.stop();
    }
  }
  throw lastError ?? new Error(`${bin} did not start`);
}

export interface PrometheusOptions {
  /** `host:port` of compter's /metrics; several for several instances. */
  compterTarget: string | string[];
  /** `host:port` of an Alertmanager, if alerts should be sent. */
  alertmanagerTarget?: string;
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  [key: string]: unknown;
}

/**
 * deploy/prometheus/prometheus.yml as shipped, with test-sized intervals (1 s scrape and
 * evaluation), the test's targets, the repository's rule file, and only the compter job.
 */
export function testPrometheusConfig(options: PrometheusOptions): Record<string, unknown> {
  const shipped = parse(readFileSync(shippedPrometheusConfig, 'utf8')) as { scrape_configs: ScrapeConfig[] } & Record<string, unknown>;
  const compterJob = shipped.scrape_configs.find((j) => j.job_name === 'compter');
  if (!compterJob) throw new Error(`${shippedPrometheusConfig} has no scrape job named "compter"`);
  return {
    ...shipped,
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [rulesFile],
    alerting: options.alertmanagerTarget ? { alertmanagers: [{ static_configs: [{ targets: [options.alertmanagerTarget] }] }] } : undefined,
    scrape_configs: [{ ...compterJob, static_configs: [{ targets: [options.compterTarget].flat() }] }],
  };
}

export interface PrometheusProcess extends OwnedProcess {
  /** GET /api/v1/query at the current time; resolves with Prometheus's JSON answer. */
  query(expr: string): Promise<PromResponse>;
}

export interface PromResponse {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusProcess> {
  requireBinary('prometheus', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'compter-prometheus-'));
  const config = testPrometheusConfig(options);
  if (config.alerting === undefined) delete config.alerting;
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const owned = await startOwned(
    'prometheus',
    (port, d) => [
      `--config.file=${join(d, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(d, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
    '/-/ready',
  );
  return {
    ...owned,
    async stop() {
      await owned.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async query(expr: string) {
      const res = await fetch(`${owned.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      return (await res.json()) as PromResponse;
    },
  };
}

/** Starts Alertmanager with the given configuration (an object written as YAML). */
export async function startAlertmanager(config: Record<string, unknown>): Promise<OwnedProcess> {
  requireBinary('prometheus-alertmanager', 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'compter-alertmanager-'));
  writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));
  const owned = await startOwned(
    'prometheus-alertmanager',
    (port, d) => [
      `--config.file=${join(d, 'alertmanager.yml')}`,
      `--storage.path=${join(d, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // An empty address turns clustering (and its gossip port) off.
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    dir,
    '/-/ready',
  );
  return {
    ...owned,
    async stop() {
      await owned.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One alert as Alertmanager's webhook sends it. */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** One POST from Alertmanager: the receiver's path and the notification body. */
export interface WebhookCall {
  path: string;
  body: { receiver: string; status: 'firing' | 'resolved'; alerts: WebhookAlert[] };
}

export interface WebhookReceiver {
  url: string;
  calls: WebhookCall[];
  /** Resolves with the first call `match` accepts (including earlier ones); rejects after `timeoutMs`. */
  waitFor(match: (call: WebhookCall) => boolean, timeoutMs: number, what: string): Promise<WebhookCall>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** An HTTP server on a free loopback port recording every webhook notification. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const calls: WebhookCall[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    readBody(req).then(
      (text) => {
        calls.push({ path: req.url ?? '/', body: JSON.parse(text) as WebhookCall['body'] });
        for (const w of waiters) w();
        res.writeHead(200).end('ok');
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    waitFor(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = calls.find(match);
          if (!found) return false;
          waiters.delete(onCall);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const onCall = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(onCall);
          reject(new Error(`no webhook call ${what} within ${timeoutMs} ms; received:\n${JSON.stringify(calls, null, 2)}`));
        }, timeoutMs);
        waiters.add(onCall);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
