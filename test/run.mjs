#!/usr/bin/env node
// `npm test`: make sure the real servers the integration suites start are installed, build
// the CLI the process-level tests run, lint, run vitest, and end with one plain summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ensureSystemPackages } from './support/system-packages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsFile = join(root, '.test-results.json');

/** Debian packages the integration suites need, keyed by one binary each provides. */
const systemPackages = [
  { bin: 'clickhouse-server', pkg: 'clickhouse-server' },
  { bin: 'clickhouse', pkg: 'clickhouse-client' },
  { bin: 'prometheus', pkg: 'prometheus' },
  { bin: 'promtool', pkg: 'prometheus' },
  { bin: 'prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { bin: 'amtool', pkg: 'prometheus-alertmanager' },
  { bin: 'chromium', pkg: 'chromium' },
];

function build() {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('build failed');
    console.log('Tests: 0 passed, 1 failed');
    process.exit(1);
  }
}

function summarize() {
  if (!existsSync(resultsFile)) return null;
  const report = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const passed = report.numPassedTests ?? 0;
  // A suite that failed to load counts as a failure even though it ran no test.
  const failed = (report.numFailedTests ?? 0) + ((report.numFailedTestSuites ?? 0) ? countBrokenSuites(report) : 0);
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  return { passed, failed, skipped };
}

function countBrokenSuites(report) {
  return (report.testResults ?? []).filter((s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0).length;
}

/**
 * `npm run lint` (typescript-eslint, Prettier, import cycles), counted as one check: a lint
 * error fails the run like a failing test, so CI cannot land it. Skipped only when the
 * command line names test files (a developer iterating on one of them).
 */
function lint() {
  if (process.argv.length > 2) return null;
  console.log('lint: eslint, prettier --check, import cycles');
  const r = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) console.error('lint failed (npm run lint): see above');
  return r.status === 0;
}

ensureSystemPackages(systemPackages, "compter's integration tests", 'npm test');
build();
const isLintClean = lint();
rmSync(resultsFile, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${resultsFile}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR },
});
const summary = summarize();
const lintCounts = isLintClean === null ? { passed: 0, failed: 0 } : isLintClean ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
if (!summary) {
  console.log(`Tests: ${lintCounts.passed} passed, ${lintCounts.failed + 1} failed`);
  process.exit(run.status || 1);
}
const skippedNote = summary.skipped ? `, ${summary.skipped} skipped` : '';
// vitest exits non-zero for an error outside any test (an unhandled rejection after a test
// ended): that is a failure too, so the line never says "0 failed" for a run that failed.
const strayErrors = run.status !== 0 && summary.failed === 0 ? 1 : 0;
const failed = summary.failed + lintCounts.failed + strayErrors;
console.log(`Tests: ${summary.passed + lintCounts.passed} passed, ${failed} failed${skippedNote}`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
