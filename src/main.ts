import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { createApp } from './app.js';
import { configPath, readConfigFile, type Env, type FileConfig } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { DebtEngine } from './engine/debt-engine.js';
import { Snapshotter } from './engine/snapshotter.js';
import type { Projection } from './engine/projection.js';
import { LogPosition, rebuildProjections } from './engine/rebuild.js';
import { EventIdGenerator } from './domain/event-id.js';
import { TimelineCache } from './engine/timelines.js';
import type { Readiness } from './http/ops-routes.js';
import { createMetrics } from './metrics/registry.js';
import { BatchWriter } from './store/batch-writer.js';
import { DuckDbEventStore } from './store/duckdb/duckdb-store.js';
import type { EventStore } from './store/event-store.js';
import { ClickHouseEventStore } from './store/clickhouse/clickhouse-store.js';

/** compter's version, from the package.json above this module (src/ or dist/src/). */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

/** A running compter: where it listens and how to stop it gracefully. */
export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

async function openStore(env: Env): Promise<EventStore> {
  if (env.COMPTER_STORE === 'clickhouse') {
    return new ClickHouseEventStore({ url: env.COMPTER_CLICKHOUSE_URL, database: env.COMPTER_CLICKHOUSE_DATABASE });
  }
  mkdirSync(env.COMPTER_DATA_DIR, { recursive: true });
  return DuckDbEventStore.open(join(env.COMPTER_DATA_DIR, 'compter.duckdb'));
}

/** Loads the config file, if any; exits the start with every problem listed. */
function loadFileConfig(env: Env, logger: Logger): { path: string | null; config: FileConfig | null } {
  const path = configPath(env);
  if (!path) return { path, config: null };
  const { config, problems } = readConfigFile(path);
  if (!config) {
    throw new Error(`${path} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
  logger.info({ path, debts: config.debts.length }, 'config loaded');
  return { path, config };
}

/** Defines the config's debts that are new or changed (config as code). */
async function applyConfig(engine: DebtEngine, config: FileConfig): Promise<number> {
  let changed = 0;
  for (const { project = 'default', ...input } of config.debts) {
    if (await engine.defineIfChanged(project, input.id, input)) changed++;
  }
  return changed;
}

/** Everything compter is made of, wired, with the projection rebuilt; not yet listening. */
export interface Compter {
  app: ReturnType<typeof createApp>;
  engine: DebtEngine;
  store: EventStore;
  writer: BatchWriter;
  metrics: ReturnType<typeof createMetrics>;
  logger: Logger;
  configFile: string | null;
  rebuilt: Awaited<ReturnType<typeof rebuildProjections>>;
  snapshotter: Snapshotter;
  reloadConfig(): Promise<number>;
  /** Stops the timer, drains the writer, takes a snapshot, closes the store. */
  close(): Promise<void>;
}

/**
 * Builds every dependency from the environment, rebuilds the projection from the log and
 * starts the deadline timer. Tests use this directly; `startServer` adds the listener.
 */
export async function createCompter(env: Env, clock: Clock = systemClock, logger: Logger = pino({ level: env.COMPTER_LOG_LEVEL, base: { service: 'compter' } })): Promise<Compter> {
  const { path: configFile, config } = loadFileConfig(env, logger);
  const store = await openStore(env);
  await store.migrate();
  const metrics = createMetrics({ version: version() });
  let snapshotter: Snapshotter | null = null;
  const writer = new BatchWriter(store, {
    maxBatchEvents: env.COMPTER_BATCH_SIZE,
    flushIntervalMs: env.COMPTER_FLUSH_INTERVAL_MS,
    hooks: {
      onFlush: (seconds, count) => {
        metrics.eventStoreFlushSeconds.observe(seconds);
        metrics.eventsAppended.inc(count);
        snapshotter?.noteAppended(count);
      },
      onError: (err) => {
        metrics.eventStoreErrors.inc();
        logger.error({ err }, 'event store append failed');
      },
    },
  });
  const ids = new EventIdGenerator();
  const position = new LogPosition();
  const engine = new DebtEngine({ clock, sink: writer, store, timelines: new TimelineCache(), metrics: metrics.debts, logger, ids, position });
  const projections: Projection[] = [engine];
  const rebuilt = await rebuildProjections(store, projections, position, logger);
  snapshotter = new Snapshotter(projections, position, store, writer, logger, env.COMPTER_SNAPSHOT_EVERY_EVENTS);
  snapshotter.start();
  if (config) await applyConfig(engine, config);

  const readiness = async (): Promise<Readiness> => {
    try {
      await store.ping();
      return { status: 'ok', store: store.kind };
    } catch (err) {
      return { status: 'unavailable', store: store.kind, detail: (err as Error).message };
    }
  };
  const app = createApp({ engine, clock, logger, metrics, readiness, version: version(), metricsToken: env.COMPTER_METRICS_TOKEN });
  let closing: Promise<void> | null = null;
  return {
    app,
    engine,
    store,
    writer,
    metrics,
    logger,
    configFile,
    rebuilt,
    snapshotter,
    async reloadConfig() {
      const { config: fresh } = loadFileConfig(env, logger);
      return fresh ? applyConfig(engine, fresh) : 0;
    },
    close: () =>
      (closing ??= (async () => {
        engine.stop();
        snapshotter?.stop();
        await writer.close();
        await snapshotter?.take();
        await store.close();
      })()),
  };
}

/** Starts compter and its HTTP listener; `close()` stops accepting, then drains in order. */
export async function startServer(env: Env, clock: Clock = systemClock): Promise<RunningServer> {
  const startedAt = performance.now();
  const compter = await createCompter(env, clock);
  const { app, logger, store, rebuilt } = compter;
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: env.COMPTER_HOST, port: env.COMPTER_PORT }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${env.COMPTER_HOST.includes(':') ? `[${env.COMPTER_HOST}]` : env.COMPTER_HOST}:${port}`;
  logger.info({ url, store: store.kind, debts: compter.engine.size, ...rebuilt, readyMs: Math.round(performance.now() - startedAt) }, 'compter is ready');
  logger.warn('no tokens are configured: every request acts for project "default" (serve on a loopback address only)');

  const onHangup = () => {
    if (!compter.configFile) return;
    compter.reloadConfig().then(
      (n) => logger.info({ changed: n }, 'config reloaded'),
      (err: unknown) => logger.error({ err: (err as Error).message }, 'config reload refused; keeping the running config'),
    );
  };
  process.on('SIGHUP', onHangup);

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      process.off('SIGHUP', onHangup);
      logger.info('shutting down: closing the listener, draining the writer');
      // Idle keep-alive connections close at once; busy ones get a moment to finish.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const forced = setTimeout(() => (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(), 5000);
      await closed;
      clearTimeout(forced);
      await compter.close();
      logger.info('stopped');
    })());
  return { url, port, close };
}
