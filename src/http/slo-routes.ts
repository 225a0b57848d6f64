import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { sloInputSchema } from '../domain/slos/slo.js';
import type { SloEngine } from '../engine/slo-engine.js';
import { performanceRowJsonSchema, sloJsonSchema } from '../engine/slo-view.js';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

const performanceQuery = z.object({
  from: z.string().max(32).optional().describe('YYYY-MM-DD; 6 days before to when absent'),
  to: z.string().max(32).optional().describe('YYYY-MM-DD, inclusive; today in the calendar zone when absent'),
});

/** The SLO routes (docs/semantics.md, "Calendars, job status and SLOs"). */
export function registerSloRoutes(app: OpenAPIHono<AppEnv>, engine: SloEngine): void {
  const tags = ['slos'];
  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/slos',
      scope: 'read',
      summary: 'List SLOs',
      tags,
      responses: { 200: jsonResponse('SLOs', z.object({ slos: z.array(sloJsonSchema) })) },
    },
    (c) => c.json({ slos: engine.listSlos(c.get('project')) }),
  );

  defineRoute(
    app,
    {
      method: 'put',
      path: '/v1/slos/:id',
      scope: 'write',
      summary: 'Create or replace an SLO',
      tags,
      params: idParams,
      body: sloInputSchema,
      responses: { 200: jsonResponse('replaced', sloJsonSchema), 201: jsonResponse('created', sloJsonSchema), ...errorResponses },
    },
    async (c, { params, body }) => {
      if (body === undefined) throw new BadRequestError('an SLO definition is required', [{ path: '', message: 'required' }]);
      const { slo, created } = await engine.defineSlo(c.get('project'), params.id, body);
      return c.json(slo, created ? 201 : 200);
    },
  );

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/slos/:id',
      scope: 'read',
      summary: 'Get an SLO and the row it is on',
      tags,
      params: idParams,
      responses: { 200: jsonResponse('the SLO', sloJsonSchema), ...errorResponses },
    },
    (c, { params }) => c.json(engine.getSlo(c.get('project'), params.id)),
  );

  defineRoute(
    app,
    {
      method: 'delete',
      path: '/v1/slos/:id',
      scope: 'write',
      summary: 'Delete an SLO (its history stays in the log)',
      tags,
      params: idParams,
      responses: { 204: { description: 'deleted' }, ...errorResponses },
    },
    async (c, { params }) => {
      await engine.deleteSlo(c.get('project'), params.id);
      return c.body(null, 204);
    },
  );

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
