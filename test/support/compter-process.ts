import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built CLI, as a user runs it (vitest's global setup rebuilds it when stale). */
export const compterBin = join(root, 'dist', 'src', 'cli', 'main.js');

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface CompterProcess {
  url: string;
  proc: ChildProcess;
  /** Everything the process wrote to stdout/stderr so far. */
  output(): string;
  /** SIGKILL, no chance to drain. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for a clean exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `compter serve` as a real process on a free loopback port and waits for /healthz.
 * The port is found by binding and releasing it, so another process can take it in between:
 * a start that fails with EADDRINUSE is retried on a fresh port.
 */
export async function startCompterProcess(env: Record<string, string>, options: StartOptions = {}): Promise<CompterProcess> {
  if (!options.command && !existsSync(compterBin)) throw new Error(`${compterBin} is missing: run "npm run build" (npm test does it)`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnFreePort(env, options);
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= 5) throw err;
    }
  }
}

/** How to run compter other than as this checkout's built CLI. */
export interface StartOptions {
  /**
   * The command that serves, e.g. `['npx', 'compter', 'serve']`; default: node dist/src/cli/main.js
   * serve. It runs in its own process group and signals go to the whole group: a wrapper such as
   * npx does not pass SIGTERM on to the compter it started.
   */
  command?: [string, ...string[]];
  cwd?: string;
  /** Where each attempt's port comes from (default: a fresh free port); tests of the retry replace it. */
  pickPort?: () => Promise<number>;
}

class PortTakenError extends Error {}

async function startOnFreePort(env: Record<string, string>, options: StartOptions): Promise<CompterProcess> {
  const port = await (options.pickPort ?? freePort)();
  const url = `http://127.0.0.1:${port}`;
  const [file, ...args] = options.command ?? [process.execPath, compterBin, 'serve'];
  const proc = spawn(file, args, {
    cwd: options.cwd,
    detached: options.command !== undefined,
    env: { ...process.env, COMPTER_HOST: '127.0.0.1', COMPTER_PORT: String(port), COMPTER_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const signal = (name: NodeJS.Signals) => (options.command ? process.kill(-proc.pid!, name) : proc.kill(name));
  // With a wrapper, the streams close only when compter itself (which holds them too) is gone.
  const exited = new Promise<number | null>((resolve) => proc.on(options.command ? 'close' : 'exit', (code) => resolve(code)));
  // Generous: a loaded two-core machine can take seconds to load DuckDB and rebuild.
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await exited;
      const message = `compter exited with ${proc.exitCode} before it was ready:\n${output}`;
      throw output.includes('EADDRINUSE') ? new PortTakenError(message) : new Error(message);
    }
    // Bounded: whatever else holds the port may accept and never answer. An answer counts only
    // while our process is alive (one that lost the port exits with EADDRINUSE).
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok && proc.exitCode === null) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      signal('SIGKILL');
      throw new Error(`compter did not become healthy within 30s:\n${output}`);
    }
    await delay(50);
  }
  return {
    url,
    proc,
    output: () => output,
    async kill9() {
      signal('SIGKILL');
      await exited;
    },
    async stop() {
      signal('SIGTERM');
      return exited;
    },
  };
}
