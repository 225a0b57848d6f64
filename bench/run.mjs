// `npm run bench`: builds compter, runs every benchmark in one go on this machine, prints each
// one's table and writes bench/results/latest.json. Every figure is a ratio to a baseline
// measured in the same run, or an absolute figure next to its target.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printTable, progress, resultsDir, root } from './lib.mjs';
import { ensureSystemPackages } from '../test/support/system-packages.mjs';

/** Each benchmark: a script, its arguments, and what it measures. */
const benches = [
  // 8 s per wrk run (twelve runs: the bare Hono baseline is measured next to every compter run).
  { name: 'ping', script: 'ping.mjs', args: ['8'], what: 'durable pings/s vs bare Hono and Pushgateway' },
  { name: 'ping-cost', script: 'ping-cost.mjs', args: [], what: "where a durable ping's CPU goes: engine, journal, DuckDB" },
  { name: 'metrics', script: 'metrics.mjs', args: [], what: '/metrics at 10k and 100k debts vs naive prom-client' },
  { name: 'overdue', script: 'overdue.mjs', args: ['100000'], what: 'overdue detection, restart and memory at 100k debts' },
  { name: 'clickhouse-writer', script: 'clickhouse-writer.mjs', args: [], what: 'events/s through the writer into ClickHouse' },
  { name: 'restart', script: 'restart.mjs', args: [], what: 'ready after restart with 100k debts and 10M events' },
  { name: 'trends', script: 'trends.mjs', args: [], what: 'trend queries over 10M events on both engines' },
  { name: 'convergence', script: 'convergence.mjs', args: ['20', '1000'], what: 'convergence delay across two instances at 1k writes/s' },
  { name: 'slo-history', script: 'slo-history.mjs', args: [], what: 'an SLO defined over 400 business dates × 10 jobs of history' },
  { name: 'console', script: 'console.mjs', args: [], what: 'console GET / at 10k debts' },
];

const only = process.argv.slice(2);
const selected = benches.filter((b) => only.length === 0 || only.includes(b.name));
const started = Date.now();

ensureSystemPackages(
  [
    { bin: 'wrk', pkg: 'wrk' },
    { bin: 'prometheus-pushgateway', pkg: 'prometheus-pushgateway' },
    { bin: 'clickhouse-server', pkg: 'clickhouse-server' },
  ],
  "compter's benchmarks",
  'npm run bench',
);
progress('building compter');
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

const summary = [];
for (const [i, bench] of selected.entries()) {
  const path = join(root, 'bench', bench.script);
  if (!existsSync(path)) {
    summary.push({ bench: bench.name, status: 'missing', seconds: 0 });
    continue;
  }
  progress(`[${i + 1}/${selected.length}] ${bench.name}: ${bench.what}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path, ...bench.args], { cwd: root, stdio: 'inherit' });
  summary.push({
    bench: bench.name,
    status: r.status === 0 ? 'ok' : `failed (${r.status})`,
    seconds: Math.round((Date.now() - t0) / 1000),
  });
}

console.log(`\nall benchmarks, ${Math.round((Date.now() - started) / 1000)} s:`);
printTable(summary);
const latest = join(resultsDir, 'latest.json');
if (existsSync(latest)) console.log(`results: ${latest} (${Object.keys(JSON.parse(readFileSync(latest, 'utf8'))).join(', ')})`);
process.exit(summary.every((s) => s.status === 'ok') ? 0 : 1);
