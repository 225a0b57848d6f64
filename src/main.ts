import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AddressInfo } from 'node:net';
import { createServer, type RequestListener, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { createApp, createLanes, type AppDeps } from './app.js';
import { withLanes, type Lane } from './http/lane.js';
import { configPath, readConfigFile, type Env, type FileConfig } from './config.js';
import { systemClock, type Clock } from './domain/time/clock.js';
import { DebtEngine } from './engine/debt-engine.js';
import { SloEngine } from './engine/slo-engine.js';
import { SloTrendInputs, trendProjectsOf } from './engine/slo-trend-inputs.js';
import { TrendService } from './engine/trend-service.js';
import { TrendSeries } from './metrics/trend-series.js';
import { trendQueriesFor } from './store/trend-store.js';
import { Snapshotter } from './engine/snapshotter.js';
import { MaintenanceWindows } from './engine/maintenance-windows.js';
import type { Projection } from './engine/projection.js';
import { LogPosition, rebuildProjections } from './engine/rebuild.js';
import { LogTail, tailSourceOf } from './engine/log-tail.js';
import { PingKeys } from './engine/ping-keys.js';
import { EventIdGenerator } from './domain/event-id.js';
import { bindPolicy, TokenRegistry } from './http/auth.js';
import { RateLimiter } from './domain/rate-limits.js';
import { RateLimitSync } from './engine/rate-limit-sync.js';
import { instanceIdIn } from './store/instance-id.js';
import { rateCountsOf } from './store/rate-counts.js';
import { SERVER_LIMITS } from './http/request-limits.js';
import { TimelineCache } from './engine/timelines.js';
import type { Readiness } from './http/ops-routes.js';
import { createMetrics } from './metrics/registry.js';
import { JobSeries } from './metrics/job-series.js';
import { SloSeries } from './metrics/slo-series.js';
import { BatchWriter } from './store/batch-writer.js';
import type { EventStore } from './store/event-store.js';
import { DurableEventStore } from './store/durable-store.js';
import { Spool } from './store/spool.js';
import type { CompterMetrics } from './metrics/registry.js';
import { shutdownTracing } from './tracing/tracing.js';

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

/**
 * The store the writer appends to, behind the local journal (docs/events.md): a batch is fsynced under
 * COMPTER_SPOOL_DIR and acknowledged, then stored in DuckDB or ClickHouse in the background, in
 * order; while the store is unreachable the journal keeps accepting. COMPTER_SPOOL=off makes
 * the store's own write the commit point (a failed one is answered 503 with Retry-After).
 */
async function openDurableStore(env: Env, metrics: CompterMetrics, logger: Logger): Promise<DurableEventStore> {
  const inner = await openStore(env);
  let spool: Spool | null = null;
  if (env.COMPTER_SPOOL === 'on') {
    const dir = env.COMPTER_SPOOL_DIR ?? join(env.COMPTER_DATA_DIR, 'spool');
    const opened = await Spool.open(dir, { maxBytes: env.COMPTER_SPOOL_MAX_BYTES });
    spool = opened.spool;
    if (opened.recovery.events > 0 || opened.recovery.droppedBytes > 0)
      logger.warn({ dir, ...opened.recovery }, 'spool recovered; storing it before the rebuild');
  }
  const store = new DurableEventStore(inner, {
    spool,
    logger,
    appendTimeoutMs: env.COMPTER_STORE === 'clickhouse' ? env.COMPTER_CLICKHOUSE_INSERT_TIMEOUT_MS : 0,
    drainBatchEvents: env.COMPTER_BATCH_SIZE,
    hooks: {
      onStoreError: (err) => {
        metrics.eventStoreErrors.inc();
        logger.warn({ err: (err as Error).message }, 'event store operation failed');
      },
    },
  });
  metrics.setSpoolEventsSource(() => store.spooledEvents);
  metrics.setSpoolAgeSource(() => store.oldestWaitingMs() / 1000);
  return store;
}

// Each adapter is imported only when chosen: DuckDB's native binary is ~70 MB that a
// ClickHouse deployment would otherwise load for nothing.
async function openStore(env: Env): Promise<EventStore> {
  if (env.COMPTER_STORE === 'clickhouse') {
    const { ClickHouseEventStore } = await import('./store/clickhouse/clickhouse-store.js');
    return new ClickHouseEventStore({ url: env.COMPTER_CLICKHOUSE_URL, database: env.COMPTER_CLICKHOUSE_DATABASE });
  }
  mkdirSync(env.COMPTER_DATA_DIR, { recursive: true });
  const { DuckDbEventStore } = await import('./store/duckdb/duckdb-store.js');
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
async function applyConfig(engine: DebtEngine, config: FileConfig, slos: SloEngine, maintenance: MaintenanceWindows): Promise<number> {
  let changed = 0;
  // Calendars first: SLOs and rrule debts name them.
  for (const { project = 'default', ...calendar } of config.calendars) {
    if (await slos.defineCalendarIfChanged(project, calendar.id, calendar)) changed++;
  }
  for (const { project = 'default', ...input } of config.slos) {
    if (await slos.defineSloIfChanged(project, input.id, input)) changed++;
  }
  for (const { project = 'default', ...input } of config.debts) {
    if (await engine.defineIfChanged(project, input.id, input)) changed++;
  }
  for (const { project = 'default', ...input } of config.maintenance) {
    if (await maintenance.defineIfChanged(project, input.id, input)) changed++;
  }
  return changed;
}

/** Everything compter is made of, wired, with the projection rebuilt; not yet listening. */
export interface Compter {
  app: ReturnType<typeof createApp>;
  /** What a served process answers before the app (http/lane.ts). */
  lanes: Lane[];
  engine: DebtEngine;
  /** Calendars, job runs and SLOs. */
  slos: SloEngine;
  trends: TrendService;
  /** Each project's ping key (config or generated). */
  pingKeys: PingKeys;
  store: EventStore;
  writer: BatchWriter;
  metrics: ReturnType<typeof createMetrics>;
  logger: Logger;
  configFile: string | null;
  /** The configured API tokens (empty: running open). */
  tokens: TokenRegistry;
  rebuilt: Awaited<ReturnType<typeof rebuildProjections>>;
  /** Reads what other instances write to a shared ClickHouse log; null on DuckDB. */
  tail: LogTail | null;
  snapshotter: Snapshotter;
  reloadConfig(): Promise<number>;
  /** Stops the timer, drains the writer, takes a snapshot, closes the store. */
  close(): Promise<void>;
}

/**
 * Builds every dependency from the environment, rebuilds the projection from the log and
 * starts the deadline timer. Tests use this directly; `startServer` adds the listener.
 */
export async function createCompter(
  env: Env,
  clock: Clock = systemClock,
  logger: Logger = pino({ level: env.COMPTER_LOG_LEVEL, base: { service: 'compter' } }),
): Promise<Compter> {
  const { path: configFile, config } = loadFileConfig(env, logger);
  const metrics = createMetrics({ version: version() });
  const store = await openDurableStore(env, metrics, logger);
  // ClickHouse down at start: serve from what is local and learn the log once it answers.
  const isStoreUp = await prepareStore(store, env, logger);
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
  const sloSeries = new SloSeries();
  const jobSeries = new JobSeries();
  metrics.addExposition(sloSeries);
  metrics.addExposition(jobSeries);
  // The trend service reads the SLO engine's definitions, and the SLO engine predicts ends from the
  // trend service's p90: bound late so each can be built.
  let trendStats: { p90DurationMs(project: string, application: string, job: string): number | null } | undefined;
  const maintenance = new MaintenanceWindows({ clock, sink: writer, ids, position });
  const slos = new SloEngine({
    clock,
    sink: writer,
    store,
    logger,
    ids,
    position,
    sloMetrics: sloSeries,
    jobMetrics: jobSeries,
    p90DurationMs: (p, a, j) => trendStats?.p90DurationMs(p, a, j) ?? null,
    maintenance,
  });
  const engine = new DebtEngine({
    clock,
    sink: writer,
    store,
    timelines: new TimelineCache(slos),
    maintenance,
    metrics: metrics.debts,
    logger,
    ids,
    position,
  });
  const pingKeys = new PingKeys({ clock, sink: writer, ids, position });
  pingKeys.setDeclared(config?.pingKeys);
  // A window defined or deleted re-derives what it may cover: debts and SLO rows alike.
  maintenance.onChange = async (project) => {
    await engine.resettleProject(project);
    await slos.resettleProject(project);
  };
  // Another instance's change: its debt statuses arrive in the log; SLO rows are re-derived here.
  maintenance.onRemoteChange = (project) => slos.resettleProject(project);
  // The SLO engine first: calendars must exist when rrule debts that name them replay.
  // Windows before debts: catching debts up at start asks which windows cover them.
  const projections: Projection[] = [slos, maintenance, engine, pingKeys];
  const tail =
    env.COMPTER_STORE === 'clickhouse' && env.COMPTER_TAIL_INTERVAL_MS > 0
      ? new LogTail({
          store,
          source: tailSourceOf(store.inner),
          projections,
          position,
          clock,
          logger,
          intervalMs: env.COMPTER_TAIL_INTERVAL_MS,
          overlapMs: env.COMPTER_TAIL_OVERLAP_MS,
          fromMs: isStoreUp ? clock.now() : null,
        })
      : null;
  if (tail) position.tracksMade = true;
  const rebuilt = isStoreUp
    ? await rebuildProjections(store, projections, position, logger, tail ?? undefined)
    : await beginWithoutStore(projections, logger);
  let isClosing = false;
  const storeReady = isStoreUp ? Promise.resolve() : migrateInBackground(store, logger, () => isClosing);
  void storeReady.then(() => {
    if (!isClosing) tail?.start();
  });
  snapshotter = new Snapshotter(projections, position, store, writer, logger, env.COMPTER_SNAPSHOT_EVERY_EVENTS);
  snapshotter.start();
  if (config) await applyConfig(engine, config, slos, maintenance);
  await releaseStartupMemory(store, logger);
  // Trends: the routes run fresh SQL; the job trend gauges are recomputed on a fixed period.
  const trendSeries = new TrendSeries();
  metrics.addExposition(trendSeries);
  let trendProjects = trendProjectsOf(config);
  const trends = new TrendService({
    queries: trendQueriesFor(store),
    inputs: new SloTrendInputs(slos, () => trendProjects),
    clock,
    series: trendSeries,
    logger,
    refreshSeconds: env.COMPTER_TRENDS_REFRESH_SECONDS,
  });
  trendStats = trends;
  trends.start();

  // `spooling` answers 200: writes are still made durable (in the local spool), so a load
  // balancer should keep sending payments; only `failing` (nothing can be made durable) is 503.
  const readiness = async (): Promise<Readiness> => {
    const health = await store.health();
    const status = health.state === 'ok' ? 'ok' : health.state === 'spooling' ? 'spooling' : 'unavailable';
    return health.detail === undefined ? { status, store: store.kind } : { status, store: store.kind, detail: health.detail };
  };
  const tokens = new TokenRegistry(config?.tokens ?? []);
  const limiter = new RateLimiter(config?.limits);
  // Loaded before serving, so a restarted instance goes on from the counts it stored.
  const rateSync = rateSyncFor(limiter, store, env, clock, logger);
  await rateSync?.start(isStoreUp);
  const appDeps: AppDeps = {
    engine,
    slos,
    clock,
    logger,
    metrics,
    readiness,
    version: version(),
    metricsToken: env.COMPTER_METRICS_TOKEN,
    hardCapBodyBytes: env.COMPTER_BODY_HARD_CAP_BYTES,
    corsOrigins: env.COMPTER_CORS_ORIGINS,
    publicUrl: env.COMPTER_PUBLIC_URL,
    tokens,
    limiter,
    pingKeys,
    trends,
    maintenance,
  };
  const app = createApp(appDeps);
  let closing: Promise<void> | null = null;
  return {
    app,
    lanes: createLanes(appDeps),
    engine,
    slos,
    trends,
    pingKeys,
    store,
    writer,
    metrics,
    logger,
    configFile,
    tokens,
    rebuilt,
    tail,
    snapshotter,
    async reloadConfig() {
      const { config: fresh } = loadFileConfig(env, logger);
      if (!fresh) return 0;
      // Removing the last token must not silently open a server that listens beyond loopback.
      const access = bindPolicy(env.COMPTER_HOST, fresh.tokens.length, isAllowOpen(env));
      if (tokens.size > 0 && access.mode === 'refuse') throw new Error(`the new config declares no tokens: ${access.message}`);
      const changed = await applyConfig(engine, fresh, slos, maintenance);
      tokens.replace(fresh.tokens);
      trendProjects = trendProjectsOf(fresh);
      pingKeys.setDeclared(fresh.pingKeys);
      limiter.configure(fresh.limits);
      return changed;
    },
    close: () =>
      (closing ??= (async () => {
        isClosing = true;
        await rateSync?.stop();
        await tail?.stop();
        engine.stop();
        slos.stop();
        await trends.stop();
        snapshotter?.stop();
        await writer.close();
        await store.settle();
        await snapshotter?.take();
        await store.close();
      })()),
  };
}

/** The rate limits' counts kept in the store's counter table, under this instance's stable id; null when off. */
function rateSyncFor(limiter: RateLimiter, store: EventStore, env: Env, clock: Clock, logger: Logger): RateLimitSync | null {
  const counts = env.COMPTER_RATE_SYNC_INTERVAL_MS > 0 ? rateCountsOf(store) : null;
  if (!counts) return null;
  const instance = instanceIdIn(env.COMPTER_DATA_DIR);
  if (!instance.isStable)
    logger.warn(
      { dir: env.COMPTER_DATA_DIR, err: (instance.error as Error | undefined)?.message },
      'cannot keep an instance id in the data directory; rate-limit counts will not survive a restart',
    );
  return new RateLimitSync({ limiter, store: counts, instance: instance.id, clock, logger, intervalMs: env.COMPTER_RATE_SYNC_INTERVAL_MS });
}

/**
 * Migrates and stores what a crash left in the journal, so the rebuild sees it. Resolves
 * false when ClickHouse cannot be reached: compter then starts without the log (the journal
 * still makes every write durable) and `migrateInBackground` catches up. DuckDB is local, so
 * its failures still stop the start.
 */
async function prepareStore(store: DurableEventStore, env: Env, logger: Logger): Promise<boolean> {
  try {
    await store.migrate();
    const drained = await store.drainNow();
    if (drained > 0) logger.info({ events: drained }, 'spool drained to the event store');
    return true;
  } catch (err) {
    if (env.COMPTER_STORE !== 'clickhouse') throw err;
    logger.warn(
      { err: (err as Error).message },
      'ClickHouse is unreachable; starting from the local journal, the log follows when it answers',
    );
    return false;
  }
}

/** Retries the migration with backoff until ClickHouse answers, then stores the journal. */
async function migrateInBackground(store: DurableEventStore, logger: Logger, isClosing: () => boolean): Promise<void> {
  for (let delayMs = 500; !isClosing(); delayMs = Math.min(delayMs * 2, 10_000)) {
    try {
      await store.migrate();
      logger.info('ClickHouse answers; schema ready, storing the journal and reading the log');
      store.resumeDraining();
      return;
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'ClickHouse still unreachable');
      await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    }
  }
}

/** Starts the projections empty (no log read, so no last run known); the log tail fills them once the store answers. */
async function beginWithoutStore(projections: Projection[], logger: Logger): Promise<{ replayed: number; fromSnapshot: boolean }> {
  for (const p of projections) await p.begin(null);
  logger.info('projections start empty until the event log can be read');
  return { replayed: 0, fromSnapshot: false };
}

/**
 * Start-up reads the snapshot and the log once, and leaves DuckDB's buffer pool and V8's heap
 * full of what it will not read again: at 100k debts, RSS fell from ~740 to ~470 MiB once
 * DuckDB evicted those pages and one full GC ran. The GC is reached through V8's own flag,
 * once, at start; nothing else in compter calls it.
 */
async function releaseStartupMemory(store: DurableEventStore, logger: Logger): Promise<void> {
  try {
    await store.releaseStartupMemory();
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
  } catch (err) {
    logger.debug({ err: (err as Error).message }, 'could not release start-up memory');
  }
}

function isAllowOpen(env: Env): boolean {
  return env.COMPTER_ALLOW_OPEN === '1' || env.COMPTER_ALLOW_OPEN === 'true';
}

/** Node's request listener for a compter: its lanes, then its app (http/lane.ts). */
export function requestListener(compter: Pick<Compter, 'app' | 'lanes'>, hostname?: string): RequestListener {
  return withLanes(compter.lanes, getRequestListener(compter.app.fetch, hostname === undefined ? {} : { hostname }));
}

/** Starts compter and its HTTP listener; `close()` stops accepting, then drains in order. */
export async function startServer(env: Env, clock: Clock = systemClock): Promise<RunningServer> {
  const startedAt = performance.now();
  const compter = await createCompter(env, clock);
  const { logger, store, rebuilt } = compter;
  const access = bindPolicy(env.COMPTER_HOST, compter.tokens.size, isAllowOpen(env));
  if (access.mode === 'refuse') {
    await compter.close();
    throw new Error(access.message);
  }
  const server: Server = createServer({ ...SERVER_LIMITS }, requestListener(compter, env.COMPTER_HOST));
  await new Promise<void>((resolve) => server.listen(env.COMPTER_PORT, env.COMPTER_HOST, resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${env.COMPTER_HOST.includes(':') ? `[${env.COMPTER_HOST}]` : env.COMPTER_HOST}:${port}`;
  logger.info(
    { url, store: store.kind, debts: compter.engine.size, ...rebuilt, readyMs: Math.round(performance.now() - startedAt) },
    'compter is ready',
  );
  if (access.mode === 'tokens') logger.info({ tokens: compter.tokens.size }, 'bearer tokens required');
  else logger.warn(access.message);

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
      const forced = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearTimeout(forced);
      await compter.close();
      logger.info('stopped');
      await shutdownTracing();
    })());
  return { url, port, close };
}
