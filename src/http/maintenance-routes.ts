import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { maintenanceInputSchema } from '../domain/maintenance/maintenance-window.js';
import type { MaintenanceWindows } from '../engine/maintenance-windows.js';
import type { AppEnv } from './env.js';
import { defineResourceRoutes } from './resource-routes.js';

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
  defineResourceRoutes(app, {
    path: '/v1/maintenance',
    tags: ['maintenance'],
    noun: 'a maintenance window',
    json: windowSchema,
    input: maintenanceInputSchema,
    list: { key: 'windows', summary: 'List maintenance windows', run: (project) => windows.list(project) },
    define: async (project, id, input) => {
      const { window, created } = await windows.define(project, id, input);
      return { json: window, created };
    },
    get: (project, id) => windows.get(project, id),
    remove: (project, id) => windows.delete(project, id),
  });
}
