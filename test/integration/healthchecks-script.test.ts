import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';

/**
 * Shell scripts written for healthchecks.io, as its documentation shows them (curl -fsS -m 10
 * --retry 5, /start, /$?, ?rid=, --data-raw), run unchanged against compter: only the host
 * in the ping URL differs.
 */

let server: CompterProcess;
let workDir: string;
let pathWithUuidgen: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'compter-hc-'));
  server = await startCompterProcess({ COMPTER_DATA_DIR: join(workDir, 'data'), COMPTER_FLUSH_INTERVAL_MS: '0' });
  // The docs generate run ids with uuidgen; give the script one where the system has none.
  const bin = join(workDir, 'bin');
  await mkdir(bin);
  if (spawnSync('sh', ['-c', 'command -v uuidgen']).status !== 0) {
    await writeFile(join(bin, 'uuidgen'), '#!/bin/sh\ncat /proc/sys/kernel/random/uuid\n');
    await chmod(join(bin, 'uuidgen'), 0o755);
  }
  pathWithUuidgen = `${bin}:${process.env.PATH ?? ''}`;
});

afterAll(async () => {
  await server?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** Runs a bash script with PING_URL set; resolves with its exit code and output. */
async function runScript(name: string, script: string, pingUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(workDir, `${name}.sh`);
  await writeFile(file, script);
  await chmod(file, 0o755);
  const child = spawn('bash', [file], {
    env: { ...process.env, PATH: pathWithUuidgen, PING_URL: pingUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function newDebt(id: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/debts/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schedule: { every: '1h' } }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { pingId: string }).pingId;
}

async function payments(id: string): Promise<any[]> {
  const res = await fetch(`${server.url}/v1/debts/${id}/events?limit=100`);
  const { events } = (await res.json()) as { events: any[] };
  return events.filter((e) => e.type === 'payment').reverse();
}

// The healthchecks docs' "signal start and end", with its URL in a variable.
const startAndExitStatus = (job: string) => `#!/bin/bash
# using curl (10 second timeout, retry up to 5 times):
curl -fsS -m 10 --retry 5 -o /dev/null $PING_URL/start
${job}
curl -fsS -m 10 --retry 5 -o /dev/null $PING_URL/$?
`;

describe('a healthchecks shell script works unchanged against compter', () => {
  it('/start, then /$? with exit status 0: a timed success', async () => {
    const pingId = await newDebt('hc-ok');
    const run = await runScript('ok', startAndExitStatus('sleep 0.3; true'), `${server.url}/ping/${pingId}`);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const paid = await payments('hc-ok');
    expect(paid.map((p) => [p.kind, p.attributes.exitCode])).toEqual([
      ['start', undefined],
      ['success', 0],
    ]);
    expect(paid[1].durationSeconds).toBeGreaterThanOrEqual(0.25);
  });

  it('/start, then /$? with exit status 3: a fail with exit code 3', async () => {
    const pingId = await newDebt('hc-fail');
    const run = await runScript('fail', startAndExitStatus('sh -c "exit 3"'), `${server.url}/ping/${pingId}`);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const paid = await payments('hc-fail');
    expect(paid.map((p) => [p.kind, p.attributes.exitCode])).toEqual([
      ['start', undefined],
      ['fail', 3],
    ]);
    const debt = (await (await fetch(`${server.url}/v1/debts/hc-fail`)).json()) as { status: string };
    expect(debt.status).toBe('failed');
  });

  it('with run ids (?rid=$RID from uuidgen): start and end are paired', async () => {
    const pingId = await newDebt('hc-rid');
    const script = `#!/bin/bash
RID=\`uuidgen\`
# Send a start signal, specify rid query parameter
curl -fsS -m 10 --retry 5 "$PING_URL/start?rid=$RID"
# Do the work
sleep 0.2
# Send the success signal, use the same rid parameter
curl -fsS -m 10 --retry 5 "$PING_URL/$??rid=$RID"
echo "$RID" > "$(dirname "$0")/rid.txt"
`;
    const run = await runScript('rid', script, `${server.url}/ping/${pingId}`);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('OKOK');
    const rid = (await import('node:fs/promises').then((fs) => fs.readFile(join(workDir, 'rid.txt'), 'utf8'))).trim();
    const paid = await payments('hc-rid');
    expect(paid.map((p) => [p.kind, p.runId])).toEqual([
      ['start', rid.toLowerCase()],
      ['success', rid.toLowerCase()],
    ]);
    expect(paid[1].durationSeconds).toBeGreaterThanOrEqual(0.15);
  });

  it('sending the job output with --data-raw: kept as the message', async () => {
    const pingId = await newDebt('hc-body');
    const script = `#!/bin/bash
m=$(echo "renewed 2 certificates"; echo "warning: one expires soon" 2>&1)
curl -fsS -m 10 --retry 5 --data-raw "$m" $PING_URL/$?
`;
    const run = await runScript('body', script, `${server.url}/ping/${pingId}`);
    expect(run).toMatchObject({ code: 0, stdout: 'OK', stderr: '' });
    const [paid] = await payments('hc-body');
    expect(paid).toMatchObject({
      kind: 'success',
      attributes: { exitCode: 0, message: 'renewed 2 certificates\nwarning: one expires soon' },
    });
  });

  it('posting a 1 MiB job log with --data-binary: the ping counts, the first Ping-Body-Limit bytes kept', async () => {
    const pingId = await newDebt('hc-big-log');
    const lines = Array.from({ length: 20_000 }, (_, i) => `${String(i).padStart(6, '0')} backup: copied chunk ${i} ✓`);
    const log = `${lines.join('\n')}\n`.repeat(2);
    expect(Buffer.byteLength(log)).toBeGreaterThan(1024 * 1024);
    await writeFile(join(workDir, 'job.log'), log);
    // curl sends this as application/x-www-form-urlencoded with Expect: 100-continue.
    const script = `#!/bin/bash
curl -fsS -m 10 --retry 5 -D "$(dirname "$0")/headers.txt" --data-binary @"$(dirname "$0")/job.log" $PING_URL/0/
`;
    const run = await runScript('big-log', script, `${server.url}/ping/${pingId}`);
    expect(run).toMatchObject({ code: 0, stdout: 'OK', stderr: '' });
    const headers = await import('node:fs/promises').then((fs) => fs.readFile(join(workDir, 'headers.txt'), 'utf8'));
    const limit = Number(/^ping-body-limit: (\d+)/im.exec(headers)?.[1]);
    expect(limit).toBe(10240);
    expect(headers).toMatch(/^access-control-allow-origin: \*/im);
    expect(headers).toMatch(/^cache-control: no-cache/im);
    const [paid] = await payments('hc-big-log');
    expect(paid).toMatchObject({ kind: 'success', attributes: { exitCode: 0 } });
    const kept: string = paid.attributes.message;
    expect(log.startsWith(kept)).toBe(true);
    expect(Buffer.byteLength(kept)).toBeGreaterThan(limit - 4);
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(limit);
    const debt = (await (await fetch(`${server.url}/v1/debts/hc-big-log`)).json()) as { status: string; lastSuccess: string | null };
    expect(debt.status).toBe('up');
    expect(debt.lastSuccess).not.toBeNull();
  });

  it('slug URLs with the project ping key and ?create=1 create the check on first use', async () => {
    const { pingKey } = (await (await fetch(`${server.url}/v1/ping-key`)).json()) as { pingKey: string };
    const script = `#!/bin/bash
curl -fsS -m 10 --retry 5 -o /dev/null "$PING_URL/start?create=1"
true
curl -fsS -m 10 --retry 5 -o /dev/null "$PING_URL/$?"
`;
    const run = await runScript('slug', script, `${server.url}/ping/${pingKey}/hc-slug`);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect((await payments('hc-slug')).map((p) => p.kind)).toEqual(['start', 'success']);
  });

  it('a wrong ping id makes curl -f fail loudly, as it does against healthchecks', async () => {
    const run = await runScript('wrong', startAndExitStatus('true'), `${server.url}/ping/0b6f3b5e-3c2a-4f4e-9d1e-2a8f5c7d9e10`);
    expect(run.code).toBe(22);
    expect(run.stderr).toContain('404');
  });
});
