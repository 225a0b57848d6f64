import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, sqlDateTimeMs, sqlIdentifier, type SqlFragment } from '../../src/store/clickhouse/sql.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';

let client: ClickHouseClient;

beforeAll(async () => {
  const server = await getSharedClickHouse();
  // A 1 MiB literal is a 2+ MiB query: raise the parser limit (default 256 KiB) for this test.
  client = createClient({ url: server.url, clickhouse_settings: { max_query_size: String(16 * 1024 * 1024) } });
});

afterAll(async () => {
  await client?.close();
});

async function selectOne<T>(q: SqlFragment): Promise<T> {
  const rows = await (await client.query({ query: q.text, format: 'JSONEachRow' })).json<T>();
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

const allAscii = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');

const nasty: Record<string, string> = {
  empty: '',
  quote: "'",
  quotes: "it's ''quoted'' \"twice\"",
  backslash: '\\',
  trailingBackslash: 'abc\\',
  backslashQuote: "\\'",
  escapesAsText: '\\n\\t\\0\\x41\\u0041',
  nul: 'a\0b\0',
  controls: '\n\t\r\b\f\v\x01\x1b\x7f',
  allAscii,
  injection: "'; DROP TABLE events; --",
  injection2: "\\'; SELECT 1; --",
  comment: '/* not a comment */ -- nor this',
  braces: '{x:String} {y:UInt8} ? $1 :name',
  formatKeyword: ' FORMAT TSV',
  accents: 'Ünïcödé é ñ ø',
  cjk: '日本語 中文 한국어',
  emoji: '😀👍🏽👨‍👩‍👧🏳️‍🌈',
  rtl: 'שלום עולם مرحبا',
  bidiControls: '\u202Eevil\u202C \u200F\u200E',
  separators: '\u00a0\u2028\u2029\ufeff',
  combining: 'e\u0301 a\u0308',
};

describe('sql literals round-trip through a real ClickHouse', () => {
  for (const [name, value] of Object.entries(nasty)) {
    it(`returns ${name} byte for byte`, async () => {
      const row = await selectOne<{ v: string; h: string; n: string | number }>(
        sql`SELECT ${value} AS v, hex(${value}) AS h, length(${value}) AS n`,
      );
      const bytes = Buffer.from(value, 'utf8');
      expect(row.h).toBe(bytes.toString('hex').toUpperCase());
      expect(Number(row.n)).toBe(bytes.length);
      expect(row.v).toBe(value);
    });
  }

  it('returns a 1 MiB string byte for byte', async () => {
    const chunk = "x'\\\0é😀\n";
    const big = chunk.repeat(Math.ceil((1024 * 1024) / chunk.length)).slice(0, 1024 * 1024);
    const row = await selectOne<{ h: string; n: string | number }>(sql`SELECT lower(hex(MD5(${big}))) AS h, length(${big}) AS n`);
    const { createHash } = await import('node:crypto');
    expect(row.h).toBe(createHash('md5').update(big, 'utf8').digest('hex'));
    expect(Number(row.n)).toBe(Buffer.byteLength(big, 'utf8'));
  });

  it('keeps an injection attempt inside its literal', async () => {
    await client.command({ query: 'CREATE TABLE IF NOT EXISTS default.victim (x UInt8) ENGINE = Memory' });
    const row = await selectOne<{ v: string }>(sql`SELECT ${"x'); DROP TABLE default.victim; --"} AS v`);
    expect(row.v).toBe("x'); DROP TABLE default.victim; --");
    const exists = await selectOne<{ n: string | number }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = 'default' AND name = 'victim'`,
    );
    expect(Number(exists.n)).toBe(1);
  });

  it('compares strings in IN lists', async () => {
    const row = await selectOne<{ yes: number; no: number }>(
      sql`SELECT ${"a'b"} IN ${["a'b", 'c\\']} AS yes, ${'a'} IN ${["a'b", 'c\\']} AS no`,
    );
    expect(Number(row.yes)).toBe(1);
    expect(Number(row.no)).toBe(0);
  });

  it('renders numbers ClickHouse reads back exactly', async () => {
    const row = await selectOne<Record<string, string | number>>(
      sql`SELECT ${1_700_000_000_123} AS big, ${-5} AS neg, 1 -${-5} AS minus, ${1.25} AS f, ${0} AS zero, ${9007199254740993n} AS bi`,
    );
    expect(Number(row.big)).toBe(1_700_000_000_123);
    expect(Number(row.neg)).toBe(-5);
    expect(Number(row.minus)).toBe(6);
    expect(Number(row.f)).toBe(1.25);
    expect(Number(row.zero)).toBe(0);
    expect(String(row.bi)).toBe('9007199254740993');
  });

  it('renders DateTime bounds in UTC regardless of the server time zone', async () => {
    const ms = Date.UTC(2026, 10, 20, 23, 59, 59, 999);
    const row = await selectOne<{ t: string | number }>(sql`SELECT toUnixTimestamp(${sql.raw(sqlDateTimeMs(ms))}) AS t`);
    expect(Number(row.t)).toBe(Math.floor(ms / 1000));
  });

  it('uses backquoted identifiers as names', async () => {
    const table = sql.raw(`default.${sqlIdentifier('ident_test_Table_1')}`);
    await client.command({ query: sql`CREATE TABLE IF NOT EXISTS ${table} (${sql.ident('select')} String) ENGINE = Memory`.text });
    await client.command({ query: sql`INSERT INTO ${table} VALUES (${"a'b"})`.text });
    const row = await selectOne<{ select: string }>(sql`SELECT ${sql.ident('select')} FROM ${table}`);
    expect(row.select).toBe("a'b");
  });
});
