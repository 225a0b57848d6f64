// Convergence across instances: two `compter serve` processes on one real ClickHouse, 1k
// payments/s spread over both, and probes: a payment on one instance, then the time until the
// other instance counts it (the other reads the shared log every COMPTER_TAIL_INTERVAL_MS,
// default 500 ms; the target is 2 s, docs/semantics.md "Several instances").
// Usage: node bench/convergence.mjs [seconds] [writes per second]   (build first: npm run build)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from './clickhouse.mjs';
import { freePort, printTable, progress, root, saveResults, startProcess } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 20);
const rate = Number(process.argv[3] ?? 1000);
const debts = 200;
const probes = 20;

async function startCompter(clickhouseUrl, dir) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const p = await startProcess(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'serve'], {
    env: {
      COMPTER_HOST: '127.0.0.1',
      COMPTER_PORT: String(port),
      COMPTER_STORE: 'clickhouse',
      COMPTER_CLICKHOUSE_URL: clickhouseUrl,
      COMPTER_CLICKHOUSE_DATABASE: 'compter_bench_convergence',
      COMPTER_DATA_DIR: dir,
      COMPTER_LOG_LEVEL: 'warn',
    },
    readyUrl: `${url}/healthz`,
  });
  return { ...p, url };
}

async function send(url, method, path, body) {
  const res = await fetch(`${url}${path}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  await res.arrayBuffer();
  return res.status;
}

async function payments(url, debt) {
  const res = await fetch(`${url}/v1/debts/${debt}`);
  return res.status === 200 ? (await res.json()).payments : -1;
}

function quantile(sorted, q) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const dirs = [mkdtempSync(join(tmpdir(), 'compter-bench-conv-a-')), mkdtempSync(join(tmpdir(), 'compter-bench-conv-b-'))];
progress('starting ClickHouse and two compter instances');
const clickhouse = await startClickHouse();
const a = await startCompter(clickhouse.url, dirs[0]);
const b = await startCompter(clickhouse.url, dirs[1]);
try {
  for (let i = 0; i < debts; i++) await send(i % 2 ? b.url : a.url, 'PUT', `/v1/debts/load-${i}`, { schedule: { every: '1h' } });
  for (let i = 0; i < probes; i++) await send(a.url, 'PUT', `/v1/debts/probe-${i}`, { schedule: { every: '1h' } });
  while ((await payments(b.url, `probe-${probes - 1}`)) < 0) await new Promise((r) => setTimeout(r, 50));

  progress(`${rate} payments/s over both instances for ${seconds} s, probing convergence`);
  let sent = 0;
  let acked = 0;
  const refused = new Map();
  const until = Date.now() + seconds * 1000;
  const inFlight = new Set();
  const loader = (async () => {
    const started = Date.now();
    while (Date.now() < until) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      if (sent < due - rate) sent = due - rate; // more than a second behind: drop, do not burst
      // At most 64 requests in flight, like a fleet of keep-alive clients; a rate the machine
      // cannot serve shows as a lower writesPerSecond, not as a pile of sockets.
      for (; sent < due && inFlight.size < 64; sent++) {
        const p = send(sent % 2 ? b.url : a.url, 'POST', `/v1/debts/load-${sent % debts}/payments`, { kind: 'log' }).then(
          (s) => {
            if (s === 200) acked++;
            else refused.set(String(s), (refused.get(String(s)) ?? 0) + 1);
          },
          (err) => refused.set(err.cause?.code ?? err.message, (refused.get(err.cause?.code ?? err.message) ?? 0) + 1),
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(inFlight);
  })();
  const delays = [];
  const counts = new Map();
  for (let n = 0; Date.now() < until - 3000; n++) {
    const debt = `probe-${n % probes}`;
    const [from, to] = n % 2 ? [b, a] : [a, b];
    const expected = (counts.get(debt) ?? 0) + 1;
    counts.set(debt, expected);
    if ((await send(from.url, 'POST', `/v1/debts/${debt}/payments`, { kind: 'log' })) !== 200) throw new Error('probe payment refused');
    const t0 = performance.now();
    while ((await payments(to.url, debt)) < expected) {
      if (performance.now() - t0 > 30_000) throw new Error(`${debt} did not converge in 30 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
    delays.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 200));
  }
  await loader;
  const sorted = [...delays].sort((x, y) => x - y);
  const results = {
    writesPerSecond: Math.round(acked / seconds),
    refused: [...refused].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none',
    probes: delays.length,
    convergenceP50Ms: Math.round(quantile(sorted, 0.5)),
    convergenceP99Ms: Math.round(quantile(sorted, 0.99)),
    convergenceMaxMs: Math.round(sorted.at(-1)),
    targetMs: 2000,
  };
  console.log('\nconvergence across two instances:');
  printTable([results]);
  saveResults('convergence', results);
} finally {
  await a.stop();
  await b.stop();
  await clickhouse.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
