import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Concurrent payments with unique messages against a running compter, recording exactly
 * which ones were acknowledged (200) and which were refused (anything else, or no answer).
 */
export class PaymentLoad {
  /** debt → messages answered 200. */
  readonly acknowledged = new Map<string, Set<string>>();
  readonly refusals: { status: number; retryAfter: string | null; body: string }[] = [];
  sent = 0;
  private isStopping = false;
  private readonly workers: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly debts: readonly string[],
    /** Makes messages unique across loads against the same database. */
    private readonly prefix = '',
  ) {}

  /** Starts `concurrency` workers that pay until `stop()`. */
  start(concurrency: number): void {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.worker(w));
  }

  /** Stops the workers and waits for their last requests. */
  async stop(): Promise<void> {
    this.isStopping = true;
    await Promise.all(this.workers);
  }

  get acknowledgedCount(): number {
    return [...this.acknowledged.values()].reduce((n, s) => n + s.size, 0);
  }

  /** Resolves once `count` payments were acknowledged; throws after `timeoutMs`. */
  async waitForAcknowledged(count: number, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.acknowledgedCount < count) {
      if (Date.now() > until) throw new Error(`only ${this.acknowledgedCount} of ${count} payments acknowledged in ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  private async worker(w: number): Promise<void> {
    for (let i = 0; !this.isStopping; i++) {
      const debt = this.debts[(w + i) % this.debts.length]!;
      const message = `${this.prefix}w${w}-${i}`;
      this.sent++;
      try {
        const res = await fetch(`${this.url}/v1/debts/${debt}/payments`, {
          method: 'POST',
          body: JSON.stringify({ kind: 'log', message }),
          headers: { 'content-type': 'application/json' },
        });
        const body = await res.text();
        if (res.status === 200) {
          if (!this.acknowledged.has(debt)) this.acknowledged.set(debt, new Set());
          this.acknowledged.get(debt)!.add(message);
        } else {
          this.refusals.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body });
          await sleep(50);
        }
      } catch {
        return; // the process is gone
      }
    }
  }
}

/** A fresh database name, so tests never see each other's rows. */
export function freshDatabase(prefix = 'compter_it'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Direct reads of what ClickHouse holds, bypassing compter. */
export class ClickHouseInspector {
  private readonly client: ClickHouseClient;

  constructor(
    url: string,
    private readonly database: string,
  ) {
    this.client = createClient({ url, request_timeout: 30_000 });
  }

  async rows<T>(query: string): Promise<T[]> {
    return (await this.client.query({ query, format: 'JSONEachRow' })).json<T>();
  }

  /** Payment rows of project `default`: physical rows and distinct event ids. */
  async paymentCounts(): Promise<{ rows: number; ids: number }> {
    const [r] = await this.rows<{ n: string; u: string }>(
      `SELECT count() AS n, uniqExact(event_id) AS u FROM ${this.database}.events WHERE project = 'default' AND type = 'payment'`,
    );
    return { rows: Number(r!.n), ids: Number(r!.u) };
  }

  /** For each payment message: how many distinct events carry it. */
  async idsPerMessage(): Promise<Map<string, number>> {
    const rows = await this.rows<{ m: string; ids: string }>(
      `SELECT visitParamExtractString(attributes, 'message') AS m, uniqExact(event_id) AS ids
       FROM ${this.database}.events WHERE project = 'default' AND type = 'payment' GROUP BY m`,
    );
    return new Map(rows.map((r) => [r.m, Number(r.ids)]));
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Asserts-friendly view: acknowledged messages missing or stored more than once. */
export function compareWithStored(
  acknowledged: Map<string, Set<string>>,
  stored: Map<string, number>,
): { missing: string[]; duplicated: string[] } {
  const missing: string[] = [];
  const duplicated: string[] = [];
  for (const messages of acknowledged.values()) {
    for (const m of messages) {
      const n = stored.get(m) ?? 0;
      if (n === 0) missing.push(m);
      if (n > 1) duplicated.push(m);
    }
  }
  return { missing, duplicated };
}

/** Reads one numeric sample from a Prometheus text body. */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

/** The temporary directories one test file makes; `removeAll()` in its afterAll. */
export class TempDirs {
  private readonly dirs: string[] = [];

  constructor(private readonly prefix: string) {}

  /** A new empty directory under the system temp dir. */
  async make(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), this.prefix));
    this.dirs.push(dir);
    return dir;
  }

  async removeAll(): Promise<void> {
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

/** The environment of a compter process on ClickHouse with its own database and data directory. */
export function clickhouseEnv(
  clickhouseUrl: string,
  database: string,
  dataDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    COMPTER_STORE: 'clickhouse',
    COMPTER_CLICKHOUSE_URL: clickhouseUrl,
    COMPTER_CLICKHOUSE_DATABASE: database,
    COMPTER_DATA_DIR: dataDir,
    COMPTER_CLICKHOUSE_INSERT_TIMEOUT_MS: '2000',
    ...extra,
  };
}

/** Defines hourly debts through the API; each must answer 201. */
export async function defineDebts(url: string, debts: readonly string[]): Promise<void> {
  for (const id of debts) {
    const res = await fetch(`${url}/v1/debts/${id}`, {
      method: 'PUT',
      body: JSON.stringify({ schedule: { every: '1h' } }),
      headers: { 'content-type': 'application/json' },
    });
    if (res.status !== 201) throw new Error(`defining ${id}: ${res.status} ${await res.text()}`);
  }
}
