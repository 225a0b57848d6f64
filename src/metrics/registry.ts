/**
 * compter's metrics: its own prom-client Registry (never the global one) for self metrics,
 * plus the incremental per-entity expositions (debts now; SLOs and jobs plug in the same way),
 * rendered together as one Prometheus text format 0.0.4 body.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DebtSeries } from './debt-series.js';
import type { ExpositionSource } from './entity-exposition.js';
import { METRIC } from './names.js';

export interface CreateMetricsOptions {
  /** compter's version, exported as `compter_build_info{version}`. */
  version: string;
  /** Events waiting in the local spool, read at scrape time. Settable later too. */
  spoolEvents?: () => number;
  /** prom-client's process and Node.js metrics; on unless a test turns them off. */
  defaultMetrics?: boolean;
  /** Entities per cache chunk of the per-entity expositions (see EntityExposition). */
  chunkSize?: number;
}

/**
 * A rendered scrape: write `body`'s Buffers in order (`byteLength` is their total), then call
 * `release()` once they have been written to the socket or copied. Until then later updates
 * copy the chunks they touch instead of writing in place (see EntityExposition).
 */
export interface MetricsBody {
  contentType: string;
  body: Buffer[];
  byteLength: number;
  release(): void;
}

export interface CompterMetrics {
  readonly registry: Registry;
  readonly eventsAppended: Counter;
  readonly eventStoreFlushSeconds: Histogram;
  readonly eventStoreErrors: Counter;
  /** Labels: route (the route pattern, e.g. `/v1/debts/:id`, never the raw path), code. */
  readonly httpRequests: Counter<'route' | 'code'>;
  /** Label: route (pattern). */
  readonly httpRequestDuration: Histogram<'route'>;
  readonly rateLimited: Counter<'project'>;
  readonly debts: DebtSeries;
  /** Sets where `compter_spool_oldest_event_age_seconds` reads its value at scrape time. */
  setSpoolAgeSource(source: () => number): void;
  /** Sets where `compter_spool_events` reads its value at scrape time. */
  setSpoolEventsSource(source: () => number): void;
  /** Appends another per-entity exposition (SLO, job series) to every scrape. */
  addExposition(source: ExpositionSource): void;
  /** The whole scrape: self metrics, then every per-entity family. */
  renderMetrics(): Promise<MetricsBody>;
}

/** Builds compter's metrics on a fresh registry. */
export function createMetrics(opts: CreateMetricsOptions): CompterMetrics {
  const registry = new Registry();
  const registers = [registry];
  let spoolSource = opts.spoolEvents ?? ((): number => 0);
  let spoolAgeSource = (): number => 0;

  const eventsAppended = new Counter({
    name: METRIC.eventsAppendedTotal,
    help: 'Events appended to the event log (committed or spooled).',
    registers,
  });
  const eventStoreFlushSeconds = new Histogram({
    name: METRIC.eventStoreFlushSeconds,
    help: 'Duration of one group-commit flush to the event store, seconds.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const eventStoreErrors = new Counter({
    name: METRIC.eventStoreErrorsTotal,
    help: 'Failed writes or reads against the event store.',
    registers,
  });
  new Gauge({
    name: METRIC.spoolEvents,
    help: 'Events in the local journal (spool) not yet stored in the event store.',
    registers,
    collect() {
      this.set(spoolSource());
    },
  });
  new Gauge({
    name: METRIC.spoolOldestAge,
    help: 'How long the oldest event in the local journal has waited for the event store, seconds (0 when it holds none).',
    registers,
    collect() {
      this.set(spoolAgeSource());
    },
  });
  const httpRequests = new Counter({
    name: METRIC.httpRequestsTotal,
    help: 'HTTP requests answered, by route pattern and status code.',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const httpRequestDuration = new Histogram({
    name: METRIC.httpRequestDuration,
    help: 'HTTP request duration by route pattern, seconds.',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const buildInfo = new Gauge({
    name: METRIC.buildInfo,
    help: 'Always 1; labelled with the running compter version.',
    labelNames: ['version'] as const,
    registers,
  });
  buildInfo.labels(opts.version).set(1);
  const rateLimited = new Counter({
    name: METRIC.rateLimitedTotal,
    help: 'Requests refused with 429 by the per-project rate limits.',
    labelNames: ['project'] as const,
    registers,
  });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const debts = new DebtSeries(opts.chunkSize === undefined ? {} : { chunkSize: opts.chunkSize });
  const expositions: ExpositionSource[] = [];

  function addExposition(exposition: ExpositionSource): void {
    // Text format allows each family once: a clash would make the whole scrape invalid.
    const taken = new Set(registry.getMetricsAsArray().map((m) => m.name));
    for (const e of expositions) for (const f of e.families) taken.add(f.name);
    for (const f of exposition.families) {
      if (taken.has(f.name)) throw new Error(`metric family ${f.name} is already exported`);
    }
    expositions.push(exposition);
  }
  addExposition(debts);

  return {
    registry,
    eventsAppended,
    eventStoreFlushSeconds,
    eventStoreErrors,
    httpRequests,
    httpRequestDuration,
    rateLimited,
    debts,
    setSpoolEventsSource(source) {
      spoolSource = source;
    },
    setSpoolAgeSource(source) {
      spoolAgeSource = source;
    },
    addExposition,
    async renderMetrics() {
      const self = await registry.metrics();
      // prom-client ends with a newline; make sure the next family starts on its own line.
      const head = Buffer.from(self.endsWith('\n') ? self : `${self}\n`);
      // Render the entities after the await, so no update can land between render and return.
      const renders = expositions.map((e) => e.render());
      const body: Buffer[] = [head];
      let byteLength = head.length;
      for (const r of renders) {
        for (const b of r.chunks) body.push(b);
        byteLength += r.byteLength;
      }
      return {
        contentType: registry.contentType,
        body,
        byteLength,
        release: () => {
          for (const r of renders) r.release();
        },
      };
    },
  };
}

/** The part of Node's `ServerResponse` that `writeMetricsBody` uses. */
export interface MetricsResponseSink {
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  cork(): void;
  write(chunk: Buffer): boolean;
  end(): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Sends a rendered scrape on a Node response without copying it (one writev), and releases
 * the render when the response closes — finished or aborted.
 */
export function writeMetricsBody(res: MetricsResponseSink, rendered: MetricsBody): void {
  res.once('close', () => rendered.release());
  res.writeHead(200, { 'content-type': rendered.contentType, 'content-length': rendered.byteLength });
  res.cork();
  for (const b of rendered.body) res.write(b);
  res.end();
}

/** The scrape as one Buffer (for `c.body()` where there is no Node response); releases it. */
export function metricsBodyToBuffer(rendered: MetricsBody): Buffer {
  const body = Buffer.concat(rendered.body, rendered.byteLength);
  rendered.release();
  return body;
}
