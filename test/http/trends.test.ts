import { OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/problems.js';
import type { JobTrendJson, SloTrendJson } from '../../src/engine/trend-service.js';
import type { AppEnv } from '../../src/http/env.js';
import { toErrorResponse } from '../../src/http/errors.js';
import { registerTrendRoutes, type TrendReader } from '../../src/http/trend-routes.js';

const job: JobTrendJson = {
  application: 'deposits',
  job: 'overdraft-calc',
  runs: 30,
  durationSlopeSecondsPerDay: 60,
  endLatenessSlopeSecondsPerDay: 60,
  p50DurationSeconds: 2670,
  p90DurationSeconds: 3366,
  projectedBreachDate: '2027-01-14',
};
const slo: SloTrendJson = {
  sloId: 'settlement',
  onTimeRatio: 0.1,
  medianLatenessSeconds: 600,
  sameSideShare: 0.9,
  bias: 'late',
  suggestedExpectedEnd: '06:15+1d',
};

/** The trend routes on a bare app: the reader records each call. */
function appWith(reader: Partial<TrendReader> = {}) {
  const calls: { route: string; project: string; window: number }[] = [];
  const app = new OpenAPIHono<AppEnv>();
  app.use('*', async (c, next) => {
    c.set('requestId', 'req-1');
    c.set('project', 'alpha');
    await next();
  });
  registerTrendRoutes(app, {
    jobTrends: async (project, window) => {
      calls.push({ route: 'jobs', project, window: window! });
      return reader.jobTrends ? reader.jobTrends(project, window) : [job];
    },
    sloTrends: async (project, window) => {
      calls.push({ route: 'slos', project, window: window! });
      return reader.sloTrends ? reader.sloTrends(project, window) : [slo];
    },
  });
  app.onError((err, c) => toErrorResponse(err, c, () => undefined));
  return { app, calls };
}

describe('GET /v1/trends/jobs and /v1/trends/slos', () => {
  it('answer the documented shapes for the request project, window 30 by default', async () => {
    const { app, calls } = appWith();
    const jobs = await app.request('/v1/trends/jobs');
    expect(jobs.status).toBe(200);
    expect(await jobs.json()).toEqual({ jobs: [job] });
    const slos = await app.request('/v1/trends/slos?window=90');
    expect(slos.status).toBe(200);
    expect(await slos.json()).toEqual({ slos: [slo] });
    expect(calls).toEqual([
      { route: 'jobs', project: 'alpha', window: 30 },
      { route: 'slos', project: 'alpha', window: 90 },
    ]);
  });

  it('take windows from 2 to 365 business dates: not an integer → 400, out of range → 422', async () => {
    const { app, calls } = appWith();
    for (const ok of ['2', '365']) expect((await app.request(`/v1/trends/jobs?window=${ok}`)).status).toBe(200);
    for (const [bad, status, code] of [
      ...['1', '366', '0', '-5'].map((w) => [w, 422, 'invalid'] as const),
      ...['2.5', 'abc', ''].map((w) => [w, 400, 'bad_request'] as const),
    ]) {
      const res = await app.request(`/v1/trends/slos?window=${bad}`);
      expect(res.status, `window=${bad}`).toBe(status);
      const body = (await res.json()) as { error: { code: string; problems: { path: string }[] } };
      expect(body.error.code).toBe(code);
      expect(body.error.problems[0]!.path).toBe('query.window');
    }
    expect(calls.map((c) => c.window)).toEqual([2, 365]);
  });

  it('answer 503 with Retry-After when the event store cannot answer', async () => {
    const { app } = appWith({
      jobTrends: async () => {
        throw new DomainError('unavailable', 'the event store did not answer the trend query; retry later', [], 10);
      },
    });
    const res = await app.request('/v1/trends/jobs');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('10');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
  });

  it('are documented in the OpenAPI registry', () => {
    const { app } = appWith();
    const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } });
    expect(Object.keys(doc.paths ?? {})).toEqual(expect.arrayContaining(['/v1/trends/jobs', '/v1/trends/slos']));
  });
});
