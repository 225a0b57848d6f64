import { beforeAll } from 'vitest';
import { startTestCompter } from '../support/app-harness.js';
import { getSharedClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { describeSloScenarios } from '../support/slo-scenarios.js';

let server: ClickHouseServer;
let databases = 0;
beforeAll(async () => {
  server = await getSharedClickHouse();
});

// The same seed scenarios as on DuckDB, with the log on a real clickhouse-server: each compter
// gets its own database; a restart inside a scenario reuses it through the same dataDir.
const byDataDir = new Map<string, string>();
describeSloScenarios('ClickHouse', async (options = {}) => {
  const key = options.dataDir ?? `fresh-${databases}`;
  let database = byDataDir.get(key);
  if (!database) {
    database = `slo_scenarios_${process.pid}_${++databases}`;
    byDataDir.set(key, database);
  }
  return startTestCompter({
    ...options,
    env: { ...options.env, COMPTER_STORE: 'clickhouse', COMPTER_CLICKHOUSE_URL: server.url, COMPTER_CLICKHOUSE_DATABASE: database },
  });
});
