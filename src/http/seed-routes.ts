import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { debtInputSchema } from '../domain/debts/debt-definition.js';
import type { Clock } from '../domain/time/clock.js';
import type { DebtEngine } from '../engine/debt-engine.js';
import { debtJsonSchema } from '../engine/debt-view.js';
import type { AppEnv } from './env.js';
import { paymentFrom, vivifyFrom } from './payment-input.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse, vivifyQuery } from './schemas.js';

/** The routes of the original proof of concept, kept so its clients keep working. */
export function registerSeedRoutes(app: OpenAPIHono<AppEnv>, engine: DebtEngine, clock: Clock): void {
  const tags = ['seed'];
  defineRoute(
    app,
    {
      method: 'put',
      path: '/debts',
      scope: 'write',
      summary: 'Create a debt (optional definition body); returns it with its id',
      tags,
      body: debtInputSchema,
      responses: { 201: jsonResponse('created', debtJsonSchema), ...errorResponses },
    },
    async (c, { body }) => {
      const { debt, created } = await engine.define(c.get('project'), body?.id, body ?? {});
      return c.json(debt, created ? 201 : 200);
    },
  );
  defineRoute(
    app,
    {
      method: 'get',
      path: '/debts',
      scope: 'read',
      summary: 'List debts',
      tags,
      responses: { 200: jsonResponse('debts', z.array(debtJsonSchema)) },
    },
    (c) => c.json(engine.list(c.get('project'))),
  );
  defineRoute(
    app,
    {
      method: 'get',
      path: '/debts/:id',
      scope: 'read',
      summary: 'Get a debt',
      tags,
      params: idParams,
      responses: { 200: jsonResponse('the debt', debtJsonSchema), ...errorResponses },
    },
    (c, { params }) => c.json(engine.get(c.get('project'), params.id)),
  );
  defineRoute(
    app,
    {
      method: 'post',
      path: '/debts/:id',
      scope: 'ping',
      bodyLimit: 'ping',
      summary: 'Pay a debt (success); vivifies an unknown debt given a schedule, like every payment door',
      tags,
      params: idParams,
      query: vivifyQuery,
      responses: {
        200: jsonResponse('the debt', debtJsonSchema),
        201: jsonResponse('debt created by this payment', debtJsonSchema),
        ...errorResponses,
      },
    },
    async (c, { params, query }) => {
      const payment = paymentFrom({ kind: 'success' }, clock.now());
      const { debt, created } = await engine.pay(c.get('project'), params.id, payment, vivifyFrom(query));
      return c.json(debt, created ? 201 : 200);
    },
  );
}
