import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { runProcess as run, runSentrySdkApp } from '../support/sentry-sdk-process.js';

/**
 * The real Sentry clients against a real compter process, pointed at it as a user switching
 * from Sentry Crons would: the DSN from GET /v1/ping-key in SENTRY_DSN, nothing else changed.
 * @sentry/node runs in its own process (test/support/sentry-sdk-app.ts), sentry-cli is the
 * binary its npm package ships.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sentryCli = join(root, 'node_modules', '.bin', 'sentry-cli');

let server: CompterProcess;
let workDir: string;
let dsn: string;

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}${path}`);
  return { status: res.status, body: await res.json() };
}

async function payments(id: string): Promise<any[]> {
  const { body } = await get(`/v1/debts/${id}/events?limit=100`);
  return body.events.filter((e: any) => e.type === 'payment').reverse();
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'compter-sentry-'));
  server = await startCompterProcess({ COMPTER_DATA_DIR: join(workDir, 'data') });
  dsn = (await get('/v1/ping-key')).body.sentryDsn;
});

afterAll(async () => {
  await server?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe('@sentry/node against compter', () => {
  let app: { checkInId: string; thrown: string | null; eventId: string; flushed: boolean; sent: string[] };

  beforeAll(async () => {
    const result = await runSentrySdkApp({ SENTRY_DSN: dsn });
    expect(result.code, result.stderr).toBe(0);
    app = JSON.parse(result.stdout.trim().split('\n').pop()!);
  }, 60_000);

  it('the SDK accepts the DSN and flushes every envelope, the error event included', () => {
    expect(dsn).toMatch(/^http:\/\/\w+@127\.0\.0\.1:\d+\/\d+$/);
    expect(app.flushed).toBe(true);
    // Six check-ins, the error event, and whatever else the SDK adds (a release-health session).
    expect(app.sent.filter((types) => types === 'check_in')).toHaveLength(6);
    expect(app.sent).toContain('event');
    expect(app.thrown).toBe('job failed');
  });

  it('captureCheckIn with a monitor config creates the debt; ok by checkInId closes that run with the SDK duration', async () => {
    const { body: debt } = await get('/v1/debts/sdk-nightly-billing');
    expect(debt).toMatchObject({
      schedule: { cron: '0 2 * * *', tz: 'Europe/Copenhagen' },
      grace: 900,
      maxRuntime: 7200,
      failuresBeforeAlert: 2,
      successesBeforeRecovery: 3,
      status: 'up',
      lastDurationSeconds: 12.25,
    });
    const paid = await payments('sdk-nightly-billing');
    const runId = app.checkInId.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    expect(paid.map((p) => [p.kind, p.runId])).toEqual([
      ['start', runId],
      ['success', runId],
    ]);
    expect(paid[1].attributes.environment).toBe('production');
  });

  it('withMonitor around a job that resolves: an interval debt, up, with the measured duration', async () => {
    const { body: debt } = await get('/v1/debts/sdk-hourly-resolves');
    expect(debt).toMatchObject({ schedule: { every: 3600 }, grace: 300, maxRuntime: 1800, status: 'up' });
    expect(debt.lastDurationSeconds).toBeGreaterThanOrEqual(0.25);
    expect(debt.lastDurationSeconds).toBeLessThan(5);
    expect((await payments('sdk-hourly-resolves')).map((p) => p.kind)).toEqual(['start', 'success']);
  });

  it('withMonitor around a job that throws: the error check-in makes the debt failed', async () => {
    const { body: debt } = await get('/v1/debts/sdk-every5-throws');
    expect(debt).toMatchObject({ schedule: { cron: '*/5 * * * *', tz: 'UTC' }, status: 'failed' });
    expect((await payments('sdk-every5-throws')).map((p) => p.kind)).toEqual(['start', 'fail']);
  });

  it('the ordinary captureException created nothing', async () => {
    const { body } = await get('/v1/debts');
    const ids = (Array.isArray(body) ? body : body.debts).map((d: any) => d.id).sort();
    expect(ids).toEqual(expect.arrayContaining(['sdk-every5-throws', 'sdk-hourly-resolves', 'sdk-nightly-billing']));
    expect(ids.filter((id: string) => id.startsWith('sdk-'))).toHaveLength(3);
  });
});

describe('sentry-cli monitors run against compter', () => {
  it('a command that exits 0: the monitor is created from --schedule and its run is a success', async () => {
    const result = await run(
      sentryCli,
      [
        'monitors',
        'run',
        'cli-backup',
        '--schedule',
        '*/5 * * * *',
        '--check-in-margin',
        '3',
        '--max-runtime',
        '20',
        '--',
        'sh',
        '-c',
        'sleep 0.3',
      ],
      { SENTRY_DSN: dsn },
    );
    expect(result.code, result.stderr).toBe(0);
    const { body: debt } = await get('/v1/debts/cli-backup');
    expect(debt).toMatchObject({ schedule: { cron: '*/5 * * * *', tz: 'UTC' }, grace: 180, maxRuntime: 1200, status: 'up' });
    expect(debt.lastDurationSeconds).toBeGreaterThanOrEqual(0.3);
    expect((await payments('cli-backup')).map((p) => p.kind)).toEqual(['start', 'success']);
  });

  it('a command that fails: sentry-cli exits with its code and the debt is failed', async () => {
    const result = await run(
      sentryCli,
      ['monitors', 'run', 'cli-report', '--schedule', '*/5 * * * *', '--timezone', 'Europe/Vienna', '--', 'sh', '-c', 'exit 3'],
      { SENTRY_DSN: dsn },
    );
    expect(result.code).toBe(3);
    const { body: debt } = await get('/v1/debts/cli-report');
    expect(debt).toMatchObject({ schedule: { cron: '*/5 * * * *', tz: 'Europe/Vienna' }, status: 'failed' });
    expect((await payments('cli-report')).map((p) => p.kind)).toEqual(['start', 'fail']);
  });

  it('sentry-cli --version runs offline from the binary its npm package ships', async () => {
    const result = await run(sentryCli, ['--version'], {});
    expect(result.stdout).toMatch(/^sentry-cli \d+\.\d+\.\d+/);
  });
});
