#!/usr/bin/env node
// The console's debt list at 10k debts (target: GET / ≤ 300 ms server time). A real compter
// process on a free loopback port loads 10k debts from compter.yaml, a tenth of them paid, and
// is asked for the first page, a text-filtered page and a deep page, sequentially. Server time
// is the Server-Timing header compter sets on console pages; the client's time is shown beside it.
//
// Build first: npx tsc -p tsconfig.build.json   Then: node bench/console.mjs [debts] [requests]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, printTable, progress, root, saveResults, startProcess } from './lib.mjs';

const DEBTS = Number(process.argv[2] ?? 10_000);
const REQUESTS = Number(process.argv[3] ?? 30);
const TARGET_MS = 300;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'compter-bench-console-'));
  const lines = ['debts:'];
  for (let i = 0; i < DEBTS; i++) {
    const id = `debt-${String(i).padStart(5, '0')}`;
    const schedule = i % 3 === 0 ? '{ cron: "0 2 * * *", tz: Europe/Copenhagen }' : '{ every: 1h }';
    lines.push(`  - { id: ${id}, name: "Job ${i}", schedule: ${schedule}, grace: 15m, labels: { team: team-${i % 20} } }`);
  }
  writeFileSync(join(dir, 'compter.yaml'), lines.join('\n') + '\n');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  progress(`starting compter with ${DEBTS} debts`);
  const compter = await startProcess(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'serve'], {
    env: {
      COMPTER_HOST: '127.0.0.1',
      COMPTER_PORT: String(port),
      COMPTER_DATA_DIR: join(dir, 'data'),
      COMPTER_CONFIG: join(dir, 'compter.yaml'),
      COMPTER_LOG_LEVEL: 'warn',
    },
    readyUrl: `${url}/healthz`,
    timeoutMs: 120_000,
  });
  try {
    progress('paying a tenth of the debts');
    const paid = Array.from({ length: Math.floor(DEBTS / 10) }, (_, i) => `debt-${String(i * 10).padStart(5, '0')}`);
    for (let i = 0; i < paid.length; i += 32) {
      await Promise.all(
        paid.slice(i, i + 32).map((id) =>
          fetch(`${url}/v1/debts/${id}/payments`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ kind: 'success', durationSeconds: 12.5 }),
          }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    const cases = [
      { case: 'first page', path: '/' },
      { case: 'text filter', path: '/?q=job+12' },
      { case: 'label filter, page 3', path: '/?label=team%3Dteam-7&page=3' },
      { case: 'deep page', path: `/?page=${Math.floor(DEBTS / 50)}` },
    ];
    const rows = [];
    for (const c of cases) {
      progress(`GET ${c.path} × ${REQUESTS}`);
      const server = [];
      const client = [];
      for (let i = 0; i < REQUESTS + 3; i++) {
        const t0 = performance.now();
        const res = await fetch(url + c.path, { headers: { accept: 'text/html' } });
        const body = await res.text();
        const t1 = performance.now();
        if (res.status !== 200 || !body.includes('</html>')) throw new Error(`GET ${c.path}: ${res.status}`);
        if (i < 3) continue; // warm-up
        server.push(Number(/dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? NaN));
        client.push(t1 - t0);
      }
      server.sort((a, b) => a - b);
      client.sort((a, b) => a - b);
      rows.push({
        case: c.case,
        'server p50 ms': percentile(server, 0.5).toFixed(1),
        'server p95 ms': percentile(server, 0.95).toFixed(1),
        'server max ms': server.at(-1).toFixed(1),
        'client p95 ms': percentile(client, 0.95).toFixed(1),
        target: `≤ ${TARGET_MS}`,
        ok: percentile(server, 0.95) <= TARGET_MS ? 'yes' : 'NO',
      });
    }
    console.log(`\nconsole GET / at ${DEBTS.toLocaleString()} debts, ${REQUESTS} sequential requests per case`);
    printTable(rows);
    saveResults('console', { debts: DEBTS, requests: REQUESTS, targetMs: TARGET_MS, cases: rows });
    if (rows.some((r) => r.ok !== 'yes')) process.exitCode = 1;
  } finally {
    await compter.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
