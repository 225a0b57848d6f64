import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Clock } from '../domain/time/clock.js';
import { jobStatusItemSchema, MAX_JOB_STATUS_BATCH, parseJobStatusBody } from '../domain/slos/job-status.js';
import type { SloEngine } from '../engine/slo-engine.js';
import { assertApplicationsAllowed } from './auth.js';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { defineRoute } from './route.js';
import { errorResponses, jsonResponse } from './schemas.js';

/**
 * The body is one report or an array of them. It is read by `parseJobStatusBody`, which names
 * problems by item (`[3].time`) and tells malformed from invalid; the schema given to the route
 * accepts anything and only documents that shape.
 */
const jobStatusBodyDoc = z.unknown().openapi({
  oneOf: [
    { $ref: '#/components/schemas/JobStatus' },
    { type: 'array', items: { $ref: '#/components/schemas/JobStatus' }, minItems: 1, maxItems: MAX_JOB_STATUS_BATCH },
  ],
} as never);

const resultSchema = z.object({
  accepted: z.number().describe('reports recorded (each is a job.status event)'),
  duplicates: z.number().describe('resends of reports already recorded; accepted, not logged again'),
});

/** `POST /v1/job-status` (docs/semantics.md): job schedulers report starts, successes and failures. */
export function registerJobStatusRoutes(app: OpenAPIHono<AppEnv>, engine: SloEngine, clock: Clock): void {
  app.openAPIRegistry.register('JobStatus', jobStatusItemSchema);
  defineRoute(
    app,
    {
      method: 'post',
      path: '/v1/job-status',
      scope: 'ping',
      bodyLimit: 'batch',
      summary: `Report job status: one report or an array of up to ${MAX_JOB_STATUS_BATCH}; all or nothing`,
      tags: ['jobs'],
      body: jobStatusBodyDoc,
      responses: { 200: jsonResponse('recorded (durable)', resultSchema), ...errorResponses },
    },
    async (c, { body }) => {
      const parsed = parseJobStatusBody(body, clock.now());
      if (parsed.malformed.length) {
        const problems = [...parsed.malformed, ...parsed.invalid];
        throw new BadRequestError(
          `malformed job status: ${problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`,
          problems,
        );
      }
      const reports = parsed.reports;
      assertApplicationsAllowed(
        c,
        reports.map((r) => r.application),
        (i) => `${reports[i]!.pathPrefix}application`,
      );
      return c.json(await engine.reportJobStatus(c.get('project'), reports, parsed.invalid));
    },
  );
}
