/**
 * The metric names a PromQL expression reads. Not a parser: it removes what cannot be a
 * metric name (string literals, label matchers, range selectors, grouping clauses, function
 * and aggregation calls, keywords, numbers) and returns the identifiers left. Good enough
 * for the expressions compter ships; tests check it against known expressions.
 */

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'atan2',
]);

export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![A-Za-z0-9_:.$])[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:])(?!\s*\()/g)) {
    if (!KEYWORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names];
}

/** The metric a Grafana `label_values(selector, label)` or `label_values(label)` variable reads, if any. */
export function labelValuesMetric(query: string): string | null {
  const m = /^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*[{,]/.exec(query.trim());
  return m ? m[1]! : null;
}

/**
 * A `label_values(selector, label)` variable as an instant PromQL query with the same
 * selector, so a test can run it: `count by (label) (selector)`.
 */
export function labelValuesAsQuery(query: string): string {
  const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/s.exec(query.trim());
  if (!m) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return `count by (${m[2]}) (${m[1]})`;
}
