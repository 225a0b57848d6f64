import { z } from 'zod';
import { HOLIDAY_TYPES } from '../domain/time/calendar.js';
import type { PerformanceRow } from '../domain/slos/slo-performance.js';
import { SLO_OUTCOMES, SLO_STATUSES, type SloDefinition, type SloOutcome } from '../domain/slos/slo.js';
import { iso } from './debt-view.js';

/** A performance row as the API shows it (docs/semantics.md): instants ISO 8601 UTC, lateness in seconds. */
export const performanceRowJsonSchema = z.object({
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
  blockedBy: z
    .array(z.string())
    .optional()
    .describe('upstream SLOs (after) whose row of this date is past its deadline and not met; only on rows not met yet'),
});

export type PerformanceRowJson = z.infer<typeof performanceRowJsonSchema>;

/** An SLO as the API shows it: its definition, the row it is on now, and its deliveries so far. */
export const sloJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  application: z.string(),
  calendar: z.string(),
  jobs: z.array(z.object({ application: z.string(), job: z.string(), expectedStart: z.string().nullable(), expectedEnd: z.string() })),
  slack: z.number().describe('seconds'),
  within: z.object({ cron: z.string() }).nullable(),
  businessDay: z.number().optional().describe('due only on the n-th business day of each month (negative: from the end)'),
  since: z.string().nullable().describe('first business date of the history, when the definition sets it'),
  after: z.array(z.string()).describe('upstream SLOs whose rows of the same business date this one waits for'),
  created: z.string(),
  updated: z.string(),
  status: z.enum(SLO_STATUSES),
  current: performanceRowJsonSchema.nullable(),
  deliveries: z.record(z.enum(SLO_OUTCOMES), z.number()),
});

export type SloJson = z.infer<typeof sloJsonSchema>;

/** A calendar as the API shows it: the normalized definition with its project and times. */
export const calendarJsonSchema = z.object({
  id: z.string(),
  project: z.string(),
  tz: z.string(),
  weekdays: z.array(z.number()).describe('0 = Sunday ... 6 = Saturday'),
  holidays: z
    .object({
      country: z.string(),
      state: z.string().optional(),
      region: z.string().optional(),
      types: z.array(z.enum(HOLIDAY_TYPES)).optional(),
    })
    .optional(),
  extraDates: z.array(z.string()),
  excludeDates: z.array(z.string()),
  newDayAt: z.string(),
  created: z.string(),
  updated: z.string(),
});

export type CalendarJson = z.infer<typeof calendarJsonSchema>;

/** The JSON of a row. */
export function rowJson(row: PerformanceRow): PerformanceRowJson {
  return {
    sloId: row.sloId,
    businessDate: row.businessDate,
    slot: row.slot,
    expectedStart: iso(row.expectedStart),
    expectedEnd: iso(row.expectedEnd),
    actualStart: iso(row.actualStart),
    actualEnd: iso(row.actualEnd),
    status: row.status,
    latenessSeconds: row.latenessMs === null ? null : row.latenessMs / 1000,
    predictedEnd: iso(row.predictedEnd),
    ...(row.blockedBy?.length ? { blockedBy: [...row.blockedBy] } : {}),
  };
}

/** The JSON of an SLO. */
export function sloJson(
  def: SloDefinition,
  times: { created: number; updated: number },
  current: PerformanceRow | null,
  deliveries: Record<SloOutcome, number>,
): SloJson {
  return {
    id: def.id,
    name: def.name,
    project: def.project,
    application: def.application,
    calendar: def.calendar,
    jobs: def.jobs.map((j) => ({ ...j })),
    slack: def.slackMs / 1000,
    within: def.within ? { ...def.within } : null,
    ...(def.businessDay === undefined ? {} : { businessDay: def.businessDay }),
    since: def.since ?? null,
    after: [...(def.after ?? [])],
    created: iso(times.created)!,
    updated: iso(times.updated)!,
    status: current?.status ?? 'pending',
    current: current ? rowJson(current) : null,
    deliveries: { ...deliveries },
  };
}
