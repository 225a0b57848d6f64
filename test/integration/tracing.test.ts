import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTracingRequested } from '../../src/tracing/tracing.js';
import { startCompterProcess } from '../support/compter-process.js';

/*
 * `compter serve` with OTEL_EXPORTER_OTLP_ENDPOINT set sends OTLP/HTTP traces: one server span
 * per request (named by the route pattern) and one span per store flush. The collector here
 * is a tiny HTTP server that records what arrives at /v1/traces.
 */

interface OtlpSpan {
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
  }[];
}

let collector: Server;
let collectorUrl: string;
const exports: OtlpExport[] = [];
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'compter-tracing-'));
  collector = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') exports.push(JSON.parse(body) as OtlpExport);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

function spans(): { service: string | undefined; span: OtlpSpan }[] {
  return exports.flatMap((e) =>
    e.resourceSpans.flatMap((rs) => {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
      return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ service, span })));
    }),
  );
}

describe('OpenTelemetry tracing', () => {
  it('exports a span per HTTP request and per store flush when an OTLP endpoint is set', { timeout: 60_000 }, async () => {
    const compter = await startCompterProcess({
      COMPTER_DATA_DIR: dataDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      const put = await fetch(`${compter.url}/v1/debts/traced`, {
        method: 'PUT',
        body: '{"schedule":{"every":"1h"}}',
        headers: { 'content-type': 'application/json' },
      });
      expect(put.status).toBe(201);
      const until = Date.now() + 20_000;
      const names = () => new Set(spans().map((s) => s.span.name));
      while (
        !(names().has('PUT /v1/debts/:id') && names().has('compter.store.append') && names().has('compter.spool.drain')) &&
        Date.now() < until
      ) {
        await delay(100);
      }
      const all = spans();
      const request = all.find((s) => s.span.name === 'PUT /v1/debts/:id');
      expect(request, `spans received: ${[...names()].join(', ')}`).toBeDefined();
      expect(request!.service).toBe('compter');
      expect(request!.span.kind).toBe(2); // SERVER
      expect(request!.span.attributes?.find((a) => a.key === 'http.response.status_code')?.value.intValue).toEqual(201);
      const flush = all.find((s) => s.span.name === 'compter.store.append');
      expect(flush).toBeDefined();
      // The commit point is the local journal; the store write follows in the background.
      expect(flush!.span.attributes?.find((a) => a.key === 'compter.outcome')?.value.stringValue).toBe('journaled');
      const drain = all.find((s) => s.span.name === 'compter.spool.drain');
      expect(drain, `spans received: ${[...names()].join(', ')}`).toBeDefined();
      expect(Number(drain!.span.attributes?.find((a) => a.key === 'compter.events')?.value.intValue)).toBeGreaterThanOrEqual(1);
    } finally {
      expect(await compter.stop()).toBe(0);
    }
  });

  it('is off unless an endpoint is configured, and when disabled', () => {
    expect(isTracingRequested({})).toBe(false);
    expect(isTracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(isTracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(isTracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(isTracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });
});
