import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { startCompterProcess, type CompterProcess } from '../support/compter-process.js';
import { clickhouseEnv, ClickHouseInspector, freshDatabase, TempDirs } from '../support/payment-load.js';
import { testToken, writeTokenConfig } from '../support/tokens.js';

/*
 * Rate limits that survive restarts and hold across instances (docs/security.md, "Rate
 * limits"): real compter processes, a real clickhouse-server, a real DuckDB file. The requests
 * counted are authenticated `GET /v1/debts` of project `beta`.
 */

const beta = testToken('beta', 'beta', ['admin']);
let clickhouse: ClickHouseServer;
const dirs = new TempDirs('compter-ratelimit-it-');
const running = new Set<CompterProcess>();

beforeAll(async () => {
  clickhouse = await startClickHouse();
});

afterAll(async () => {
  for (const p of running) await p.stop().catch(() => undefined);
  await clickhouse?.stop();
  await dirs.removeAll();
});

/** A data directory with a compter.yaml declaring beta's token and these limits. */
async function dataDirWith(limits: string): Promise<string> {
  const dir = await dirs.make();
  await writeTokenConfig(join(dir, 'compter.yaml'), [beta], `limits:\n  projects:\n    beta: ${limits}\n`);
  return dir;
}

async function start(env: Record<string, string>, dir: string): Promise<CompterProcess> {
  const p = await startCompterProcess({ ...env, COMPTER_DATA_DIR: dir, COMPTER_CONFIG: join(dir, 'compter.yaml') });
  running.add(p);
  return p;
}

async function stop(p: CompterProcess, how: 'graceful' | 'kill -9'): Promise<void> {
  if (how === 'graceful') expect(await p.stop()).toBe(0);
  else await p.kill9();
  running.delete(p);
}

/** One counted request; its status and Retry-After. */
async function request(url: string): Promise<{ status: number; retryAfter: string | null }> {
  const res = await fetch(`${url}/v1/debts`, { headers: { authorization: `Bearer ${beta.secret}` } });
  await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

/** Sends `count` requests one after another, round robin over `urls`; how many were accepted. */
async function send(urls: readonly string[], count: number): Promise<{ accepted: number; refused: { retryAfter: string | null }[] }> {
  let accepted = 0;
  const refused: { retryAfter: string | null }[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await request(urls[i % urls.length]!);
    if (answer.status === 200) accepted++;
    else if (answer.status === 429) refused.push(answer);
    else throw new Error(`request ${i} answered ${answer.status}`);
  }
  return { accepted, refused };
}

describe('rate limits on a shared ClickHouse', () => {
  it('two instances, burstPerMinute 60, 100 requests alternating: the limit of 60, not 120', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const [aDir, bDir] = [await dataDirWith('{ burstPerMinute: 60 }'), await dataDirWith('{ burstPerMinute: 60 }')];
    const a = await start(clickhouseEnv(clickhouse.url, database, aDir), aDir);
    const b = await start(clickhouseEnv(clickhouse.url, database, bDir), bDir);
    // Each reads who else is alive every 500 ms; B announced itself before serving.
    await sleep(1500);
    const started = Date.now();
    const { accepted, refused } = await send([a.url, b.url], 100);
    const tookMs = Date.now() - started;
    expect(accepted, `accepted in ${tookMs} ms`).toBeLessThanOrEqual(66);
    expect(accepted, `accepted in ${tookMs} ms`).toBeGreaterThanOrEqual(54);
    // Every refusal says when to come back, at least a second from now.
    expect(refused.length).toBe(100 - accepted);
    for (const r of refused) expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);

    // The table holds both instances' counts for this minute, adding up to what was accepted.
    const inspector = new ClickHouseInspector(clickhouse.url, database);
    try {
      await sleep(1000);
      const rows = await inspector.rows<{ instance: string; n: string }>(
        `SELECT instance, max(requests) AS n FROM ${database}.rate_counts
         WHERE project = 'beta' AND window_name = 'day' GROUP BY instance`,
      );
      expect(rows.length).toBe(2);
      expect(rows.reduce((sum, r) => sum + Number(r.n), 0)).toBe(accepted);
    } finally {
      await inspector.close();
    }
  });

  it('perDay 50: 40 requests, a graceful restart, 40 more → only the 10 left pass', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const dir = await dataDirWith('{ perDay: 50 }');
    const env = clickhouseEnv(clickhouse.url, database, dir);
    const first = await start(env, dir);
    expect((await send([first.url], 40)).accepted).toBe(40);
    await stop(first, 'graceful');
    const second = await start(env, dir);
    const { accepted } = await send([second.url], 40);
    expect(accepted).toBeLessThanOrEqual(15);
    // One instance counts exactly; a day boundary crossed meanwhile would only let fewer through.
    expect(accepted).toBeGreaterThanOrEqual(8);
    await stop(second, 'graceful');
  });

  it('kill -9 loses at most the last half second: counts written before it are kept', { timeout: 120_000 }, async () => {
    const database = freshDatabase();
    const dir = await dataDirWith('{ perDay: 50 }');
    const env = clickhouseEnv(clickhouse.url, database, dir);
    const first = await start(env, dir);
    expect((await send([first.url], 40)).accepted).toBe(40);
    // Two sync intervals: the counts are in the table.
    await sleep(1200);
    await stop(first, 'kill -9');
    const second = await start(env, dir);
    const { accepted } = await send([second.url], 40);
    expect(accepted).toBeLessThanOrEqual(15);
    await stop(second, 'graceful');
  });

  it(
    'ClickHouse down at start: requests are counted locally, never failed, and the counts merge once it answers',
    { timeout: 120_000 },
    async () => {
      const database = freshDatabase();
      const dir = await dataDirWith('{ perDay: 50 }');
      const env = clickhouseEnv(clickhouse.url, database, dir);
      const first = await start(env, dir);
      expect((await send([first.url], 30)).accepted).toBe(30);
      await stop(first, 'graceful');
      await clickhouse.kill();
      const inspector = new ClickHouseInspector(clickhouse.url, database);
      try {
        const second = await start(env, dir);
        // The 30 stored before are out of reach: the instance counts what it sees, and refuses nothing for it.
        expect((await send([second.url], 10)).accepted).toBe(10);
        // A few readings fail meanwhile, said once in the log.
        await sleep(1500);
        expect(second.output()).toMatch(/rate-limit counter table failed; counting locally/);
        await clickhouse.start();
        // Once the table answers, what it counted alone is added to what it had stored.
        const started = Date.now();
        for (;;) {
          const rows = await inspector
            .rows<{ n: string }>(`SELECT max(requests) AS n FROM ${database}.rate_counts WHERE project = 'beta' AND window_name = 'day'`)
            .catch(() => []);
          if (Number(rows[0]?.n ?? 0) === 40) break;
          if (Date.now() - started > 20_000) throw new Error(`the day count is ${rows[0]?.n}, not 40:\n${second.output()}`);
          await sleep(100);
        }
        const { accepted } = await send([second.url], 20);
        expect(accepted).toBeLessThanOrEqual(15);
        expect(accepted).toBeGreaterThanOrEqual(8);
        expect(second.output().match(/rate-limit counter table failed/g)).toHaveLength(1);
        await stop(second, 'graceful');
      } finally {
        await inspector.close();
      }
    },
  );
});

describe('rate limits on the embedded DuckDB store', () => {
  it('perDay 50: 40 requests, a graceful restart, 40 more → only the 10 left pass', { timeout: 120_000 }, async () => {
    const dir = await dataDirWith('{ perDay: 50 }');
    const first = await start({}, dir);
    expect((await send([first.url], 40)).accepted).toBe(40);
    await stop(first, 'graceful');
    const second = await start({}, dir);
    const { accepted, refused } = await send([second.url], 40);
    expect(accepted).toBeLessThanOrEqual(15);
    expect(accepted).toBeGreaterThanOrEqual(8);
    // Alone, Retry-After is exact: past midnight, when the day window lets one more in (not the next reading).
    expect(Number(refused[0]!.retryAfter)).toBeGreaterThan(1700);
    await stop(second, 'graceful');
  });
});
