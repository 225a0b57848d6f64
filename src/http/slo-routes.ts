import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { SLO_OUTCOMES, SLO_STATUSES, sloInputSchema } from '../domain/slos/slo.js';
import type { SloEngine } from '../engine/slo-engine.js';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

const rowSchema = z.object({
  sloId: z.string(),
  businessDate: z.string(),
  slot: z.string().nullable().describe('HH:MM of the slot for within SLOs, null for whole-day ones'),
  expectedStart: z.string().nullable(),
  expectedEnd: z.string().nullable(),
  actualStart: z.string().nullable(),
  actualEnd: z.string().nullable(),
  status: z.enum(SLO_STATUSES),
  latenessSeconds: z.number().nullable(),
  predictedEnd: z.string().nullable(),
});

const sloSchema = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  application: z.string(),
  calendar: z.string(),
  jobs: z.array(z.object({ application: z.string(), job: z.string(), expectedStart: z.string().nullable(), expectedEnd: z.string() })),
  slack: z.number().describe('seconds'),
  within: z.object({ cron: z.string() }).nullable(),
  businessDay: z.number().optional().describe('due only on the n-th business day of each month (negative: from the end)'),
  created: z.string(),
  updated: z.string(),
  status: z.enum(SLO_STATUSES),
  current: rowSchema.nullable(),
  deliveries: z.record(z.enum(SLO_OUTCOMES), z.number()),
});

const performanceQuery = z.object({
  from: z.string().max(32).optional().describe('YYYY-MM-DD; 6 days before to when absent'),
  to: z.string().max(32).optional().describe('YYYY-MM-DD, inclusive; today in the calendar zone when absent'),
});

/** The SLO routes (SPEC §3, §4). */
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
      responses: { 200: jsonResponse('SLOs', z.object({ slos: z.array(sloSchema) })) },
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
      responses: { 200: jsonResponse('replaced', sloSchema), 201: jsonResponse('created', sloSchema), ...errorResponses },
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
      responses: { 200: jsonResponse('the SLO', sloSchema), ...errorResponses },
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
      responses: { 200: jsonResponse('rows', z.object({ rows: z.array(rowSchema) })), ...errorResponses },
    },
    async (c, { params, query }) => c.json({ rows: await engine.performance(c.get('project'), params.id, query.from, query.to) }),
  );
}
