// Durable pings/s and latency: compter (DuckDB and ClickHouse, group commit) vs a bare Hono
// handler. The bare handler is measured right before and right after every compter run, and each
// compter rate is divided by the mean of those two: on a shared 2-core host the baseline moved
// by up to half between runs a minute apart, so one baseline for the whole script made the
// ratios move with the host, not with compter.
// Usage: node bench/ping.mjs [seconds]   (build first: npm run build)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClickHouse } from './clickhouse.mjs';
import { freePort, printTable, progress, root, saveResults, startProcess, wrk } from './lib.mjs';

const seconds = Number(process.argv[2] ?? 10);
const DEBTS = 1000;
const CONNECTIONS = 64;

/** The bare handler, kept running; `run()` loads it once more. */
async function startBareHono() {
  const port = await freePort();
  const server = await startProcess(process.execPath, [join(root, 'bench', 'bare-hono.mjs'), String(port)], {
    readyUrl: `http://127.0.0.1:${port}/`,
  });
  const runs = [];
  return {
    runs,
    run(before) {
      progress(`bare Hono handler (${before}): wrk ${CONNECTIONS} connections, ${seconds}s`);
      const r = wrk(`http://127.0.0.1:${port}/ping`, { connections: CONNECTIONS, seconds });
      runs.push(r);
      return r;
    },
    stop: () => server.stop(),
  };
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

/** A compter with DEBTS debts defined; `run('ping' | 'pay')` loads it, `settle()` waits until its journal is stored. */
async function startCompter(store, extraEnv = {}, script = join(root, 'dist', 'src', 'cli', 'main.js')) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'compter-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const server = await startProcess(process.execPath, [script, 'serve'], {
    env: { COMPTER_PORT: String(port), COMPTER_DATA_DIR: dataDir, COMPTER_LOG_LEVEL: 'warn', COMPTER_STORE: store, ...extraEnv },
    readyUrl: `${url}/healthz`,
  });
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
  const scripts = {
    ping: `
local ids = { ${pingIds.map((id) => `"${id}"`).join(', ')} }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/ping/" .. ids[(n % ${DEBTS}) + 1])
end
`,
    pay: `
local n = 0
request = function()
  n = n + 1
  local path = "/v1/debts/bench-" .. (n % ${DEBTS}) .. "/payments"
  return wrk.format("POST", path, { ["content-type"] = "application/json" }, "{}")
end
`,
    // What compter exec sends: the same payment, asking for no debt in the answer.
    payMinimal: `
local n = 0
request = function()
  n = n + 1
  local path = "/v1/debts/bench-" .. (n % ${DEBTS}) .. "/payments"
  return wrk.format("POST", path, { ["content-type"] = "application/json", ["prefer"] = "return=minimal" }, "{}")
end
`,
  };
  // The bench's own pooled connection from the definitions above sat idle through the load
  // and the server closed it (keep-alive timeout 5 s): a first fetch may hit it. Retry once.
  const readMetrics = async () => (await fetch(`${url}/metrics`)).text();
  const scrape = () => readMetrics().catch(readMetrics);
  // prom-client's event-loop delay histogram restarts at every scrape, so a scrape before
  // and one after a run give the delay during it. It samples every 10 ms and records the
  // whole interval: the delay is the figure minus those 10 ms.
  const loopDelayP99 = (text) => Number(/^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(text)?.[1]) * 1000 - 10;
  return {
    async run(kind) {
      const lua = join(dataDir, `${kind}.lua`);
      writeFileSync(lua, scripts[kind]);
      await scrape();
      const what = { ping: 'healthchecks-style pings', pay: 'JSON payments', payMinimal: 'JSON payments with Prefer: return=minimal' }[
        kind
      ];
      progress(`compter (${store}): wrk ${CONNECTIONS} connections, ${seconds}s, ${what} to ${DEBTS} debts`);
      const r = wrk(url, { connections: CONNECTIONS, seconds, script: lua });
      return { ...r, loopP99: loopDelayP99(await scrape()) };
    },
    /** Waits (at most 30 s) until the journal is in the store, so no drain runs into the next measurement. */
    async settle() {
      for (let i = 0; i < 300; i++) {
        if (Number(/^compter_spool_events (\S+)/m.exec(await scrape())?.[1] ?? 0) === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    appended: async () => Number(/^compter_events_appended_total (\d+)/m.exec(await scrape())?.[1] ?? 0),
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A compter run with the bare runs on either side of it. */
function paired(run, before, after) {
  return { ...run, bare: (before.rps + after.rps) / 2 };
}

/**
 * One compter run of `kind`, then a bare Hono run once the journal is stored; `before` is the
 * bare run just made. Returns the compter run paired with both, and the bare run after it.
 */
async function thenBare(compter, kind, label, before) {
  const run = await compter.run(kind);
  await compter.settle();
  const after = bare.run(label);
  return { run: paired(run, before, after), after };
}

/** Pings, then JSON payments, each followed by a bare Hono run (see thenBare). */
async function pingsThenPayments(compter, store, before) {
  const ping = await thenBare(compter, 'ping', `after ${store} pings`, before);
  const pay = await thenBare(compter, 'pay', `after ${store} payments`, ping.after);
  return { ping: ping.run, pay: pay.run, after: pay.after };
}

const push = await pushgateway();
const bare = await startBareHono();
let duck, duckPay, duckMinimal, ceiling, house, housePay, appended;
try {
  let before = bare.run('first');
  const duckdb = await startCompter('duckdb');
  try {
    ({ ping: duck, pay: duckPay, after: before } = await pingsThenPayments(duckdb, 'DuckDB', before));
    ({ run: duckMinimal, after: before } = await thenBare(duckdb, 'payMinimal', 'after DuckDB minimal payments', before));
    appended = await duckdb.appended();
  } finally {
    await duckdb.stop();
  }
  // Diagnostic: the same requests with the commit skipped, i.e. the HTTP stack and the engine alone.
  const nullCommit = await startCompter('duckdb', {}, join(root, 'bench', 'null-commit-server.mjs'));
  try {
    const ping = await nullCommit.run('ping');
    const after = bare.run('after the diagnostic run');
    ceiling = paired(ping, before, after);
  } finally {
    await nullCommit.stop();
  }
  progress('starting clickhouse-server for the ClickHouse run');
  const clickhouse = await startClickHouse();
  try {
    const onClickHouse = await startCompter('clickhouse', {
      COMPTER_CLICKHOUSE_URL: clickhouse.url,
      COMPTER_CLICKHOUSE_DATABASE: 'ping_bench',
    });
    try {
      // The first baseline with clickhouse-server idle beside it, as it is during the runs.
      before = bare.run('with clickhouse-server up');
      ({ ping: house, pay: housePay } = await pingsThenPayments(onClickHouse, 'ClickHouse', before));
    } finally {
      await onClickHouse.stop();
    }
  } finally {
    await clickhouse.stop();
  }
} finally {
  await bare.stop();
}
progress('done\n');

/** One table row: a run's rate, latency, the bare Hono rate next to it, the ratio and the event-loop delay. */
function row(server, r) {
  return {
    server,
    'req/s': r.rps.toFixed(0),
    'p50 ms': r.p50.toFixed(2),
    'p99 ms': r.p99.toFixed(2),
    'bare Hono req/s': r.bare === undefined ? '' : r.bare.toFixed(0),
    'vs bare': r.bare === undefined ? '' : (r.rps / r.bare).toFixed(2),
    'loop delay p99 ms': r.loopP99 === undefined ? '' : r.loopP99.toFixed(1),
    'non-2xx': r.non2xx,
  };
}
const bareRates = bare.runs.map((r) => r.rps);
printTable([
  row('Pushgateway push', push),
  row('compter duckdb: GET /ping/{id} (durable)', duck),
  row('compter duckdb: POST payments (durable)', duckPay),
  row('compter duckdb: POST payments, Prefer: return=minimal', duckMinimal),
  row('diagnostic: compter with the commit skipped, GET /ping/{id}', ceiling),
  row('compter clickhouse: GET /ping/{id} (durable)', house),
  row('compter clickhouse: POST payments (durable)', housePay),
]);
console.log(
  `bare Hono handler, ${bareRates.length} runs between the others: ${bareRates.map((r) => r.toFixed(0)).join(', ')} req/s ` +
    `(min ${Math.min(...bareRates).toFixed(0)}, max ${Math.max(...bareRates).toFixed(0)})`,
);
console.log(`events appended by compter during the DuckDB runs: ${appended}`);
const ratio = (r) => r.rps / r.bare;
console.log(
  `ceiling with the commit skipped (not durable, diagnostic): ${ratio(ceiling).toFixed(2)} of bare Hono; ` +
    `durable DuckDB pings are ${(duck.rps / ceiling.rps).toFixed(2)} of it`,
);
for (const [store, ping, pay] of [
  ['duckdb', duck, duckPay],
  ['clickhouse', house, housePay],
]) {
  console.log(
    `compter ${store}: pings ${ratio(ping).toFixed(2)} of bare Hono (target ≥ 0.50), ${(ping.rps / push.rps).toFixed(1)}x Pushgateway (target ≥ 10x); ` +
      `JSON payments ${ratio(pay).toFixed(2)} of bare Hono (target ≥ 0.30); p99 ping ${ping.p99.toFixed(1)} ms, payments ${pay.p99.toFixed(1)} ms (targets ≤ 25 ms)`,
  );
}
saveResults('ping', {
  measuredAt: new Date().toISOString(),
  seconds,
  connections: CONNECTIONS,
  debts: DEBTS,
  bareRuns: bare.runs.map(strip),
  pushgateway: strip(push),
  duckdb: { ...strip(duck), payments: strip(duckPay), paymentsMinimal: strip(duckMinimal) },
  clickhouse: { ...strip(house), payments: strip(housePay) },
  commitSkipped: strip(ceiling),
  ratioDuckdbToBare: ratio(duck),
  ratioClickhouseToBare: ratio(house),
  ratioDuckdbToPushgateway: duck.rps / push.rps,
  ratioClickhouseToPushgateway: house.rps / push.rps,
  ratioDuckdbPaymentsToBare: ratio(duckPay),
  ratioDuckdbMinimalPaymentsToBare: ratio(duckMinimal),
  ratioClickhousePaymentsToBare: ratio(housePay),
  ratioCommitSkippedToBare: ratio(ceiling),
});

function strip({ raw, ...rest }) {
  return rest;
}
