import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadEnv } from '../../src/config.js';
import { ManualClock } from '../../src/domain/time/clock.js';
import { createCompter, requestListener, type Compter } from '../../src/main.js';

/**
 * How a test's requests reach compter: `app` calls the app directly (no socket); `listener`
 * sends them over loopback to the Node listener a served process runs, lanes in front of the
 * app (src/http/lane.ts). Suites run through both (vitest.config.ts, project `lanes`).
 */
export type Transport = 'app' | 'listener';

export interface TestCompter extends Compter {
  clock: ManualClock;
  transport: Transport;
  dataDir: string;
  /** A request through the app (no listener). */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** JSON request helper: method, path, optional body. */
  json(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  /** Closes compter (drains the writer) and removes its data directory. */
  cleanup(): Promise<void>;
}

/** A compter on a real DuckDB file in a fresh temp directory, on a manual clock. */
export async function startTestCompter(
  options: { now?: string; dataDir?: string; env?: Record<string, string>; transport?: Transport } = {},
): Promise<TestCompter> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'compter-test-')));
  const env = loadEnv({ COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'silent', COMPTER_FLUSH_INTERVAL_MS: '0', ...options.env });
  const clock = new ManualClock(Date.parse(options.now ?? '2026-11-20T12:00:00Z'));
  const compter = await createCompter(env, clock, pino({ level: 'silent' }));
  const transport = options.transport ?? (process.env.COMPTER_TEST_TRANSPORT === 'listener' ? 'listener' : 'app');
  let request = async (path: string, init?: RequestInit) => compter.app.request(path, init);
  let stopListening = () => Promise.resolve();
  if (transport === 'listener') {
    const server = createServer(requestListener(compter));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    request = (path, init) => fetch(`${base}${path}`, init);
    stopListening = () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  }
  return {
    ...compter,
    clock,
    transport,
    dataDir,
    request,
    async json(method, path, body) {
      const init: RequestInit = { method };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        init.headers = { 'content-type': 'application/json' };
      }
      const res = await request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async cleanup() {
      await stopListening();
      await compter.close();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
