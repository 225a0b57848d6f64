import { describe, expect, it } from 'vitest';
import { SqlFragment, sql, sqlDateTimeMs, sqlIdentifier, sqlNumber, sqlString } from '../../src/store/clickhouse/sql.js';

describe('sqlString', () => {
  it('quotes plain text', () => {
    expect(sqlString('abc')).toBe("'abc'");
    expect(sqlString('')).toBe("''");
  });

  it('escapes single quotes and backslashes', () => {
    expect(sqlString("it's")).toBe("'it\\'s'");
    expect(sqlString('a\\b')).toBe("'a\\\\b'");
    expect(sqlString("\\'")).toBe("'\\\\\\''");
    expect(sqlString("'; DROP TABLE events; --")).toBe("'\\'; DROP TABLE events; --'");
  });

  it('keeps a trailing backslash from escaping the closing quote', () => {
    expect(sqlString('x\\')).toBe("'x\\\\'");
  });

  it('escapes NUL and control characters', () => {
    expect(sqlString('a\0b')).toBe("'a\\0b'");
    expect(sqlString('\n\t\r\b\f')).toBe("'\\n\\t\\r\\b\\f'");
    expect(sqlString('\x01\x1f\x7f')).toBe("'\\x01\\x1f\\x7f'");
  });

  it('leaves every rendered literal free of raw control characters and unescaped quotes', () => {
    let all = '';
    for (let c = 0; c < 128; c++) all += String.fromCharCode(c);
    const lit = sqlString(all);
    expect(lit).not.toMatch(/[\u0000-\u001f\u007f]/);
    // Between the outer quotes, every quote is preceded by an odd run of backslashes.
    const inner = lit.slice(1, -1);
    for (const m of inner.matchAll(/(\\*)'/g)) expect(m[1]!.length % 2).toBe(1);
  });

  it('passes unicode through unchanged', () => {
    for (const s of ['é', 'Ünïcödé', '日本語', '😀👍🏽', '👨‍👩‍👧', 'שלום עולם', 'مرحبا', '\u202Eevil\u202C', '\u00a0\u2028\u2029\ufeff']) {
      expect(sqlString(s)).toBe(`'${s}'`);
    }
  });

  it('rejects unpaired surrogates, which have no UTF-8 form', () => {
    expect(() => sqlString('a\uD800b')).toThrow(/surrogate/);
    expect(() => sqlString('\uDC00')).toThrow(/surrogate/);
    expect(sqlString('\uD83D\uDE00')).toBe("'😀'");
  });

  it('handles 1 MiB strings', () => {
    const big = "x'\\\0".repeat(256 * 1024);
    expect(big.length).toBe(1024 * 1024);
    const lit = sqlString(big);
    // x stays, and ', \ and NUL each become two characters.
    expect(lit.length).toBe(2 + 256 * 1024 * 7);
    expect(lit.startsWith("'x\\'\\\\\\0")).toBe(true);
  });

  it('rejects non-strings', () => {
    expect(() => sqlString(5 as unknown as string)).toThrow(TypeError);
  });
});

describe('sqlNumber', () => {
  it('renders integers without exponent and floats as JS does', () => {
    expect(sqlNumber(0)).toBe('0');
    expect(sqlNumber(42)).toBe('42');
    expect(sqlNumber(1_700_000_000_123)).toBe('1700000000123');
    expect(sqlNumber(1.5)).toBe('1.5');
    expect(sqlNumber(123n)).toBe('123');
    expect(sqlNumber(-0)).toBe('0');
  });

  it('parenthesises negatives so they never form a -- comment', () => {
    expect(sqlNumber(-5)).toBe('(-5)');
    expect(sql`1 -${-5}`.text).toBe('1 -(-5)');
  });

  it('rejects NaN, Infinity and non-numbers', () => {
    expect(() => sqlNumber(NaN)).toThrow(RangeError);
    expect(() => sqlNumber(Infinity)).toThrow(RangeError);
    expect(() => sqlNumber(-Infinity)).toThrow(RangeError);
    expect(() => sqlNumber('1' as unknown as number)).toThrow(RangeError);
    expect(() => sqlNumber('1; DROP TABLE x' as unknown as number)).toThrow(RangeError);
  });
});

describe('sqlIdentifier', () => {
  it('backquotes valid names', () => {
    expect(sqlIdentifier('events')).toBe('`events`');
    expect(sqlIdentifier('_a1')).toBe('`_a1`');
    expect(sqlIdentifier('a'.repeat(64))).toBe(`\`${'a'.repeat(64)}\``);
  });

  it('rejects everything else', () => {
    for (const bad of ['', '1abc', 'a-b', 'a.b', 'a b', 'a`b', "a'b", 'événement', 'a'.repeat(65), 'x; DROP TABLE y', 'a\0']) {
      expect(() => sqlIdentifier(bad), bad).toThrow(RangeError);
    }
  });
});

describe('sqlDateTimeMs', () => {
  it('truncates to the containing second', () => {
    expect(sqlDateTimeMs(1_700_000_000_999)).toBe('toDateTime(1700000000)');
    expect(sqlDateTimeMs(0)).toBe('toDateTime(0)');
  });

  it('rejects times DateTime cannot hold', () => {
    expect(() => sqlDateTimeMs(-1)).toThrow(RangeError);
    expect(() => sqlDateTimeMs(NaN)).toThrow(RangeError);
    expect(() => sqlDateTimeMs(4_294_967_296_000)).toThrow(RangeError);
  });
});

describe('sql template', () => {
  it('escapes values by type', () => {
    const q = sql`SELECT * FROM t WHERE a = ${"o'k"} AND b = ${3} AND c IN ${['x', 'y']} AND d IS ${null}`;
    expect(q).toBeInstanceOf(SqlFragment);
    expect(q.text).toBe("SELECT * FROM t WHERE a = 'o\\'k' AND b = 3 AND c IN ('x', 'y') AND d IS NULL");
  });

  it('inlines fragments, raw text and identifiers', () => {
    const inner = sql`x = ${'1'}`;
    expect(sql`SELECT ${sql.raw('count()')} FROM ${sql.ident('events')} WHERE ${inner}`.text).toBe(
      "SELECT count() FROM `events` WHERE x = '1'",
    );
    expect(sql.join([sql`a = ${1}`, sql`b = ${'2'}`], ' AND ').text).toBe("a = 1 AND b = '2'");
    expect(() => sql.ident('bad name')).toThrow(RangeError);
  });

  it('treats an injection attempt as data', () => {
    const q = sql`SELECT ${"'); DROP TABLE events; --"}`;
    expect(q.text).toBe("SELECT '\\'); DROP TABLE events; --'");
  });

  it('rejects empty lists, NaN and unsupported types', () => {
    expect(() => sql`x IN ${[]}`).toThrow(/empty list/);
    expect(() => sql`x = ${NaN}`).toThrow(RangeError);
    expect(() => sql`x = ${undefined as unknown as string}`).toThrow(TypeError);
    expect(() => sql`x = ${{} as unknown as string}`).toThrow(TypeError);
    expect(() => sql`x = ${true as unknown as string}`).toThrow(TypeError);
  });
});
