import { beforeAll } from 'vitest';
import { startTestCompter } from '../support/app-harness.js';
import { getSharedClickHouse, type ClickHouseServer } from '../support/clickhouse-server.js';
import { describeSloHistory } from '../support/slo-history.js';

let server: ClickHouseServer;
beforeAll(async () => {
  server = await getSharedClickHouse();
});

// The same history suite as on DuckDB, with the log on a real clickhouse-server in its own database.
describeSloHistory('ClickHouse', (options = {}) =>
  startTestCompter({
    ...options,
    env: {
      ...options.env,
      COMPTER_STORE: 'clickhouse',
      COMPTER_CLICKHOUSE_URL: server.url,
      COMPTER_CLICKHOUSE_DATABASE: `slo_history_${process.pid}`,
    },
  }),
);
