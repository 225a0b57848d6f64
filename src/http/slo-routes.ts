import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { sloInputSchema } from '../domain/slos/slo.js';
import type { SloEngine } from '../engine/slo-engine.js';
import { performanceRowJsonSchema, sloJsonSchema } from '../engine/slo-view.js';
import type { AppEnv } from './env.js';
import { defineResourceRoutes } from './resource-routes.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

const performanceQuery = z.object({
  from: z.string().max(32).optional().describe('YYYY-MM-DD; 6 days before to when absent'),
  to: z.string().max(32).optional().describe('YYYY-MM-DD, inclusive; today in the calendar zone when absent'),
});

/** The SLO routes (docs/semantics.md, "Calendars, job status and SLOs"). */
export function registerSloRoutes(app: OpenAPIHono<AppEnv>, engine: SloEngine): void {
  const tags = ['slos'];
  defineResourceRoutes(app, {
    path: '/v1/slos',
    tags,
    noun: 'an SLO',
    json: sloJsonSchema,
    input: sloInputSchema,
    list: { key: 'slos', summary: 'List SLOs', run: (project) => engine.listSlos(project) },
    define: async (project, id, input) => {
      const { slo, created } = await engine.defineSlo(project, id, input);
      return { json: slo, created };
    },
    get: (project, id) => engine.getSlo(project, id),
    remove: (project, id) => engine.deleteSlo(project, id),
  });

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/slos/:id/performance',
      scope: 'read',
      summary: 'Performance rows per business date (and slot) from from to to',
      tags,
      params: idParams,
      query: performanceQuery,
      responses: { 200: jsonResponse('rows', z.object({ rows: z.array(performanceRowJsonSchema) })), ...errorResponses },
    },
    async (c, { params, query }) => c.json({ rows: await engine.performance(c.get('project'), params.id, query.from, query.to) }),
  );
}
