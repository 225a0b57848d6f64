/**
 * The one audited way values reach ClickHouse SQL. Nothing else in the ClickHouse adapter
 * concatenates a value into a query: strings, numbers and identifiers go through the
 * functions below, usually via the `sql` tagged template.
 *
 * Why not the client's query parameters ({x:Type})? ClickHouse 18.16, which the tests run
 * against, does not support them, so every value is rendered as a literal here instead.
 * The literal syntax used (`'...'` with backslash escapes, `\xHH`, plain decimal numbers,
 * backquoted identifiers) is the same on 18.16 and on current ClickHouse.
 */

/** A piece of SQL text that is safe to embed as is: built by `sql`, `sql.raw` or `sql.ident`. */
export class SqlFragment {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text;
  }
}

/** What `sql` accepts as an interpolated value. */
export type SqlValue = string | number | bigint | null | SqlFragment | readonly SqlScalar[];
type SqlScalar = string | number | bigint | null | SqlFragment;

const IDENTIFIER = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;
// Control characters are what this escapes, so the pattern must name them.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\'\u0000-\u001f\u007f]/g;
const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};
// DateTime is an unsigned 32-bit count of seconds on every ClickHouse version.
const MAX_DATETIME_MS = 4_294_967_295_999;

/**
 * A single-quoted ClickHouse string literal whose value is exactly `s`: backslash, quote and
 * every control character are escaped, everything else (any Unicode) passes through as UTF-8.
 * Throws on strings with unpaired surrogates, which have no UTF-8 form.
 */
export function sqlString(s: string): string {
  if (typeof s !== 'string') throw new TypeError(`sqlString: expected a string, got ${typeof s}`);
  // A UTF-16 surrogate without its partner cannot be encoded as UTF-8: the HTTP body would carry
  // U+FFFD instead, and the stored value would silently differ from the one asked for.
  if (!s.isWellFormed()) throw new RangeError('sqlString: string contains an unpaired UTF-16 surrogate');
  return `'${s.replace(NEEDS_ESCAPE, escapeChar)}'`;
}

function escapeChar(c: string): string {
  return NAMED_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** A numeric literal for a finite number or a bigint; throws on NaN, ±Infinity and non-numbers. */
export function sqlNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new RangeError(`sqlNumber: not a finite number: ${String(n)}`);
  // Negative numbers are parenthesised so `x - ${n}` can never turn into a `--` comment.
  // Integers print in full (no exponent) so large UInt64-range values stay integers.
  const text = Number.isInteger(n) && Math.abs(n) < 1e21 ? BigInt(n).toString() : String(n);
  return n < 0 ? `(${text})` : text;
}

/** A backquoted identifier; throws unless `name` matches `^[a-zA-Z_][a-zA-Z0-9_]{0,63}$`. */
export function sqlIdentifier(name: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new RangeError(`sqlIdentifier: not a valid identifier: ${JSON.stringify(name)}`);
  }
  return `\`${name}\``;
}

/**
 * The DateTime (whole second, UTC, ms truncated) containing epoch ms `ms`, as an expression
 * for WHERE clauses: `ts >= ${sqlDateTimeMs(from)}` prunes monthly partitions, while the exact
 * millisecond comparison is made on `ts_ms`. Built from a Unix number, so the server's
 * time zone never matters. Throws outside DateTime's range (1970 – 2106).
 */
export function sqlDateTimeMs(ms: number): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_DATETIME_MS) {
    throw new RangeError(`sqlDateTimeMs: not an epoch-ms time within DateTime's range: ${String(ms)}`);
  }
  return `toDateTime(${sqlNumber(Math.floor(ms / 1000))})`;
}

function renderScalar(value: SqlScalar): string {
  if (value instanceof SqlFragment) return value.text;
  if (value === null) return 'NULL';
  switch (typeof value) {
    case 'string':
      return sqlString(value);
    case 'number':
    case 'bigint':
      return sqlNumber(value);
    default:
      throw new TypeError(`sql: cannot embed a value of type ${typeof value}`);
  }
}

function renderValue(value: SqlValue): string {
  if (Array.isArray(value)) {
    // `x IN ()` is a syntax error; callers decide what an empty set means.
    if (value.length === 0) throw new RangeError('sql: cannot embed an empty list');
    return `(${value.map(renderScalar).join(', ')})`;
  }
  return renderScalar(value as SqlScalar);
}

interface SqlTag {
  /** Renders a template: strings → sqlString, numbers → sqlNumber, arrays → (a, b), fragments as is. */
  (strings: TemplateStringsArray, ...values: SqlValue[]): SqlFragment;
  /** Marks already validated SQL text as safe; never pass user input. */
  raw(text: string): SqlFragment;
  /** A validated, backquoted identifier. */
  ident(name: string): SqlFragment;
  /** Joins fragments with a separator such as `' AND '` (the separator is trusted text). */
  join(parts: readonly SqlFragment[], separator: string): SqlFragment;
}

/** The tagged template every ClickHouse query in compter is written with. */
export const sql: SqlTag = Object.assign(
  (strings: TemplateStringsArray, ...values: SqlValue[]): SqlFragment => {
    let text = strings[0] ?? '';
    values.forEach((value, i) => {
      text += renderValue(value) + (strings[i + 1] ?? '');
    });
    return new SqlFragment(text);
  },
  {
    raw: (text: string): SqlFragment => new SqlFragment(text),
    ident: (name: string): SqlFragment => new SqlFragment(sqlIdentifier(name)),
    join: (parts: readonly SqlFragment[], separator: string): SqlFragment => new SqlFragment(parts.map((p) => p.text).join(separator)),
  },
);
