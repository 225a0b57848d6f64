import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { calendarDefinitionSchema } from '../domain/time/calendar.js';
import type { SloEngine } from '../engine/slo-engine.js';
import { calendarJsonSchema } from '../engine/slo-view.js';
import type { AppEnv } from './env.js';
import { defineResourceRoutes } from './resource-routes.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

/** A calendar body: the definition; its id comes from the path when the body has none. */
const calendarBodySchema = calendarDefinitionSchema.extend({ id: z.string().max(128).optional() });

const daysSchema = z.object({ days: z.array(z.object({ date: z.string(), business: z.boolean(), reason: z.string().optional() })) });
const daysQuery = z.object({
  from: z.string().max(32).optional().describe('YYYY-MM-DD; today in the calendar zone when absent'),
  to: z.string().max(32).optional().describe('YYYY-MM-DD, inclusive; from + 30 days when absent; at most 3 years after from'),
});

/** The business calendar routes (docs/semantics.md, "Calendars, job status and SLOs"). */
export function registerCalendarRoutes(app: OpenAPIHono<AppEnv>, engine: SloEngine): void {
  const tags = ['calendars'];
  defineResourceRoutes(app, {
    path: '/v1/calendars',
    tags,
    noun: 'a business calendar',
    json: calendarJsonSchema,
    input: calendarBodySchema,
    // An absent body is checked as an empty definition, so the answer lists what is missing.
    emptyBody: () => ({}),
    define: async (project, id, input) => {
      const { calendar, created } = await engine.defineCalendar(project, id, input);
      return { json: calendar, created };
    },
    get: (project, id) => engine.getCalendar(project, id),
  });

  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/calendars/:id/days',
      scope: 'read',
      summary: 'Which dates are business days, and why not',
      tags,
      params: idParams,
      query: daysQuery,
      responses: { 200: jsonResponse('days', daysSchema), ...errorResponses },
    },
    (c, { params, query }) => c.json({ days: engine.calendarDays(c.get('project'), params.id, query.from, query.to) }),
  );
}
