import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compterBin, freePort, startCompterProcess, type CompterProcess } from '../support/compter-process.js';

/**
 * `compter exec` as a user runs it: the built CLI, found on PATH as `compter`, wrapping real
 * commands, reporting to a real compter process.
 */

let server: CompterProcess;
let workDir: string;
let binDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'compter-exec-'));
  binDir = join(workDir, 'bin');
  await import('node:fs/promises').then((fs) => fs.mkdir(binDir));
  const shim = join(binDir, 'compter');
  await writeFile(shim, `#!/bin/sh\nexec "${process.execPath}" "${compterBin}" "$@"\n`);
  await chmod(shim, 0o755);
  server = await startCompterProcess({ COMPTER_DATA_DIR: join(workDir, 'data'), COMPTER_FLUSH_INTERVAL_MS: '0' });
});

afterAll(async () => {
  await server?.stop();
  await rm(workDir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Starts `compter <args>` through PATH; `onStdout` sees output as it arrives. */
function compter(
  args: string[],
  options: { env?: Record<string, string>; onStdout?: (text: string, pid: number) => void } = {},
): Promise<Run> {
  const started = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ''}` };
  delete env.COMPTER_URL;
  delete env.COMPTER_TOKEN;
  delete env.COMPTER_EXEC_TIMEOUT;
  Object.assign(env, options.env);
  const child = spawn('compter', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    options.onStdout?.(stdout, child.pid!);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started }));
  });
}

let counter = 0;
async function newDebt(): Promise<string> {
  const id = `exec-${++counter}`;
  const res = await fetch(`${server.url}/v1/debts/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schedule: { every: '1h' } }),
  });
  expect(res.status).toBe(201);
  return id;
}

async function get(path: string): Promise<any> {
  const res = await fetch(`${server.url}${path}`);
  return res.json();
}

async function payments(id: string): Promise<any[]> {
  const { events } = await get(`/v1/debts/${id}/events?limit=100`);
  return events.filter((e: any) => e.type === 'payment').reverse();
}

describe('compter exec against a running compter', () => {
  it('success: passes output through, pays start then success with one run id, host and duration', async () => {
    const id = await newDebt();
    const run = await compter([
      'exec',
      '--url',
      server.url,
      '--debt',
      id,
      '--',
      process.execPath,
      '-e',
      "setTimeout(() => console.log('all good'), 300)",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('all good\n');
    expect(run.stderr).toBe('');
    const paid = await payments(id);
    expect(paid.map((p) => p.kind)).toEqual(['start', 'success']);
    expect(paid[0].runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(paid[1].runId).toBe(paid[0].runId);
    expect(paid[1]).toMatchObject({ host: hostname(), attributes: { exitCode: 0, message: 'all good\n' } });
    expect(paid[1].durationSeconds).toBeGreaterThanOrEqual(0.25);
    expect((await get(`/v1/debts/${id}`)).status).toBe('up');
  });

  it('`compter exec -- sleep 1` is recorded as at least 1.0 s, dated at the spawn, even when its start report arrives late', async () => {
    const id = await newDebt();
    // A slow network in front of the real compter: the start report arrives 400 ms late, so
    // the gap between the arrivals of start and end is shorter than the job ran.
    const START_DELAY_MS = 400;
    const slow: Server = createHttpServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const delayMs = JSON.parse(body).kind === 'start' ? START_DELAY_MS : 0;
        setTimeout(() => {
          fetch(`${server.url}${req.url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
            .then(async (upstream) => res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text()))
            .catch(() => res.writeHead(502).end());
        }, delayMs);
      });
    });
    const port = await new Promise<number>((resolve) =>
      slow.listen(0, '127.0.0.1', () => resolve((slow.address() as { port: number }).port)),
    );
    try {
      const before = Date.now();
      const run = await compter(['exec', '--url', `http://127.0.0.1:${port}`, '--debt', id, '--', 'sleep', '1']);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      const paid = await payments(id);
      expect(paid.map((p) => p.kind)).toEqual(['start', 'success']);
      expect(paid[1].durationSeconds).toBeGreaterThanOrEqual(1.0);
      expect(paid[1].durationSeconds).toBeLessThan(run.elapsedMs / 1000);
      const startedAt = Date.parse(paid[0].ts);
      expect(startedAt).toBeGreaterThanOrEqual(before);
      // Dated at the spawn, not at its arrival: compter received it at least the delay later.
      expect(Date.parse(paid[0].ingestedAt) - startedAt).toBeGreaterThanOrEqual(START_DELAY_MS);
      expect((await get(`/v1/debts/${id}`)).lastDurationSeconds).toBe(paid[1].durationSeconds);
    } finally {
      await new Promise((r) => slow.close(r));
    }
  });

  it('exit code 7 is passed through and recorded as a fail with exit code 7 and the output of both streams', async () => {
    const id = await newDebt();
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', 'sh', '-c', 'echo to-stdout; echo to-stderr >&2; exit 7']);
    expect(run.code).toBe(7);
    expect(run.stdout).toBe('to-stdout\n');
    expect(run.stderr).toBe('to-stderr\n');
    const paid = await payments(id);
    expect(paid.map((p) => p.kind)).toEqual(['start', 'fail']);
    expect(paid[1].attributes.exitCode).toBe(7);
    expect(paid[1].attributes.message).toContain('to-stdout\n');
    expect(paid[1].attributes.message).toContain('to-stderr\n');
    expect((await get(`/v1/debts/${id}`)).status).toBe('failed');
  });

  it('keeps only the last 10 KiB of a long output, while passing all of it through', async () => {
    const id = await newDebt();
    const script = "for (let i = 0; i < 5000; i++) console.log('line ' + i + ' ' + 'x'.repeat(40)); console.log('THE-END')";
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', process.execPath, '-e', script]);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').length).toBe(5002);
    const [, success] = await payments(id);
    const message: string = success.attributes.message;
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(10240);
    expect(Buffer.byteLength(message)).toBeGreaterThan(10000);
    expect(message.endsWith('THE-END\n')).toBe(true);
    expect(message).toContain('line 4999 ');
    expect(message).not.toContain('line 0 ');
  });

  it('forwards SIGTERM to the command and exits with its code (143), recorded as a fail', async () => {
    const id = await newDebt();
    const script =
      "process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(143); }); console.log('ready'); setInterval(() => {}, 1000);";
    let signalled = false;
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', process.execPath, '-e', script], {
      onStdout: (text, pid) => {
        if (!signalled && text.includes('ready')) {
          signalled = true;
          process.kill(pid, 'SIGTERM');
        }
      },
    });
    expect(signalled).toBe(true);
    expect(run.stdout).toBe('ready\ngot SIGTERM\n');
    expect(run.code).toBe(143);
    const paid = await payments(id);
    expect(paid.map((p) => p.kind)).toEqual(['start', 'fail']);
    expect(paid[1].attributes).toMatchObject({ exitCode: 143, message: 'ready\ngot SIGTERM\n' });
  });

  it('a command killed by a signal exits 128+N and says so in the message', async () => {
    const id = await newDebt();
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', 'sh', '-c', 'echo before; kill -KILL $$']);
    expect(run.code).toBe(137);
    const [, fail] = await payments(id);
    expect(fail.attributes).toMatchObject({ exitCode: 137, message: 'before\n[compter exec: killed by SIGKILL]' });
  });

  it('a background process left holding the output does not hold the wrapper', async () => {
    const id = await newDebt();
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', 'sh', '-c', 'echo left behind; sleep 15 & exit 4']);
    expect(run.code).toBe(4);
    expect(run.elapsedMs).toBeLessThan(10_000);
    const [, fail] = await payments(id);
    expect(fail.attributes).toMatchObject({ exitCode: 4, message: 'left behind\n' });
  });

  it('reads COMPTER_URL from the environment and creates the debt on first use with --every', async () => {
    const run = await compter(['exec', '--debt', 'exec-vivified', '--every', '1h', '--grace', '10m', '--', 'true'], {
      env: { COMPTER_URL: server.url },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const debt = await get('/v1/debts/exec-vivified');
    expect(debt).toMatchObject({ schedule: { every: 3600 }, grace: 600, status: 'up', payments: 2 });
  });

  it('a command that cannot be run exits 127 and is recorded as a fail', async () => {
    const id = await newDebt();
    const run = await compter(['exec', '--url', server.url, '--debt', id, '--', 'no-such-command-anywhere']);
    expect(run.code).toBe(127);
    expect(run.stderr).toContain('cannot run "no-such-command-anywhere"');
    const [, fail] = await payments(id);
    expect(fail).toMatchObject({ kind: 'fail', attributes: { exitCode: 127 } });
  });
});

describe('compter exec when compter is down or slow', () => {
  // Starting and ending node processes on a loaded two-core machine takes seconds, so a bound
  // on the wrapper is its budget plus this slack: still far below the 10 s default budget
  // (retrying until ~8 s), which is what a wrapper ignoring the budget would take.
  const PROCESS_SLACK_MS = 4_000;
  const BUDGET_SECONDS = 1;

  it('compter unreachable: the job runs and exits with its own code within the --timeout budget', async () => {
    const closedPort = await freePort();
    const run = await compter([
      'exec',
      '--url',
      `http://127.0.0.1:${closedPort}`,
      '--debt',
      'any',
      '--timeout',
      String(BUDGET_SECONDS),
      '--',
      process.execPath,
      '-e',
      "console.log('ran anyway at ' + Date.now()); process.exit(5)",
    ]);
    const exitedAt = Date.now();
    expect(run.stdout).toMatch(/^ran anyway at \d+\n$/);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain('could not report');
    // The wrapper adds at most --timeout after the job ends, plus its own exit.
    const jobEndedAt = Number(/at (\d+)/.exec(run.stdout)![1]);
    expect(exitedAt - jobEndedAt).toBeLessThan(BUDGET_SECONDS * 1000 + PROCESS_SLACK_MS);
    expect(run.elapsedMs).toBeLessThan(2 * BUDGET_SECONDS * 1000 + 2 * PROCESS_SLACK_MS);
  });

  it('compter accepting connections but never answering: still bounded (COMPTER_EXEC_TIMEOUT)', async () => {
    const sockets: Socket[] = [];
    const silent: TcpServer = createTcpServer((s) => sockets.push(s));
    const port = await new Promise<number>((resolve) =>
      silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
    );
    try {
      const run = await compter(['exec', '--debt', 'any', '--', process.execPath, '-e', 'console.log(Date.now())'], {
        env: { COMPTER_URL: `http://127.0.0.1:${port}`, COMPTER_EXEC_TIMEOUT: String(BUDGET_SECONDS) },
      });
      const exitedAt = Date.now();
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('timed out');
      expect(exitedAt - Number(run.stdout.trim())).toBeLessThan(BUDGET_SECONDS * 1000 + PROCESS_SLACK_MS);
      expect(run.elapsedMs).toBeLessThan(2 * BUDGET_SECONDS * 1000 + 2 * PROCESS_SLACK_MS);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('retries a 503 with backoff, sends the bearer token from COMPTER_TOKEN, and speaks the payments API', async () => {
    const seen: { method: string; url: string; auth: string | undefined; prefer: string | undefined; body: any }[] = [];
    let failuresLeft = 2;
    const fake: Server = createHttpServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({
          method: req.method!,
          url: req.url!,
          auth: req.headers.authorization,
          prefer: headerText(req.headers.prefer),
          body: JSON.parse(body),
        });
        if (failuresLeft-- > 0) {
          res
            .writeHead(503, { 'content-type': 'application/json' })
            .end('{"error":{"code":"unavailable","message":"busy","requestId":"x"}}');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        }
      });
    });
    const port = await new Promise<number>((resolve) =>
      fake.listen(0, '127.0.0.1', () => resolve((fake.address() as { port: number }).port)),
    );
    try {
      const run = await compter(['exec', '--debt', 'nightly', '--', 'sh', '-c', 'echo done; exit 3'], {
        env: { COMPTER_URL: `http://127.0.0.1:${port}/`, COMPTER_TOKEN: 'secret-token' },
      });
      expect(run.code).toBe(3);
      expect(run.stderr).toBe('');
      expect(seen.map((r) => r.body.kind)).toEqual(['start', 'start', 'start', 'fail']);
      for (const r of seen) {
        // It never reads the debt in the answer, so it asks for none.
        expect(r).toMatchObject({
          method: 'POST',
          url: '/v1/debts/nightly/payments',
          auth: 'Bearer secret-token',
          prefer: 'return=minimal',
        });
      }
      const end = seen[3]!.body;
      expect(end).toMatchObject({ kind: 'fail', runId: seen[0]!.body.runId, exitCode: 3, host: hostname(), message: 'done\n' });
      expect(end.durationSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});

/** A request header as one string (Node gives repeated headers as an array). */
function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
