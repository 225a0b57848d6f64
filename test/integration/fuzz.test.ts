import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BODY_LIMITS, SERVER_LIMITS } from '../../src/http/request-limits.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { testSeed } from '../support/seed.js';
import { buildRequest, mulberry32, operationsOf, Rng, type FuzzContext, type FuzzRequest } from '../support/fuzz.js';
import { testToken, tokensYaml } from '../support/tokens.js';

/**
 * Thousands of random and mutated requests at every route of /openapi.json, against a running
 * compter (the built CLI) on DuckDB and on ClickHouse: no 5xx, no crash, no hang, and the store
 * consistent afterwards. Repeat a run with COMPTER_TEST_SEED=<seed> (or FUZZ_SEED); FUZZ_REQUESTS sets the count.
 */
const SEED = testSeed('fuzzing every route', 'FUZZ_SEED');
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2000);
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 20_000;
const PING_KEY = 'fuzzPingKey_0123456789abcdef';

const admin = testToken('fuzz-admin', 'fuzz', ['admin']);
const pinger = testToken('fuzz-ping', 'fuzz', ['ping'], ['deposits']);
const reader = testToken('fuzz-read', 'fuzz', ['read']);
const outsider = testToken('other-admin', 'other', ['admin']);

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function startFuzzTarget(store: 'duckdb' | 'clickhouse'): Promise<{ env: Record<string, string>; proc: CompterProcess }> {
  const dir = await mkdtemp(join(tmpdir(), `compter-fuzz-${store}-`));
  dirs.push(dir);
  const config = join(dir, 'compter.yaml');
  await writeFile(
    config,
    `${tokensYaml([admin, pinger, reader, outsider])}limits:\n  default: { burstPerMinute: 1000000, perDay: 50000000 }\npingKeys:\n  fuzz: ${PING_KEY}\n`,
  );
  const env: Record<string, string> = { COMPTER_STORE: store, COMPTER_DATA_DIR: join(dir, 'data'), COMPTER_CONFIG: config };
  if (store === 'clickhouse') {
    const server = await getSharedClickHouse();
    env.COMPTER_CLICKHOUSE_URL = server.url;
    env.COMPTER_CLICKHOUSE_DATABASE = `fuzz_${process.pid}_${Date.now()}`;
  }
  return { env, proc: await startCompterProcess(env) };
}

interface Outcome {
  request: FuzzRequest;
  status: number | null;
  error?: string;
  /** The socket error code when no answer came. */
  code?: string | undefined;
  excerpt?: string;
}

function headerBytes(r: FuzzRequest): number {
  return r.url.length + Object.entries(r.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
}

function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? '' : ` body(${r.body.length}): ${JSON.stringify(r.body.slice(0, 160))}`;
  return `${r.method} ${r.url.slice(0, 200)} headers(${headerBytes(r)} bytes)${body}`;
}

// A pooled keep-alive socket the server closed as idle (its timeout passes easily on a loaded
// machine) fails the next request sent on it before the server sees it. Such a request is sent
// again; a request that itself breaks its connection breaks it every time and is still caught.
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

async function send(base: string, request: FuzzRequest): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await sendOnce(base, request);
    if (outcome.status !== null || attempt === 3 || !STALE_SOCKET_CODES.has(outcome.code ?? '')) return outcome;
  }
}

async function sendOnce(base: string, request: FuzzRequest): Promise<Outcome> {
  try {
    const init: RequestInit = {
      method: request.method,
      headers: request.headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: 'manual',
    };
    if (request.body !== undefined) init.body = request.body;
    const res = await fetch(base + request.url, init);
    const text = await res.text();
    return res.status >= 500 ? { request, status: res.status, excerpt: text.slice(0, 300) } : { request, status: res.status };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return {
      request,
      status: null,
      code: cause?.code,
      error: `${(err as Error).name}: ${cause?.code ?? ''} ${cause?.message ?? (err as Error).message}`,
    };
  }
}

async function api(base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    ...init,
    headers: { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A slowloris: a request whose headers never end. Resolves with how long the server kept it open. */
function slowHeaders(base: string): Promise<number> {
  const { hostname, port } = new URL(base);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Date.now() - started));
    setTimeout(() => socket.destroy(), 40_000).unref();
  });
}

/** Every debt of the project: gettable, and its payment count equals the payment events logged since it was (re)created. */
async function checkConsistency(base: string, seedNote: string): Promise<Map<string, number>> {
  const list = await api(base, '/v1/debts');
  expect(list.status, seedNote).toBe(200);
  const payments = new Map<string, number>();
  const problems: string[] = [];
  for (const debt of list.body.debts as any[]) {
    if (debt.project !== 'fuzz') problems.push(`${debt.id}: listed with project ${debt.project}`);
    const got = await api(base, `/v1/debts/${encodeURIComponent(debt.id)}`);
    if (got.status !== 200) problems.push(`${debt.id}: listed but GET answered ${got.status}`);
    const events = await api(base, `/v1/debts/${encodeURIComponent(debt.id)}/events?limit=1000`);
    if (events.status !== 200) {
      problems.push(`${debt.id}: events answered ${events.status}`);
      continue;
    }
    const all = events.body.events as any[];
    if (all.length >= 1000) continue; // too many to count through the API; never the case at these sizes
    const sinceDeleted = all.slice(0, all.findIndex((e) => e.type === 'debt.deleted') >>> 0);
    const logged = sinceDeleted.filter((e) => e.type === 'payment').length;
    if (logged !== debt.payments) problems.push(`${debt.id}: payments ${debt.payments} but ${logged} payment events in the log`);
    payments.set(debt.id, debt.payments);
  }
  expect(problems, seedNote).toEqual([]);
  return payments;
}

describe.each(['duckdb', 'clickhouse'] as const)('fuzzing every route (%s)', (store) => {
  it(`${REQUESTS} random and mutated requests: no 5xx, no crash, store consistent`, async () => {
    const seed = store === 'duckdb' ? SEED : (SEED ^ 0x9e3779b9) >>> 0;
    const seedNote = `COMPTER_TEST_SEED=${SEED} (${store} run seed ${seed}); repeat with COMPTER_TEST_SEED=${SEED}`;
    const { env, proc } = await startFuzzTarget(store);
    let running: CompterProcess | null = proc;
    try {
      const slowloris = store === 'duckdb' ? slowHeaders(proc.url) : null;
      const doc = await (await fetch(`${proc.url}/openapi.json`)).json();
      const ops = operationsOf(doc);
      expect(ops.length, seedNote).toBeGreaterThan(20);

      // A few real debts so valid-ish requests reach deep code paths.
      const ids = Array.from({ length: 8 }, (_, i) => `fz-${i}`);
      for (const id of ids.slice(0, 4))
        expect(
          (await api(proc.url, `/v1/debts/${id}`, { method: 'PUT', body: JSON.stringify({ schedule: { every: '1h' } }) })).status,
        ).toBe(201);
      const pingIds = ((await api(proc.url, '/v1/debts')).body.debts as any[]).map((d) => d.pingId as string);

      const rng = new Rng(mulberry32(seed));
      const ctx: FuzzContext = { rng, doc, ids, pingIds, pingKey: PING_KEY, project: 'fuzz', now: Date.now() };
      const creds = { valid: admin.secret, others: [pinger.secret, reader.secret, outsider.secret] };
      // Every operation first (coverage), then random ones.
      const requests: FuzzRequest[] = [];
      for (let i = 0; i < REQUESTS; i++) requests.push(buildRequest(ctx, i < ops.length * 2 ? ops[i % ops.length]! : rng.pick(ops), creds));

      const outcomes: Outcome[] = [];
      let next = 0;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < requests.length) outcomes.push(await send(proc.url, requests[next++]!));
        }),
      );
      const seconds = (Date.now() - started) / 1000;

      const serverErrors = outcomes
        .filter((o) => o.status !== null && o.status >= 500)
        .map((o) => `${o.status} ${describeRequest(o.request)} → ${o.excerpt}`);
      // A body or header block far over its limit may be answered (413, 431) and the
      // connection closed while the client is still sending: a refusal, not a failure.
      const refusedEarly = (r: FuzzRequest) =>
        (r.body?.length ?? 0) > BODY_LIMITS.definition || headerBytes(r) > SERVER_LIMITS.maxHeaderSize;
      const brokenConnections = outcomes
        .filter((o) => o.status === null && !refusedEarly(o.request))
        .map((o) => `${o.error} ${describeRequest(o.request)}`);
      const statuses = new Map<number | null, number>();
      for (const o of outcomes) statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
      console.log(
        `fuzz ${store}: ${outcomes.length} requests in ${seconds.toFixed(1)}s, seed ${SEED}, statuses ${JSON.stringify([...statuses].sort())}`,
      );

      expect(outcomes, seedNote).toHaveLength(REQUESTS);
      expect(proc.proc.exitCode, `compter exited. ${seedNote}\n${proc.output().slice(-3000)}`).toBeNull();
      const logged = proc
        .output()
        .split('\n')
        .filter((l) => l.includes('"level":50'))
        .slice(-5)
        .join('\n');
      expect(serverErrors, `${seedNote}\n${logged}`).toEqual([]);
      expect(brokenConnections, seedNote).toEqual([]);
      expect((await fetch(`${proc.url}/healthz`)).status, seedNote).toBe(200);
      // The fuzz did get through to the routes, not only bounce off validation.
      expect(statuses.get(200) ?? 0, seedNote).toBeGreaterThan(REQUESTS / 10);

      if (slowloris) {
        const heldMs = await slowloris;
        expect(heldMs, 'a request whose headers never end is dropped (headersTimeout)').toBeLessThan(20_000);
      }

      const before = await checkConsistency(proc.url, seedNote);
      expect(before.size, seedNote).toBeGreaterThanOrEqual(4);
      const other = await fetch(`${proc.url}/v1/debts`, { headers: { authorization: `Bearer ${outsider.secret}` } });
      for (const d of ((await other.json()) as any).debts) expect(d.project, seedNote).toBe('other');

      // The log rebuilds the same debts after a restart.
      expect(await proc.stop(), `${seedNote}\n${proc.output().slice(-2000)}`).toBe(0);
      running = null;
      running = await startCompterProcess(env);
      const after = await checkConsistency(running.url, seedNote);
      expect(after, seedNote).toEqual(before);
    } finally {
      if (running) await running.stop();
    }
  }, 180_000);
});
