// Durable pings/s and latency: compter (DuckDB, group commit) vs a bare Hono handler, same run.
// Usage: node bench/ping.mjs [seconds]   (build first: npm run build)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from './clickhouse.mjs';
import { freePort, printTable, progress, root, saveResults, startProcess, wrk } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 10);
const DEBTS = 1000;
const CONNECTIONS = 64;

async function bareHono() {
  const port = await freePort();
  const server = await startProcess(process.execPath, [join(root, 'bench', 'bare-hono.mjs'), String(port)], {
    readyUrl: `http://127.0.0.1:${port}/`,
  });
  try {
    progress(`bare Hono handler: wrk ${CONNECTIONS} connections, ${seconds}s`);
    return wrk(`http://127.0.0.1:${port}/ping`, { connections: CONNECTIONS, seconds });
  } finally {
    await server.stop();
  }
}

// Pushgateway's push: what teams do today to report a batch job's completion to Prometheus.
async function pushgateway() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pushgateway-bench-'));
  const server = await startProcess('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`], {
    readyUrl: `http://127.0.0.1:${port}/-/ready`,
  });
  try {
    const script = join(dataDir, 'push.lua');
    writeFileSync(
      script,
      `
local n = 0
request = function()
  n = n + 1
  local body = "job_last_success_timestamp_seconds " .. n .. "\\n"
  return wrk.format("POST", "/metrics/job/bench-" .. (n % ${DEBTS}), { ["content-type"] = "text/plain" }, body)
end
`,
    );
    progress(`Pushgateway 1.5: wrk ${CONNECTIONS} connections, ${seconds}s, pushes to ${DEBTS} jobs`);
    return wrk(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, seconds, script });
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function compter(store, extraEnv = {}, script = join(root, 'dist', 'src', 'cli', 'main.js'), withPayments = true) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'compter-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const server = await startProcess(process.execPath, [script, 'serve'], {
    env: { COMPTER_PORT: String(port), COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'warn', COMPTER_STORE: store, ...extraEnv },
    readyUrl: `${url}/healthz`,
  });
  try {
    progress(`compter (${store}): defining ${DEBTS} debts`);
    const pingIds = [];
    for (let i = 0; i < DEBTS; i++) {
      const res = await fetch(`${url}/v1/debts/bench-${i}`, {
        method: 'PUT',
        body: '{"schedule":{"every":"1h"}}',
        headers: { 'content-type': 'application/json' },
      });
      if (res.status !== 201) throw new Error(`define failed: ${res.status} ${await res.text()}`);
      pingIds.push((await res.json()).pingId);
    }
    const pingScript = join(dataDir, 'ping.lua');
    writeFileSync(
      pingScript,
      `
local ids = { ${pingIds.map((id) => `"${id}"`).join(', ')} }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/ping/" .. ids[(n % ${DEBTS}) + 1])
end
`,
    );
    const payScript = join(dataDir, 'pay.lua');
    writeFileSync(
      payScript,
      `
local n = 0
request = function()
  n = n + 1
  local path = "/v1/debts/bench-" .. (n % ${DEBTS}) .. "/payments"
  return wrk.format("POST", path, { ["content-type"] = "application/json" }, "{}")
end
`,
    );
    // The bench's own pooled connection from the definitions above sat idle through the load
    // and the server closed it (keep-alive timeout 5 s): a first fetch may hit it. Retry once.
    const readMetrics = async () => (await fetch(`${url}/metrics`)).text();
    const scrape = () => readMetrics().catch(readMetrics);
    // prom-client's event-loop delay histogram restarts at every scrape, so a scrape before
    // and one after a run give the delay during it. It samples every 10 ms and records the
    // whole interval: the delay is the figure minus those 10 ms.
    const loopDelayP99 = (text) => Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1]) * 1000 - 10;
    await scrape();
    progress(`compter (${store}): wrk ${CONNECTIONS} connections, ${seconds}s, healthchecks-style pings to ${DEBTS} debts`);
    const ping = { ...wrk(url, { connections: CONNECTIONS, seconds, script: pingScript }), loopP99: loopDelayP99(await scrape()) };
    progress(`compter (${store}): wrk ${CONNECTIONS} connections, ${seconds}s, JSON payments to ${DEBTS} debts`);
    const pay = withPayments
      ? { ...wrk(url, { connections: CONNECTIONS, seconds, script: payScript }), loopP99: loopDelayP99(await scrape()) }
      : { rps: NaN, p50: NaN, p99: NaN, non2xx: 0, loopP99: NaN };
    const metrics = await scrape();
    const appended = Number(/^compter_events_appended_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    return { ...ping, payments: strip(pay), appended };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const bare = await bareHono();
const push = await pushgateway();
const duck = await compter('duckdb');
// Diagnostic: the same requests with the commit skipped, i.e. the HTTP stack and the engine alone.
const ceiling = await compter('duckdb', {}, join(root, 'bench', 'null-commit-server.mjs'), false);
progress('starting clickhouse-server for the ClickHouse run');
const clickhouse = await startClickHouse();
let house;
try {
  house = await compter('clickhouse', { COMPTER_CLICKHOUSE_URL: clickhouse.url, COMPTER_CLICKHOUSE_DATABASE: 'ping_bench' });
} finally {
  await clickhouse.stop();
}
progress('done\n');
/** One table row: a run's rate, latency, ratio to bare Hono and event-loop delay. */
function row(server, r) {
  return {
    server,
    'req/s': r.rps.toFixed(0),
    'p50 ms': r.p50.toFixed(2),
    'p99 ms': r.p99.toFixed(2),
    'vs bare': (r.rps / bare.rps).toFixed(2),
    'loop delay p99 ms': r.loopP99 === undefined ? '' : r.loopP99.toFixed(1),
    'non-2xx': r.non2xx,
  };
}
const rows = [
  row('bare Hono handler', bare),
  row('Pushgateway push', push),
  row('compter duckdb: GET /ping/{id} (durable)', duck),
  row('compter duckdb: POST payments (durable)', duck.payments),
  row('diagnostic: compter with the commit skipped, GET /ping/{id}', ceiling),
  row('compter clickhouse: GET /ping/{id} (durable)', house),
  row('compter clickhouse: POST payments (durable)', house.payments),
];
printTable(rows);
console.log(`events appended by compter during the run: ${duck.appended}`);
console.log(
  `compter clickhouse /ping: ${(house.rps / push.rps).toFixed(1)}x Pushgateway, ${(house.rps / bare.rps).toFixed(2)} of bare Hono`,
);
console.log(
  `ceiling with the commit skipped (not durable, diagnostic): ${(ceiling.rps / bare.rps).toFixed(2)} of bare Hono; the durable DuckDB rate is ${(duck.rps / ceiling.rps).toFixed(2)} of it`,
);
console.log(
  `compter duckdb vs Pushgateway: ${(duck.rps / push.rps).toFixed(1)}x (target ≥ 10x); vs bare Hono: ${(duck.rps / bare.rps).toFixed(2)} (target ≥ 0.50)`,
);
for (const [store, r] of [
  ['duckdb', duck],
  ['clickhouse', house],
]) {
  console.log(
    `compter ${store}: ping p99 ${r.p99.toFixed(1)} ms, JSON payments p99 ${r.payments.p99.toFixed(1)} ms (targets ≤ 25 ms); ` +
      `JSON payments ${(r.payments.rps / bare.rps).toFixed(2)} of bare Hono (target ≥ 0.30)`,
  );
}
saveResults('ping', {
  measuredAt: new Date().toISOString(),
  seconds,
  connections: CONNECTIONS,
  debts: DEBTS,
  bare: strip(bare),
  pushgateway: strip(push),
  duckdb: strip(duck),
  clickhouse: strip(house),
  commitSkipped: strip(ceiling),
  ratioClickhouseToBare: house.rps / bare.rps,
  ratioDuckdbToBare: duck.rps / bare.rps,
  ratioDuckdbToPushgateway: duck.rps / push.rps,
  ratioDuckdbPaymentsToBare: duck.payments.rps / bare.rps,
  ratioClickhousePaymentsToBare: house.payments.rps / bare.rps,
});

function strip({ raw, ...rest }) {
  return rest;
}
