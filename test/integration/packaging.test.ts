import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staleSources } from '../support/build-dist.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';

/*
 * What `npm install compter` gives a user: the project is packed as npm would publish it (the
 * prepack script builds it), the tarball is installed in an empty directory, and the installed
 * `compter` serves and reports a job. The pack runs on a copy of the sources so the build it
 * does never rewrites the dist/ that other process-level tests are running.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let work: string;
let tarball: string;
let packedFiles: string[];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  // npm reads npm_config_* from the environment: an `npm test` parent must not steer the child.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  const child = spawn(command, args, { cwd, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectOk(r: Run, what: string): void {
  expect(r.code, `${what} failed:\n${r.stdout}\n${r.stderr}`).toBe(0);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'compter-pack-'));
  const source = join(work, 'source');
  await mkdir(source);
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src'])
    await cp(join(root, entry), join(source, entry), { recursive: true });
  // The build needs TypeScript and the type packages; the copy borrows this checkout's.
  await symlink(join(root, 'node_modules'), join(source, 'node_modules'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], source);
  expectOk(packed, 'npm pack');
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  packedFiles = info!.files.map((f) => f.path).sort();
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the built CLI, README, LICENSE and package.json, and nothing else', () => {
    expect(packedFiles).toContain('dist/src/cli/main.js');
    expect(packedFiles).toContain('dist/src/main.js');
    expect(packedFiles).toContain('dist/src/store/duckdb/duckdb-store.js');
    const extra = packedFiles.filter((f) => !/^dist\/src\/.+\.js$/.test(f) && !['README.md', 'LICENSE', 'package.json'].includes(f));
    expect(extra).toEqual([]);
    // No tests, bench, TypeScript sources or source maps pointing at sources that are not shipped.
    expect(packedFiles.filter((f) => /(^|\/)(test|bench)\/|\.ts$|\.map$/.test(f))).toEqual([]);
  });

  it('installs in an empty directory, and `npx compter serve` and `compter exec` from it work', { timeout: 120_000 }, async () => {
    const app = join(work, 'app');
    await mkdir(app);
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'uses-compter', version: '1.0.0', private: true }));
    // From the local cache when it has every package; the registry otherwise.
    expectOk(await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app), 'npm install of the tarball');
    expect(await readdir(join(app, 'node_modules', 'compter'))).toEqual(expect.arrayContaining(['dist', 'package.json', 'LICENSE']));

    let server: CompterProcess | undefined = await startCompterProcess(
      { COMPTER_DATA_DIR: join(work, 'data'), COMPTER_LOG_LEVEL: 'info' },
      { command: ['npx', '--no-install', 'compter', 'serve'], cwd: app },
    );
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const put = await fetch(`${server.url}/v1/debts/packaged`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ schedule: { every: '1h' } }),
      });
      expect(put.status).toBe(201);

      const job = await run(
        'npx',
        ['--no-install', 'compter', 'exec', '--url', server.url, '--debt', 'packaged', '--', 'sh', '-c', 'echo packaged job'],
        app,
      );
      expectOk(job, 'compter exec');
      expect(job.stdout).toBe('packaged job\n');
      const { events } = (await (await fetch(`${server.url}/v1/debts/packaged/events?limit=10`)).json()) as {
        events: { type: string; kind?: string }[];
      };
      expect(
        events
          .filter((e) => e.type === 'payment')
          .map((e) => e.kind)
          .reverse(),
      ).toEqual(['start', 'success']);
      // npx passes SIGTERM on to compter and then ends by that same signal (no exit code): the
      // proof of a clean stop is compter's own last log line and a closed port.
      await server.stop();
      expect(server.output()).toContain('"msg":"stopped"');
      await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
      server = undefined;
    } finally {
      await server?.kill9();
    }
  });
});

describe('the dist/ that process-level tests run', () => {
  it('is rebuilt before the tests start, so no source is newer than its output', () => {
    expect(staleSources()).toEqual([]);
  });
});
