#!/usr/bin/env node
// `/metrics` scrape latency at 10k and 100k debts (docs/performance.md): compter's incremental exposition
// against naive prom-client labelled gauges/counters carrying the same series, each served by a
// bare @hono/node-server in its own process on a free loopback port and scraped sequentially
// over HTTP from this process, with 1% of the debts changed before every scrape.
//
// Build first: npx tsc -p tsconfig.build.json   Then: node bench/metrics.mjs [--sizes 10000,100000] [--scrapes 30]
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dist = join(root, 'dist', 'src');

const STATUSES = ['new', 'up', 'running', 'late', 'overdue', 'failed', 'timed_out', 'paused'];
const KINDS = ['start', 'stage', 'success', 'fail', 'log'];
const CLOSED = ['paid', 'paid_late', 'missed', 'failed', 'incomplete', 'timed_out'];
const MUTATED_SHARE = 0.01;

/** Variants: how the series are held and how the body is written. */
const VARIANTS = {
  'compter-writev': 'compter exposition, Buffers written straight to the socket (cork + writev)',
  'compter-concat': 'compter exposition, Buffer.concat into one body for c.body()',
  'prom-client': 'naive prom-client labelled Gauge/Counter children, registry.metrics() string',
};

// ---------------------------------------------------------------- the served side (child)

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plausible debt population: a few projects, most debts up, some late/overdue/failed. */
function makeViews(n, rand) {
  const now = 1_767_225_600_000;
  const views = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    const status = r < 0.8 ? 'up' : STATUSES[Math.floor(rand() * STATUSES.length)];
    views.push({
      project: `team-${i % 20}`,
      debt: `job-${String(i).padStart(6, '0')}.nightly`,
      deadlineAt: rand() < 0.05 ? null : now + Math.floor(rand() * 86_400_000),
      lastSuccessAt: rand() < 0.05 ? null : now - Math.floor(rand() * 86_400_000),
      isOverdue: status === 'overdue',
      status,
      lastDurationMs: rand() < 0.1 ? null : Math.floor(rand() * 3_600_000),
      paymentsByKind: {
        start: 1 + Math.floor(rand() * 500),
        success: 1 + Math.floor(rand() * 500),
        ...(rand() < 0.2 ? { fail: 1 + Math.floor(rand() * 9) } : {}),
      },
      extraRuns: rand() < 0.1 ? 1 : 0,
      occurrencesByOutcome: { paid: 1 + Math.floor(rand() * 500), ...(rand() < 0.3 ? { paid_late: 1 + Math.floor(rand() * 20) } : {}) },
    });
  }
  return views;
}

/** One payment cycle: a success moves the deadline on and closes an occurrence. */
function mutate(view, rand) {
  view.deadlineAt = (view.deadlineAt ?? 1_767_225_600_000) + 86_400_000;
  view.lastSuccessAt = view.deadlineAt - 3_600_000 + Math.floor(rand() * 1000);
  view.lastDurationMs = Math.floor(rand() * 3_600_000);
  view.status = rand() < 0.9 ? 'up' : 'late';
  view.isOverdue = false;
  view.paymentsByKind.start = (view.paymentsByKind.start ?? 0) + 1;
  view.paymentsByKind.success = (view.paymentsByKind.success ?? 0) + 1;
  view.occurrencesByOutcome.paid = (view.occurrencesByOutcome.paid ?? 0) + 1;
}

async function serveCompter(views, variant) {
  const { createMetrics, metricsBodyToBuffer, writeMetricsBody } = await import(join(dist, 'metrics', 'registry.js'));
  const { RESPONSE_ALREADY_SENT } = await import('@hono/node-server/utils/response');
  const metrics = createMetrics({ version: 'bench' });
  for (const v of views) metrics.debts.update(v);
  metrics.debts.flush();
  return {
    apply(changed) {
      for (const v of changed) metrics.debts.update(v);
    },
    async handle(c) {
      const t0 = performance.now();
      const rendered = await metrics.renderMetrics();
      const renderMs = (performance.now() - t0).toFixed(3);
      if (variant === 'compter-concat') {
        return c.body(metricsBodyToBuffer(rendered), 200, { 'content-type': rendered.contentType, 'x-render-ms': renderMs });
      }
      // The cached Buffers go straight to the socket (one writev); the render stays leased
      // until the response closes, so updates meanwhile copy instead of writing in place.
      c.env.outgoing.setHeader('x-render-ms', renderMs);
      writeMetricsBody(c.env.outgoing, rendered);
      return RESPONSE_ALREADY_SENT;
    },
  };
}

async function servePromClient(views) {
  const { Counter, Gauge, Registry } = await import('prom-client');
  const registers = [new Registry()];
  const registry = registers[0];
  const debtLabels = ['project', 'debt'];
  const g = (name, extra = []) => new Gauge({ name, help: name, labelNames: [...debtLabels, ...extra], registers });
  const c = (name, extra = []) => new Counter({ name, help: name, labelNames: [...debtLabels, ...extra], registers });
  const deadline = g('compter_debt_deadline_timestamp_seconds');
  const lastSuccess = g('compter_debt_last_success_timestamp_seconds');
  const overdue = g('compter_debt_overdue');
  const status = g('compter_debt_status', ['status']);
  const lastDuration = g('compter_debt_last_duration_seconds');
  const payments = c('compter_payments_total', ['kind']);
  const extraRuns = c('compter_debt_extra_runs_total');
  const occurrences = c('compter_occurrences_total', ['outcome']);
  // The naive way: write every series of the debt through labels(...).
  const write = (v, prev) => {
    const { project, debt } = v;
    if (v.deadlineAt !== null) deadline.labels(project, debt).set(v.deadlineAt / 1000);
    if (v.lastSuccessAt !== null) lastSuccess.labels(project, debt).set(v.lastSuccessAt / 1000);
    overdue.labels(project, debt).set(v.isOverdue ? 1 : 0);
    for (const s of STATUSES) status.labels(project, debt, s).set(s === v.status ? 1 : 0);
    if (v.lastDurationMs !== null) lastDuration.labels(project, debt).set(v.lastDurationMs / 1000);
    for (const k of KINDS) {
      const d = (v.paymentsByKind[k] ?? 0) - (prev?.paymentsByKind[k] ?? 0);
      if (d > 0) payments.labels(project, debt, k).inc(d);
    }
    const dx = v.extraRuns - (prev?.extraRuns ?? 0);
    if (prev === undefined || dx > 0) extraRuns.labels(project, debt).inc(dx);
    for (const o of CLOSED) {
      const d = (v.occurrencesByOutcome[o] ?? 0) - (prev?.occurrencesByOutcome[o] ?? 0);
      if (d > 0) occurrences.labels(project, debt, o).inc(d);
    }
  };
  const snapshot = (v) => ({
    paymentsByKind: { ...v.paymentsByKind },
    occurrencesByOutcome: { ...v.occurrencesByOutcome },
    extraRuns: v.extraRuns,
  });
  const seen = new Map();
  for (const v of views) {
    write(v, undefined);
    seen.set(v, snapshot(v));
  }
  return {
    apply(changed) {
      for (const v of changed) {
        write(v, seen.get(v));
        seen.set(v, snapshot(v));
      }
    },
    async handle(ctx) {
      const t0 = performance.now();
      const text = await registry.metrics();
      const renderMs = (performance.now() - t0).toFixed(3);
      return ctx.body(text, 200, { 'content-type': registry.contentType, 'x-render-ms': renderMs });
    },
  };
}

async function child(variant, n) {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const rand = rng(20_261_122);
  const views = makeViews(n, rand);
  const t0 = performance.now();
  const served = variant === 'prom-client' ? await servePromClient(views) : await serveCompter(views, variant);
  const setupMs = performance.now() - t0;
  globalThis.gc?.();
  const mem = process.memoryUsage();
  const app = new Hono();
  app.get('/metrics', (c) => served.handle(c));
  app.post('/mutate', (c) => {
    const k = Math.max(1, Math.round(n * MUTATED_SHARE));
    const changed = [];
    for (let i = 0; i < k; i++) {
      const v = views[Math.floor(rand() * n)];
      mutate(v, rand);
      changed.push(v);
    }
    served.apply(changed);
    return c.text('ok');
  });
  serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
    process.send({
      port: info.port,
      setupMs,
      rssMiB: mem.rss / 2 ** 20,
      heapUsedMiB: mem.heapUsed / 2 ** 20,
      externalMiB: (mem.external + mem.arrayBuffers) / 2 ** 20,
    });
  });
}

// ---------------------------------------------------------------- the scraping side (parent)

// A fresh connection per request: a pooled one idle through a 10 s baseline scrape outlives the
// server's 5 s keep-alive timeout, and reusing it fails with ECONNRESET.
const agent = new http.Agent({ keepAlive: false });

/** curl when installed: a C client, like Prometheus' Go scraper, so the client's own cost stays small. */
const hasCurl = spawnSync('sh', ['-c', 'command -v curl'], { stdio: 'ignore' }).status === 0;

function scrapeWithCurl(port) {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-D',
      '-',
      '-w',
      '\n%{time_total} %{size_download} %{http_code}',
      `http://127.0.0.1:${port}/metrics`,
    ]);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', () => {
      const last = out.trimEnd().split('\n').at(-1).split(' ');
      if (last[2] !== '200') return reject(new Error(`curl: HTTP ${last[2]}`));
      const render = /^x-render-ms: *([0-9.]+)/im.exec(out);
      resolve({ ms: Number(last[0]) * 1000, bytes: Number(last[1]), renderMs: render ? Number(render[1]) : NaN, endsWithNewline: true });
    });
  });
}

function request(port, method, path) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: { accept: 'text/plain' } }, (res) => {
      let bytes = 0;
      let tail = Buffer.alloc(0);
      res.on('data', (d) => {
        bytes += d.length;
        tail = d;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`));
        resolve({
          ms: performance.now() - t0,
          bytes,
          renderMs: Number(res.headers['x-render-ms'] ?? NaN),
          endsWithNewline: tail.at(-1) === 0x0a,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function measure(variant, n, scrapes, warmups) {
  const proc = fork(fileURLToPath(import.meta.url), ['--serve', variant, String(n)], {
    execArgv: ['--max-old-space-size=8192', '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const ready = await new Promise((resolve, reject) => {
      proc.once('message', resolve);
      proc.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)));
    });
    console.log(
      `[metrics bench] N=${n} ${variant}: ready in ${(ready.setupMs / 1000).toFixed(1)} s, scraping ${warmups} warm-up + ${scrapes}`,
    );
    const times = [];
    const renders = [];
    let bytes = 0;
    for (let i = 0; i < warmups + scrapes; i++) {
      await request(ready.port, 'POST', '/mutate');
      // The first scrape goes through Node's client, which checks the body's last byte.
      const r = hasCurl && i > 0 ? await scrapeWithCurl(ready.port) : await request(ready.port, 'GET', '/metrics');
      if (!r.endsWithNewline) throw new Error(`${variant}: body does not end with a newline`);
      if (i >= warmups) {
        times.push(r.ms);
        renders.push(r.renderMs);
        bytes = r.bytes;
        const done = i - warmups + 1;
        if (done % 10 === 0) console.log(`[metrics bench] N=${n} ${variant}: ${done}/${scrapes} scrapes, last ${r.ms.toFixed(1)} ms`);
      }
    }
    times.sort((a, b) => a - b);
    renders.sort((a, b) => a - b);
    return {
      n,
      variant,
      scrapes,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      meanMs: times.reduce((a, b) => a + b, 0) / times.length,
      renderP50Ms: percentile(renders, 50),
      bytes,
      setupMs: ready.setupMs,
      rssMiB: ready.rssMiB,
      heapUsedMiB: ready.heapUsedMiB,
      externalMiB: ready.externalMiB,
    };
  } finally {
    proc.kill();
  }
}

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main() {
  const sizes = arg('--sizes', '10000,100000').split(',').map(Number);
  const scrapes = Number(arg('--scrapes', '30'));
  const runs = [];
  const loadAtStart = os.loadavg();
  console.log(
    `[metrics bench] scraper: ${hasCurl ? 'curl' : 'node:http'}; load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`,
  );
  for (const n of sizes) {
    // The concat variant shows what writing the chunks with writev saves; --all-variants runs it.
    const variants = Object.keys(VARIANTS).filter((v) => v !== 'compter-concat' || process.argv.includes('--all-variants'));
    for (const variant of variants) {
      // prom-client takes ~9 s per scrape at 100k debts and varies little (8.2-9.6 s in one run):
      // three scrapes measure it well enough and keep `npm run bench` inside its time budget.
      const isSlowBaseline = variant === 'prom-client' && n >= 50_000;
      runs.push(await measure(variant, n, isSlowBaseline ? Math.min(scrapes, 3) : scrapes, variant === 'prom-client' ? 1 : 5));
    }
  }
  agent.destroy();

  const targets = { 10000: 20, 100000: 150 };
  const summary = sizes.map((n) => {
    const base = runs.find((r) => r.n === n && r.variant === 'prom-client');
    const ours = runs.find((r) => r.n === n && r.variant === 'compter-writev');
    return {
      n,
      compterP50Ms: ours.p50Ms,
      compterP99Ms: ours.p99Ms,
      baselineP50Ms: base.p50Ms,
      ratioP50: base.p50Ms / ours.p50Ms,
      ratioP99: base.p99Ms / ours.p99Ms,
      targetMs: targets[n] ?? null,
      meetsLatencyTarget: targets[n] === undefined ? null : ours.p99Ms <= targets[n],
      meetsRatioTarget: base.p50Ms / ours.p50Ms >= 5,
    };
  });

  const rows = runs.map((r) => {
    const base = runs.find((b) => b.n === r.n && b.variant === 'prom-client');
    return [
      String(r.n),
      r.variant,
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.renderP50Ms.toFixed(1),
      (r.bytes / 2 ** 20).toFixed(1),
      (base.p50Ms / r.p50Ms).toFixed(1),
      r.rssMiB.toFixed(0),
    ];
  });
  const head = ['debts', 'variant', 'p50 ms', 'p99 ms', 'render p50 ms', 'body MiB', 'baseline/this (p50)', 'server RSS MiB'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log('');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('');
  for (const s of summary) {
    const latency =
      s.targetMs === null ? 'no target at this size' : `target ≤ ${s.targetMs} ms: ${s.meetsLatencyTarget ? 'met' : 'NOT met'}`;
    console.log(
      `N=${s.n}: compter p99 ${s.compterP99Ms.toFixed(1)} ms (${latency}), ` +
        `${s.ratioP50.toFixed(1)}× faster than prom-client at p50 (target ≥ 5×: ${s.meetsRatioTarget ? 'met' : 'NOT met'})`,
    );
  }

  const out = join(here, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'metrics.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        bench: 'metrics',
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        mutatedSharePerScrape: MUTATED_SHARE,
        scraper: hasCurl ? 'curl (time_total), one connection per scrape' : 'node:http, keep-alive',
        loadAverage: { start: loadAtStart, end: os.loadavg() },
        variants: VARIANTS,
        runs,
        summary,
      },
      null,
      2,
    )}\n`,
  );
  console.log(
    `[metrics bench] load average at the end ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; results written to ${file}`,
  );
}

if (process.argv[2] === '--serve') {
  child(process.argv[3], Number(process.argv[4])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
