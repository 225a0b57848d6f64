// Shared bench helpers: free ports, child processes, wrk runs, a progress line.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const resultsDir = join(root, 'bench', 'results');

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One progress line, rewritten in place on a terminal, plain lines otherwise. */
export function progress(message) {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else process.stderr.write(`${message}\n`);
}

/** Spawns a server process and waits until `url` answers. */
export async function startProcess(cmd, args, { env = {}, readyUrl, timeoutMs = 30_000 } = {}) {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => (output += d));
  proc.stderr.on('data', (d) => (output += d));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${cmd} exited early:\n${output}`);
    try {
      const res = await fetch(readyUrl);
      if (res.status < 500) break;
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${cmd} not ready:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.on('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Runs wrk and returns requests/s and latency percentiles in ms. */
export function wrk(url, { connections = 64, threads = 2, seconds = 10, script } = {}) {
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency'];
  if (script) args.push('-s', script);
  args.push(url);
  const r = spawnSync('wrk', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`wrk is needed for this benchmark (Debian package "wrk"): ${r.error.message}`);
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const pct = (p) => parseLatency(new RegExp(`\\s${p}%\\s+([\\d.]+\\w+)`).exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const errors = /Socket errors:.*/.exec(out)?.[0] ?? '';
  return { rps, p50: pct(50), p99: pct(99), non2xx, errors, raw: out };
}

function parseLatency(s) {
  if (!s) return NaN;
  const m = /([\d.]+)(us|ms|s)/.exec(s);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Writes one benchmark's results to bench/results/<name>.json and merges into latest.json. */
export function saveResults(name, results) {
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify(results, null, 2) + '\n');
  const latestPath = join(resultsDir, 'latest.json');
  const latest = existsSync(latestPath) ? JSON.parse(readFileSync(latestPath, 'utf8')) : {};
  latest[name] = results;
  writeFileSync(latestPath, JSON.stringify(latest, null, 2) + '\n');
}

/** Prints rows as an aligned table. */
export function printTable(rows) {
  const cols = Object.keys(rows[0]);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  console.log(line(cols));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}
