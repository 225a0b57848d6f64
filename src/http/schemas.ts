import { z } from 'zod';
import { ID_PATTERN } from '../domain/problems.js';

/** Path parameter `id` of debts, SLOs and calendars (the id rule, docs/semantics.md). */
export const idParams = z.object({ id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$') });

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export const eventSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  ts: z.string(),
  ingestedAt: z.string(),
  kind: z.string(),
  status: z.string(),
  runId: z.string(),
  host: z.string(),
  businessDate: z.string(),
  durationSeconds: z.number().nullable(),
  latenessSeconds: z.number().nullable(),
  attributes: z.record(z.string(), z.unknown()),
});

/** Standard error responses every route may give. */
export const errorResponses = {
  400: { description: 'malformed request; every problem listed', content: { 'application/json': { schema: errorSchema } } },
  404: { description: 'not found', content: { 'application/json': { schema: errorSchema } } },
  422: { description: 'semantically invalid; every problem listed', content: { 'application/json': { schema: errorSchema } } },
} as const;

/** A JSON response documented with `schema`. */
export function jsonResponse(description: string, schema: z.ZodType) {
  return { description, content: { 'application/json': { schema } } };
}

/** Vivify parameters a payment may carry in its query string. */
export const vivifyQuery = z.object({
  every: z.string().max(64).optional(),
  cron: z.string().max(256).optional(),
  tz: z.string().max(64).optional(),
  grace: z.string().max(64).optional(),
});

/**
 * A number in a query string: an empty value is not a number (400), rather than the 0 that
 * `Number('')` makes of it, which would be reported as out of range (422).
 */
export function queryNumber<T extends z.ZodType<number>>(schema: T) {
  return z.preprocess((value) => (typeof value === 'string' ? (value.trim() === '' ? Number.NaN : Number(value)) : value), schema);
}
