import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { sentryDsn, sentryProjectIdOf } from '../domain/debts/sentry-dsn.js';
import type { PingKeys } from '../engine/ping-keys.js';
import type { AppEnv } from './env.js';
import { defineRoute } from './route.js';
import { jsonResponse } from './schemas.js';

const pingKeySchema = z.object({
  project: z.string(),
  pingKey: z.string(),
  source: z.enum(['config', 'generated']).describe('declared in compter.yaml (pingKeys:) or generated on first request'),
  pingUrl: z.string().describe('path template of key-form ping URLs'),
  sentryUrl: z.string().describe('path template of Sentry-style check-in URLs'),
  sentryProjectId: z.string().describe('numeric project id for Sentry DSNs and /api/{sentryProjectId}/envelope/'),
  sentryDsn: z.string().describe('DSN for Sentry.init({ dsn }), SENTRY_DSN and sentry-cli'),
});

/** GET /v1/ping-key: the caller's project ping key, read-only, so users can build ping URLs. */
export function registerPingKeyRoutes(app: OpenAPIHono<AppEnv>, pingKeys: PingKeys): void {
  defineRoute(
    app,
    {
      method: 'get',
      path: '/v1/ping-key',
      scope: 'read',
      summary: "The project's ping key, for /ping/{pingKey}/{debtId} and Sentry-style check-ins (generated on first request)",
      tags: ['pings'],
      responses: { 200: jsonResponse('the ping key', pingKeySchema) },
    },
    async (c) => {
      const { project, pingKey, source } = await pingKeys.keyFor(c.get('project'));
      return c.json({
        project,
        pingKey,
        source,
        pingUrl: `/ping/${pingKey}/{debtId}`,
        sentryUrl: `/api/${project}/cron/{debtId}/${pingKey}/`,
        sentryProjectId: sentryProjectIdOf(project),
        sentryDsn: sentryDsn(new URL(c.req.url).origin, pingKey, project),
      });
    },
  );
}
