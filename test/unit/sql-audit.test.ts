import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The audit of docs/security.md ("no path from input to SQL but the escaping helper"), as a
 * test: every place in src/ where SQL text is assembled from an expression — an untagged
 * template literal or a `+` concatenation that contains SQL, or `sql.raw(...)` — must be listed
 * below with why the expression cannot carry client input. Interpolations inside the `sql`
 * tagged template are escaped by src/store/clickhouse/sql.ts and need no entry. A new entry
 * needs review: values go through `sql` (ClickHouse) or bound parameters (DuckDB), never here.
 */
const AUDITED: Record<string, string> = {
  // DuckDB: values are bound parameters; `param()` only returns the placeholder `$n`.
  'src/store/duckdb/duckdb-store.ts: params.length': 'the placeholder number $n',
  'src/store/duckdb/duckdb-store.ts: param(value, VARCHAR)': 'bound parameter placeholder (an entityFilters value)',
  'src/store/duckdb/duckdb-store.ts: column': 'a column name from entityFilters (store/query-rules.ts): one of five constants',
  "src/store/duckdb/duckdb-store.ts: q.types.map((t) => param(t, VARCHAR)).join(', ')": 'bound parameter placeholders',
  "src/store/duckdb/duckdb-store.ts: param(toTimestamp(q.fromTs, 'fromTs'), TIMESTAMP)": 'bound parameter placeholder',
  "src/store/duckdb/duckdb-store.ts: param(toTimestamp(q.toTs, 'toTs'), TIMESTAMP)": 'bound parameter placeholder',
  'src/store/duckdb/duckdb-store.ts: params.length + 1': 'the placeholder number $n of the page cursor',
  'src/store/duckdb/duckdb-store.ts: values.length': 'the placeholder number $n of the page limit',
  "src/store/duckdb/duckdb-store.ts: conditions.join(' AND ')": 'conditions built above from constants and placeholders',
  'src/store/duckdb/duckdb-store.ts: limit': "DuckDB's own memory_limit read back, checked against MEMORY_SIZE (digits and a unit)",
  'src/store/duckdb/duckdb-store.ts: beyond': "'<' or '>', chosen by a comparison",
  'src/store/duckdb/duckdb-store.ts: direction': "'ASC' or 'DESC', chosen by a comparison",
  'src/store/duckdb/duckdb-store.ts: READ_COLUMNS': 'a constant column list',
  "src/store/duckdb/duckdb-store.ts: WRITE_COLUMNS.map(([column]) => column).join(', ')": 'column names from the constant WRITE_COLUMNS',
  "src/store/duckdb/duckdb-store.ts: WRITE_COLUMNS.map(([, , select]) => select).join(', ')":
    'select expressions from the constant WRITE_COLUMNS',
  'src/store/duckdb/duckdb-store.ts: JSON_STRUCTURE':
    'the JSON structure built from the constant WRITE_COLUMNS (the batch itself is a bound parameter)',
  'src/store/duckdb/duckdb-store.ts: STAGING_TABLE': 'a constant table name',
  // DuckDB trend queries: every value is bound by `bind()`, which returns the placeholder `$n`.
  'src/store/duckdb/trend-sql.ts: values.length': 'the placeholder number $n',
  'src/store/duckdb/trend-sql.ts: bind(sorted[0]!, VARCHAR)': 'bound parameter placeholder',
  'src/store/duckdb/trend-sql.ts: bind(sorted[sorted.length - 1]!, VARCHAR)': 'bound parameter placeholder',
  'src/store/duckdb/trend-sql.ts: b.bind(listValue(args.slos), LIST(VARCHAR))': 'bound parameter placeholder',
  'src/store/duckdb/trend-sql.ts: applications': 'a placeholder returned by bind()',
  'src/store/duckdb/trend-sql.ts: names': 'a placeholder returned by bind()',
  'src/store/duckdb/trend-sql.ts: dates': 'a placeholder returned by bind()',
  'src/store/duckdb/trend-sql.ts: indexes': 'a placeholder returned by bind()',
  'src/store/duckdb/trend-sql.ts: project': 'a placeholder returned by bind()',
  'src/store/duckdb/trend-sql.ts: jobs': 'a JOIN built above from placeholders',
  'src/store/duckdb/trend-sql.ts: sloFilter': 'a condition built from a placeholder',
  'src/store/duckdb/trend-sql.ts: dateRange(args, bind)': 'a condition built from placeholders',
  'src/store/duckdb/trend-sql.ts: dateRange(args, b.bind)': 'a condition built from placeholders',
  'src/store/duckdb/trend-sql.ts: succeededRuns(args, b.bind)': 'FROM/WHERE built from constants and placeholders',
  'src/store/duckdb/trend-sql.ts: column': 'latestOf() is only called with constant column names',
  "src/store/duckdb/trend-sql.ts: latestOf('duration_ms')": 'a constant column name',
  "src/store/duckdb/trend-sql.ts: latestOf('lateness_ms')": 'a constant column name',
  'src/store/duckdb/trend-sql.ts: y': 'slope() is only called with constant column names',
  "src/store/duckdb/trend-sql.ts: slope('duration_ms_last')": 'a constant column name',
  "src/store/duckdb/trend-sql.ts: slope('lateness_ms_last')": 'a constant column name',
  'src/store/duckdb/trend-sql.ts: j.application': 'a JS Map key (deduplication), not SQL text',
  'src/store/duckdb/trend-sql.ts: j.job': 'a JS Map key (deduplication), not SQL text',
  // DuckDB rate counts: the windows asked for are one bound list of `name@start` keys.
  'src/store/duckdb/rate-count-sql.ts: w.window': 'part of a bound list value (a window key), not SQL text',
  'src/store/duckdb/rate-count-sql.ts: w.windowStart': 'part of a bound list value (a window key), not SQL text',
  // ClickHouse: a snapshot id made of a number and random hex, sent as a JSON row value.
  'src/store/clickhouse/clickhouse-store.ts: seq': 'part of a snapshot id inserted as JSONEachRow, not SQL text',
  "src/store/clickhouse/clickhouse-store.ts: randomBytes(8).toString('hex')": 'part of a snapshot id inserted as JSONEachRow, not SQL text',
  // ClickHouse: sql.raw only on constants and on the helper's own output.
  'src/store/clickhouse/clickhouse-store.ts: sql.raw(sqlDateTimeMs(q.fromTs))': "sql.ts's DateTime literal of a checked number",
  'src/store/clickhouse/clickhouse-store.ts: sql.raw(sqlDateTimeMs(q.toTs))': "sql.ts's DateTime literal of a checked number",
  "src/store/clickhouse/clickhouse-store.ts: sql.raw(q.order === 'asc' ? 'ASC' : 'DESC')": 'constants chosen by a comparison',
  "src/store/clickhouse/clickhouse-store.ts: sql.raw(q.order === 'asc' ? '>' : '<')": 'constants chosen by a comparison',
  "src/store/clickhouse/clickhouse-store.ts: sql.raw(EVENT_INSERT_COLUMNS.join(', '))":
    'column names from the constant EVENT_INSERT_COLUMNS',
  'src/store/clickhouse/clickhouse-store.ts: sql.raw(column)':
    'a column name from entityFilters (store/query-rules.ts): one of five constants',
};

const SQL_TEXT =
  /\b(SELECT|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\S+\s+SET|CREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE|ALTER\s+TABLE|DROP\s+(TABLE|PARTITION)|WHERE|ORDER\s+BY)\b/;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** A string made of literals only (`'a' + 'b'` included). */
function isConstantString(node: ts.Node): boolean {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return true;
  if (ts.isParenthesizedExpression(node)) return isConstantString(node.expression);
  return (
    ts.isBinaryExpression(node) &&
    node.operatorToken.kind === ts.SyntaxKind.PlusToken &&
    isConstantString(node.left) &&
    isConstantString(node.right)
  );
}

/** True inside `new SomethingError(...)`: text for people, never sent to a database. */
function isErrorMessage(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n && !ts.isBlock(n) && !ts.isSourceFile(n); n = n.parent) {
    if (ts.isNewExpression(n) && /Error$/.test(n.expression.getText())) return true;
  }
  return false;
}

/** Every expression assembled into SQL text outside the `sql` tag, as "file: expression". */
function sqlSinks(file: string): string[] {
  const rel = relative(root, file);
  const inStore = /^src\/store\/(duckdb|clickhouse)\//.test(rel) && rel !== 'src/store/clickhouse/sql.ts';
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const sinks: string[] = [];
  const text = (node: ts.Node) => node.getText(source).replace(/\s+/g, ' ');
  const isSqlLiteral = (node: ts.Node) =>
    (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && SQL_TEXT.test(node.text);
  const visit = (node: ts.Node): void => {
    if (ts.isTemplateExpression(node) && !ts.isTaggedTemplateExpression(node.parent)) {
      const literal = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' ');
      // In the store, a fragment such as `debt = ${x}` is SQL without a keyword: every template
      // there counts, except error messages.
      if (SQL_TEXT.test(literal) || (inStore && !isErrorMessage(node)))
        for (const span of node.templateSpans) sinks.push(`${rel}: ${text(span.expression)}`);
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const [l, r] = [node.left, node.right];
      if ((isSqlLiteral(l) && !isConstantString(r)) || (isSqlLiteral(r) && !isConstantString(l)))
        sinks.push(`${rel}: ${text(isSqlLiteral(l) ? r : l)}`);
    }
    if (ts.isCallExpression(node) && text(node.expression) === 'sql.raw' && !node.arguments.every(isConstantString))
      sinks.push(`${rel}: ${text(node)}`);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sinks;
}

describe('SQL audit', () => {
  it('SQL text is assembled only from audited expressions; values go through sql.ts or bound parameters', () => {
    const sinks = sourceFiles(join(root, 'src')).flatMap(sqlSinks);
    const unaudited = [...new Set(sinks)].filter((s) => !(s in AUDITED));
    expect(unaudited, 'review these and add them to AUDITED only if no client input can reach them').toEqual([]);
    // The scan sees the known places (so a broken scan cannot pass by finding nothing).
    expect(sinks).toContain('src/store/duckdb/duckdb-store.ts: param(value, VARCHAR)');
    expect(sinks).toContain("src/store/clickhouse/clickhouse-store.ts: sql.raw(q.order === 'asc' ? 'ASC' : 'DESC')");
  });

  it('the ClickHouse client is only ever handed SqlFragment text or JSON rows', () => {
    const store = readFileSync(join(root, 'src/store/clickhouse/clickhouse-store.ts'), 'utf8');
    const queries = [...store.matchAll(/\bquery:\s*([^,}\n]+)/g)].map((m) => m[1]!.trim());
    expect(queries.length).toBeGreaterThan(0);
    for (const q of queries) expect(q).toBe('statement.text');
    expect(store).toMatch(/private async (command|select)\S*\(statement: SqlFragment/);
    expect(store).toMatch(/private async insertText\(statement: SqlFragment, body: string\)/);
  });
});
