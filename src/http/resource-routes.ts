import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AppEnv } from './env.js';
import { BadRequestError } from './errors.js';
import { defineRoute } from './route.js';
import { errorResponses, idParams, jsonResponse } from './schemas.js';

/**
 * A resource defined by id under one path (`/v1/slos/:id`, ...): list, create-or-replace, get and
 * delete, each optional but get and put. The four routes of every such resource have the same
 * rules (read to list and get, write to change), answers (201 on creation) and documentation.
 */
export interface ResourceSpec<Input, Json> {
  /** e.g. `/v1/slos` */
  path: string;
  tags: string[];
  /** e.g. `an SLO`, for summaries and the message when a required body is missing. */
  noun: string;
  json: z.ZodType<Json>;
  input: z.ZodType<Input>;
  /** An absent body is refused (400) unless this supplies one. */
  emptyBody?: () => Input;
  list?: { key: string; summary: string; run(project: string): Json[] };
  define(project: string, id: string, input: Input): Promise<{ json: Json; created: boolean }>;
  get(project: string, id: string): Json;
  /** Summary of the delete route; its history stays in the log. */
  remove?(project: string, id: string): Promise<void>;
}

/** Registers a resource's list, PUT, GET and DELETE routes. */
export function defineResourceRoutes<Input, Json>(app: OpenAPIHono<AppEnv>, spec: ResourceSpec<Input, Json>): void {
  const { tags, json, noun } = spec;
  const item = `${spec.path}/:id`;
  if (spec.list) {
    const { key, summary } = spec.list;
    const run = (project: string) => spec.list!.run(project);
    defineRoute(
      app,
      {
        method: 'get',
        path: spec.path,
        scope: 'read',
        summary,
        tags,
        responses: { 200: jsonResponse(key, z.object({ [key]: z.array(json) })) },
      },
      (c) => c.json({ [key]: run(c.get('project')) }),
    );
  }
  defineRoute(
    app,
    {
      method: 'put',
      path: item,
      scope: 'write',
      summary: `Create or replace ${noun}`,
      tags,
      params: idParams,
      body: spec.input,
      responses: { 200: jsonResponse('replaced', json), 201: jsonResponse('created', json), ...errorResponses },
    },
    async (c, { params, body }) => {
      const input = body ?? spec.emptyBody?.();
      if (input === undefined) throw new BadRequestError(`${noun} is required in the body`, [{ path: '', message: 'required' }]);
      const { json: answer, created } = await spec.define(c.get('project'), params.id, input);
      return c.json(answer as object, created ? 201 : 200);
    },
  );
  defineRoute(
    app,
    {
      method: 'get',
      path: item,
      scope: 'read',
      summary: `Get ${noun}`,
      tags,
      params: idParams,
      responses: { 200: jsonResponse(noun, json), ...errorResponses },
    },
    (c, { params }) => c.json(spec.get(c.get('project'), params.id) as object),
  );
  const remove = spec.remove?.bind(spec);
  if (remove) {
    defineRoute(
      app,
      {
        method: 'delete',
        path: item,
        scope: 'write',
        summary: `Delete ${noun} (its history stays in the log)`,
        tags,
        params: idParams,
        responses: { 204: { description: 'deleted' }, ...errorResponses },
      },
      async (c, { params }) => {
        await remove(c.get('project'), params.id);
        return c.body(null, 204);
      },
    );
  }
}
