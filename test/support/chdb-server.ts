import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A current ClickHouse engine (chdb, embedded) behind a test-only HTTP front, on a loopback port. */
export interface ChdbServer {
  /** `http://127.0.0.1:<port>`, for `@clickhouse/client` and the ClickHouse adapter. */
  url: string;
  /** The engine's version, e.g. `26.7.2.1`. */
  version: string;
  /** Stops the front and removes its data directory. Idempotent. */
  stop(): Promise<void>;
}

const FRONT = fileURLToPath(new URL('./chdb-front.mjs', import.meta.url));

/**
 * Starts the chdb front in its own process (chdb runs queries synchronously) and waits for
 * `/ping`. `profile` settings apply to every statement, as a server's user profile would.
 */
export async function startChdb(options: { profile?: Record<string, string | number> } = {}): Promise<ChdbServer> {
  let lastError: unknown;
  // A free port is found by binding and releasing it; another process may take it in between.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'compter-chdb-'));
    const port = await freePort();
    try {
      const child = await spawnFront(port, dir, options.profile ?? {});
      const url = `http://127.0.0.1:${port}`;
      const version = await queryText(url, 'SELECT version()');
      let stopped = false;
      return {
        url,
        version: version.trim(),
        async stop() {
          if (stopped) return;
          stopped = true;
          await stopChild(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      await rm(dir, { recursive: true, force: true });
    }
  }
  throw lastError;
}

let shared: Promise<ChdbServer> | undefined;

/** One chdb front per test process, started on first use (the engine takes a second to load). */
export function getSharedChdb(): Promise<ChdbServer> {
  shared ??= startChdb();
  return shared;
}

function spawnFront(port: number, dir: string, profile: Record<string, string | number>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FRONT, String(port), dir], {
      // Its stdin is how it notices this process is gone (see chdb-front.mjs).
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CHDB_FRONT_PROFILE: JSON.stringify(profile) },
    });
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`chdb front did not start within 30 s: ${stderr.slice(-500)}`)), 30_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    };
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        child.unref();
        // Neither the pipes nor the child may keep the test worker alive.
        for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
        resolve(child);
      }
    });
    child.on('exit', (code) => fail(new Error(`chdb front exited with ${code}: ${stderr.slice(-500)}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
  });
}

async function queryText(url: string, statement: string): Promise<string> {
  const res = await fetch(url, { method: 'POST', body: statement });
  const text = await res.text();
  if (!res.ok) throw new Error(`chdb front: ${text}`);
  return text;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
