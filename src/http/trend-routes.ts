import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import {
  DEFAULT_TREND_WINDOW,
  jobTrendJsonSchema,
  MAX_TREND_WINDOW,
  MIN_TREND_WINDOW,
  sloTrendJsonSchema,
  type TrendService,
} from '../engine/trend-service.js';
import type { AppEnv } from './env.js';
import { defineRoute } from './route.js';
import { errorResponses, jsonResponse, queryNumber } from './schemas.js';

/** What the routes ask of the trend service. */
/** What the trend routes and the console read; the per-job series only the console's charts need. */
export type TrendReader = Pick<TrendService, 'jobTrends' | 'sloTrends'> & Partial<Pick<TrendService, 'sloJobDurations'>>;

const windowQuery = z.object({
  window: queryNumber(z.number().int().min(MIN_TREND_WINDOW).max(MAX_TREND_WINDOW))
    .optional()
    .describe(`business dates the trend covers, ending with the current one (default ${DEFAULT_TREND_WINDOW})`),
});

/** `GET /v1/trends/jobs` and `GET /v1/trends/slos` (README, API), answered from fresh SQL. */
export function registerTrendRoutes(app: OpenAPIHono<AppEnv>, trends: TrendReader): void {
  const tags = ['trends'];
  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/trends/jobs',
      scope: 'read',
      summary: 'Per job: duration and end-lateness slopes, p50/p90 duration, projected breach date',
      tags,
      query: windowQuery,
      responses: { 200: jsonResponse('job trends', z.object({ jobs: z.array(jobTrendJsonSchema) })), ...errorResponses },
    },
    async (c, { query }) => c.json({ jobs: await trends.jobTrends(c.get('project'), query.window ?? DEFAULT_TREND_WINDOW) }),
  );
  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/trends/slos',
      scope: 'read',
      summary: 'Per SLO: on-time ratio, median lateness, same-side share, bias and a suggested expected end',
      tags,
      query: windowQuery,
      responses: { 200: jsonResponse('SLO trends', z.object({ slos: z.array(sloTrendJsonSchema) })), ...errorResponses },
    },
    async (c, { query }) => c.json({ slos: await trends.sloTrends(c.get('project'), query.window ?? DEFAULT_TREND_WINDOW) }),
  );
}
