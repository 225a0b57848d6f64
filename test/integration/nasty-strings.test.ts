import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';

/**
 * Hostile strings through the API into each store and back: every one is either stored and
 * read back exactly (compared as UTF-8 bytes), or refused with the status decided for it:
 * 400 when the schema refuses it (too long for the field, not Unicode), 422 when the domain
 * does (a run id with spaces), 413 when the body is over the route's limit.
 */
const NASTY: Record<string, string> = {
  singleQuote: "it's",
  doubleQuote: 'say "hi"',
  backslashes: 'C:\\temp\\new\\x41\\N\\0\\',
  escapedQuote: "\\'",
  sqlInjection: "'; DROP TABLE events; --",
  sqlComment: "x' /* */ OR 1=1 -- ",
  nul: 'a\u0000b\u0000',
  controls: '\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f\u007f',
  crlf: 'line1\r\nline2',
  emoji: '👩‍👩‍👧‍👦🏳️‍🌈😀',
  rtl: '\u202eabc\u202c שלום مرحبا',
  combining: 'e\u0301 n\u0303 Å',
  bom: '\ufeffbom',
  lineSeparators: '\u2028\u2029\u0085',
  nonBmp: '𝕏𠜎',
  formatStrings: '%s%d%n ${x} {{x}} $1',
  jsonish: '{"a":[1,2,{"b":null}]}',
  html: '<script>alert(1)</script>',
  tsvNull: '\\N',
};

const ONE_MIB = 1024 * 1024;
const MESSAGE_KEPT_BYTES = 10 * 1024;

function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

type Store = 'duckdb' | 'clickhouse';

async function start(store: Store, dataDir: string, database: string): Promise<TestCompter> {
  const env: Record<string, string> = { COMPTER_STORE: store };
  if (store === 'clickhouse') {
    const server = await getSharedClickHouse();
    env.COMPTER_CLICKHOUSE_URL = server.url;
    env.COMPTER_CLICKHOUSE_DATABASE = database;
  }
  return startTestCompter({ dataDir, env });
}

async function eventsOf(c: TestCompter, id: string): Promise<any[]> {
  const res = await c.json('GET', `/v1/debts/${id}/events?limit=1000`);
  expect(res.status).toBe(200);
  return res.body.events;
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe.each(['duckdb', 'clickhouse'] as const)('nasty strings round-trip (%s)', (store) => {
  it('names, messages, hosts and run ids come back byte for byte, also after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), `compter-nasty-${store}-`));
    dirs.push(dataDir);
    const database = `nasty_${process.pid}_${Date.now()}`;
    let c = await start(store, dataDir, database);
    const expected: { id: string; key: string; value: string }[] = [];
    try {
      let n = 0;
      for (const [key, value] of Object.entries(NASTY)) {
        const id = `nasty-${n++}`;
        expected.push({ id, key, value });
        const defined = await c.json('PUT', `/v1/debts/${id}`, { name: value, labels: { note: value } });
        expect(defined.status, key).toBe(201);
        expect(bytes(defined.body.name), key).toBe(bytes(value));
        const paid = await c.json('POST', `/v1/debts/${id}/payments`, { kind: 'log', message: value, host: value });
        expect(paid.status, key).toBe(200);
      }
      // Printable ASCII without spaces is what a run id may hold: quotes and backslashes included.
      const runId = `r'"\\;--/*${'`'}$1`;
      expect((await c.json('POST', '/v1/debts/nasty-0/payments', { kind: 'start', runId })).status).toBe(200);

      const check = async (phase: string) => {
        for (const { id, key, value } of expected) {
          const debt = await c.json('GET', `/v1/debts/${id}`);
          expect(bytes(debt.body.name), `${phase} ${key} name`).toBe(bytes(value));
          expect(bytes(debt.body.labels.note), `${phase} ${key} label`).toBe(bytes(value));
          const events = await eventsOf(c, id);
          const payment = events.find((e) => e.type === 'payment' && e.kind === 'log');
          expect(payment, `${phase} ${key}`).toBeDefined();
          expect(bytes(payment.attributes.message), `${phase} ${key} message`).toBe(bytes(value));
          expect(bytes(payment.host), `${phase} ${key} host`).toBe(bytes(value));
          const definedEvent = events.find((e) => e.type === 'debt.defined');
          expect(bytes(definedEvent.attributes.definition.name), `${phase} ${key} logged name`).toBe(bytes(value));
        }
        const start = (await eventsOf(c, 'nasty-0')).find((e) => e.kind === 'start');
        expect(start.runId, phase).toBe(runId);
      };
      await check('live');
      // A new process reads everything back from the store (snapshot and log).
      await c.close();
      c = await start(store, dataDir, database);
      await check('after restart');
    } finally {
      await c.close();
    }
  });

  it('refuses what cannot be stored as sent, with the status decided per field', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), `compter-nasty-${store}-`));
    dirs.push(dataDir);
    const c = await start(store, dataDir, `nasty_refuse_${process.pid}_${Date.now()}`);
    try {
      const mib = 'x'.repeat(ONE_MIB);
      expect((await c.json('PUT', '/v1/debts/big', {})).status).toBe(201);
      // 1 MiB values: over a definition route's body limit.
      expect((await c.json('PUT', '/v1/debts/big', { name: mib })).status).toBe(413);
      expect((await c.json('PUT', '/v1/debts/big', { labels: { note: mib } })).status).toBe(413);
      // A payment's message is a job's log, as a ping body is: cut to 10 KiB and the payment counts.
      const bigMessage = await c.json('POST', '/v1/debts/big/payments', { kind: 'log', message: mib });
      expect(bigMessage.status).toBe(200);
      const logged = (await eventsOf(c, 'big')).find((e) => e.kind === 'log');
      expect(logged.attributes.message).toBe('x'.repeat(10 * 1024));
      // Any other field that long is no payment: 400 naming the field.
      const hugeHost = await c.json('POST', '/v1/debts/big/payments', { kind: 'log', host: mib });
      expect(hugeHost.status).toBe(400);
      expect(hugeHost.body.error.problems.map((p: any) => p.path)).toEqual(['host']);
      // Under the body limit but over the field's: 400 naming the field.
      const longName = await c.json('PUT', '/v1/debts/big', { name: 'n'.repeat(257) });
      expect(longName.status).toBe(400);
      expect(longName.body.error.problems.map((p: any) => p.path)).toEqual(['name']);
      const longHost = await c.json('POST', '/v1/debts/big/payments', { kind: 'log', host: 'h'.repeat(257) });
      expect(longHost.status).toBe(400);
      expect(longHost.body.error.problems.map((p: any) => p.path)).toEqual(['host']);
      // Unpaired surrogates have no UTF-8 form: 400 in every field.
      for (const body of ['{"name":"a\\ud800"}', '{"labels":{"note":"\\udfff"}}'])
        expect((await c.json('PUT', '/v1/debts/big', body)).status).toBe(400);
      for (const body of ['{"kind":"log","message":"\\ud83d"}', '{"kind":"log","host":"x\\udc00"}'])
        expect((await c.json('POST', '/v1/debts/big/payments', body)).status).toBe(400);
      // A run id with spaces or non-ASCII: 422 (the domain's rule).
      for (const runId of ["'; DROP TABLE events; --", 'r\u0000', 'r😀'])
        expect((await c.json('POST', '/v1/debts/big/payments', { kind: 'start', runId })).status).toBe(422);
      // SQL in an id never reaches a query: the id rule refuses it.
      expect((await c.json('GET', `/v1/debts/${encodeURIComponent("x'; DROP TABLE events; --")}`)).status).toBe(400);
      // A message over 10 KiB is kept, cut at 10 KiB on a character boundary (docs/semantics.md, Payments).
      const long = '😀'.repeat(5000); // 20,000 bytes
      expect((await c.json('POST', '/v1/debts/big/payments', { kind: 'log', message: long })).status).toBe(200);
      const kept = (await eventsOf(c, 'big')).find((e) => e.kind === 'log').attributes.message as string;
      expect(Buffer.byteLength(kept)).toBe(MESSAGE_KEPT_BYTES);
      expect(long.startsWith(kept)).toBe(true);
      // Nothing refused above was logged (only the two cut log payments were); the table is intact.
      const events = await eventsOf(c, 'big');
      expect(events.filter((e) => e.type === 'payment')).toHaveLength(2);
      expect((await c.json('GET', '/v1/debts/big')).body.payments).toBe(2);
    } finally {
      await c.close();
    }
  });
});
