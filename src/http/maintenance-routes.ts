import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { maintenanceInputSchema } from '../domain/maintenance/maintenance-window.js';
import type { MaintenanceWindows } from '../engine/maintenance-windows.js';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

const windowSchema = z.object({
  id: z.string(),
  project: z.string(),
  match: z.object({ debts: z.array(z.string()), slos: z.array(z.string()), labels: z.record(z.string(), z.string()) }),
  from: z.string().optional(),
  to: z.string().optional(),
  cron: z.string().optional(),
  tz: z.string().optional(),
  duration: z.number().optional().describe('seconds'),
  reason: z.string(),
  active: z.boolean().describe('whether the window applies now'),
});

/** The maintenance window routes: what they cover is excused, not paged (docs/semantics.md). */
export function registerMaintenanceRoutes(app: OpenAPIHono<AppEnv>, windows: MaintenanceWindows): void {
  const tags = ['maintenance'];
  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/maintenance',
      scope: 'read',
      summary: 'List maintenance windows',
      tags,
      responses: { 200: jsonResponse('windows', z.object({ windows: z.array(windowSchema) })) },
    },
    (c) => c.json({ windows: windows.list(c.get('project')) }),
  );

  defineRoute(
    app,
    {
      method: 'put',
      path: '/v1/maintenance/:id',
      scope: 'write',
      summary: 'Create or replace a maintenance window',
      tags,
      params: idParams,
      body: maintenanceInputSchema,
      responses: { 200: jsonResponse('replaced', windowSchema), 201: jsonResponse('created', windowSchema), ...errorResponses },
    },
    async (c, { params, body }) => {
      if (body === undefined) throw new BadRequestError('a maintenance window is required', [{ path: '', message: 'required' }]);
      const { window, created } = await windows.define(c.get('project'), params.id, body);
      return c.json(window, created ? 201 : 200);
    },
  );

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/maintenance/:id',
      scope: 'read',
      summary: 'Get a maintenance window',
      tags,
      params: idParams,
      responses: { 200: jsonResponse('the window', windowSchema), ...errorResponses },
    },
    (c, { params }) => c.json(windows.get(c.get('project'), params.id)),
  );

  defineRoute(
    app,
    {
      method: 'delete',
      path: '/v1/maintenance/:id',
      scope: 'write',
      summary: 'Delete a maintenance window (its history stays in the log)',
      tags,
      params: idParams,
      responses: { 204: { description: 'deleted' }, ...errorResponses },
    },
    async (c, { params }) => {
      await windows.delete(c.get('project'), params.id);
      return c.body(null, 204);
    },
  );
}
