import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { ClickHouseEventStore } from '../../src/store/clickhouse/clickhouse-store.js';
import { sql } from '../../src/store/clickhouse/sql.js';
import { DuckDbEventStore } from '../../src/store/duckdb/duckdb-store.js';
import { getSharedChdb } from '../support/chdb-server.js';
import { getSharedClickHouse } from '../support/clickhouse-server.js';
import { describeRateCountContract } from '../support/rate-count-contract.js';

/** The rate limits' counter table on the real engines: DuckDB, ClickHouse 18.16 and a current ClickHouse. */

describeRateCountContract('duckdb', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'compter-rate-counts-'));
  return { store: await DuckDbEventStore.open(join(dir, 'compter.duckdb')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

for (const [name, server] of [
  ['clickhouse 18.16', getSharedClickHouse],
  ['clickhouse (current engine)', getSharedChdb],
] as const) {
  describeRateCountContract(name, async () => {
    const { url } = await server();
    const database = `compter_rates_${randomBytes(6).toString('hex')}`;
    return {
      store: new ClickHouseEventStore({ url, database, requestTimeoutMs: 20_000 }),
      cleanup: async () => {
        const admin = createClient({ url });
        await admin.command({ query: sql`DROP DATABASE IF EXISTS ${sql.ident(database)}`.text });
        await admin.close();
      },
    };
  });
}
