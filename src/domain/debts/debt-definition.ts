import { z } from 'zod';
import { DurationError, parseDuration } from '../time/duration.js';
import { validateCron } from '../time/cron-schedule.js';
import { MAX_BUSINESS_DAY } from '../time/business-day-timeline.js';
import { validateRrule } from '../time/timeline.js';
import { isValidTimeZone, parseWallTime } from '../time/zoned-time.js';
import { ID_PATTERN, type Problem } from '../problems.js';
import { NOMINAL_MONTH_MS, ROLL_DIRECTIONS, type RollDirection, type Schedule } from '../time/schedule.js';

/** A debt as the engine knows it: validated, durations in ms, one schedule kind. */
export interface DebtDefinition {
  id: string;
  project: string;
  name: string;
  pingId: string;
  schedule: Schedule | null;
  graceMs: number;
  startWithinMs: number | null;
  maxRuntimeMs: number | null;
  minRuntimeMs: number | null;
  stages: string[];
  failuresBeforeAlert: number;
  /** Consecutive successes a failed debt needs before it is `up` again; absent means 1 (older logs lack it). */
  successesBeforeRecovery?: number;
  labels: Record<string, string>;
  paused: boolean;
  /** Upstream debt ids this one runs after: while one of them is in trouble, this one is blocked. */
  after: string[];
}

// Most debts have no labels, stages or upstreams: they all point at these instead of holding
// three empty containers each (about 120 bytes a debt). Frozen, so a stray mutation throws.
const NO_LABELS: Record<string, string> = Object.freeze({});
const NO_NAMES = Object.freeze([]) as readonly string[] as string[];

/**
 * The definition with empty labels, stages and upstreams replaced by shared empties, a name
 * equal to the id sharing its string, and a missing `after` (definitions logged before
 * dependencies existed) read as none.
 */
export function compactDefinition(def: DebtDefinition): DebtDefinition {
  const after = def.after ?? NO_NAMES;
  const labels = def.labels ?? NO_LABELS;
  // Every field by name, in one order, rather than `{ ...def }`: V8 gave most spread copies a
  // hidden class of their own (a map and a descriptor array, about 430 bytes a debt at 100k);
  // one literal shares one.
  const compact: DebtDefinition = {
    id: def.id,
    project: def.project,
    // A name left as the id (the usual case for monitors created by a ping) holds no copy.
    name: def.name === def.id ? def.id : def.name,
    pingId: def.pingId,
    schedule: def.schedule,
    graceMs: def.graceMs,
    startWithinMs: def.startWithinMs,
    maxRuntimeMs: def.maxRuntimeMs,
    minRuntimeMs: def.minRuntimeMs,
    stages: def.stages.length === 0 ? NO_NAMES : def.stages,
    failuresBeforeAlert: def.failuresBeforeAlert,
    labels: isEmptyRecord(labels) ? NO_LABELS : labels,
    paused: def.paused,
    after: after.length === 0 ? NO_NAMES : after,
  };
  if (def.successesBeforeRecovery !== undefined) compact.successesBeforeRecovery = def.successesBeforeRecovery;
  return compact;
}

function isEmptyRecord(record: Record<string, string>): boolean {
  for (const _ in record) return false;
  return true;
}

/** Grace when none is given: long enough for a cron job's own start jitter, short enough to page promptly. */
export const DEFAULT_GRACE_MS = 5 * 60_000;

const durationInput = z.union([z.string().max(64), z.number()]).describe('"90s", "15m", "1h30m", "2d", ISO 8601 "PT15M", or seconds');

/** The JSON shape of a schedule; exactly one of every / cron / rrule / businessDay / deadline. */
export const scheduleInputSchema = z
  .object({
    every: durationInput.optional(),
    cron: z.string().max(256).optional(),
    tz: z.string().max(64).optional(),
    rrule: z.string().max(1024).optional(),
    at: z.string().max(8).optional(),
    calendar: z.string().max(128).optional(),
    // A string, not an enum: an unknown value is a 422 naming the field, not a malformed body.
    roll: z
      .string()
      .max(32)
      .optional()
      .describe('"next" | "previous": on an rrule with a calendar, an excluded date moves to the next (previous) business day'),
    businessDay: z
      .number()
      .optional()
      .describe(`the n-th business day of each month of the calendar, 1..${MAX_BUSINESS_DAY}; negative counts from the end (-1: the last)`),
    deadline: z.string().max(64).optional(),
  })
  .strict();

const MAX_UPSTREAMS = 32;

/** The JSON body of a debt definition, as PUT /v1/debts/{id}, PUT /debts and compter.yaml take it. */
export const debtInputSchema = z
  .object({
    id: z.string().max(128).optional(),
    name: z.string().max(256).optional(),
    schedule: scheduleInputSchema.nullable().optional(),
    grace: durationInput.optional(),
    startWithin: durationInput.nullable().optional(),
    maxRuntime: durationInput.nullable().optional(),
    minRuntime: durationInput.nullable().optional(),
    stages: z.array(z.string().min(1).max(128)).max(64).optional(),
    failuresBeforeAlert: z.number().int().min(1).max(1000).optional(),
    successesBeforeRecovery: z.number().int().min(1).max(1000).optional(),
    labels: z.record(z.string().max(64), z.string().max(256)).optional(),
    paused: z.boolean().optional(),
    after: z.array(z.string().max(128)).max(MAX_UPSTREAMS).optional().describe('ids of upstream debts this one waits for'),
  })
  .strict();

export type DebtInput = z.infer<typeof debtInputSchema>;
export type ScheduleInput = z.infer<typeof scheduleInputSchema>;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const MAX_LABELS = 32;

/** Validates a schedule input deeply; returns the schedule or the problems, paths under `path`. */
export function normalizeSchedule(input: ScheduleInput, path = 'schedule'): { schedule?: Schedule; problems: Problem[] } {
  const problems: Problem[] = [];
  const kinds = (['every', 'cron', 'rrule', 'businessDay', 'deadline'] as const).filter((k) => input[k] !== undefined);
  if (kinds.length !== 1) {
    problems.push({
      path,
      message: `exactly one of every, cron, rrule, businessDay or deadline is required (got ${kinds.length ? kinds.join(', ') : 'none'})`,
    });
    return { problems };
  }
  const kind = kinds[0]!;
  const extra = (['tz', 'at', 'calendar', 'roll'] as const).filter((k) => input[k] !== undefined && !allowedWith[kind].includes(k));
  for (const k of extra) problems.push({ path: `${path}.${k}`, message: `not used by a ${kind} schedule` });
  const tz = input.tz ?? 'UTC';
  if ((kind === 'cron' || kind === 'rrule' || kind === 'businessDay') && !isValidTimeZone(tz)) {
    problems.push({ path: `${path}.tz`, message: `unknown time zone "${tz}" (use an IANA name such as Europe/Copenhagen)` });
  }
  switch (kind) {
    case 'every': {
      const months = typeof input.every === 'string' ? MONTHS.exec(input.every.trim()) : null;
      if (months) {
        const everyMonths = Number(months[1]);
        if (everyMonths < 1 || everyMonths > MAX_EVERY_MONTHS)
          problems.push({ path: `${path}.every`, message: `months must be 1–${MAX_EVERY_MONTHS}` });
        if (problems.length) return { problems };
        return { schedule: { kind: 'every', everyMs: everyMonths * NOMINAL_MONTH_MS, everyMonths }, problems };
      }
      const everyMs = durationProblem(input.every!, `${path}.every`, problems, 1000);
      if (problems.length === 0 && everyMs !== undefined) return { schedule: { kind: 'every', everyMs }, problems };
      return { problems };
    }
    case 'cron': {
      const message = validateCron(input.cron!);
      if (message) problems.push({ path: `${path}.cron`, message });
      return problems.length ? { problems } : { schedule: { kind: 'cron', cron: input.cron!.trim(), tz }, problems };
    }
    case 'rrule': {
      const message = validateRrule(input.rrule!);
      if (message) problems.push({ path: `${path}.rrule`, message });
      const at = wallTimeProblem(input.at, `${path}.at`, problems);
      calendarIdProblem(input.calendar, `${path}.calendar`, problems);
      const roll = rollProblem(input.roll, input.calendar, `${path}.roll`, problems);
      if (problems.length) return { problems };
      const schedule: Schedule = { kind: 'rrule', rrule: input.rrule!.trim(), at, tz };
      if (input.calendar !== undefined) schedule.calendar = input.calendar;
      if (roll !== undefined) schedule.roll = roll;
      return { schedule, problems };
    }
    case 'businessDay': {
      const n = input.businessDay!;
      if (!Number.isInteger(n) || n === 0 || Math.abs(n) > MAX_BUSINESS_DAY) {
        problems.push({
          path: `${path}.businessDay`,
          message: `must be a whole number from 1 to ${MAX_BUSINESS_DAY}, or -1 (the last business day) to -${MAX_BUSINESS_DAY}`,
        });
      }
      const at = wallTimeProblem(input.at, `${path}.at`, problems);
      if (input.calendar === undefined) {
        problems.push({ path: `${path}.calendar`, message: 'a businessDay schedule needs the calendar whose business days it counts' });
      }
      calendarIdProblem(input.calendar, `${path}.calendar`, problems);
      if (problems.length) return { problems };
      return { schedule: { kind: 'businessDay', businessDay: n, at, tz, calendar: input.calendar! }, problems };
    }
    case 'deadline': {
      const at = Date.parse(input.deadline!);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(input.deadline!) || !Number.isFinite(at) || !/(Z|[+-]\d{2}:?\d{2})$/.test(input.deadline!)) {
        problems.push({ path: `${path}.deadline`, message: 'must be an ISO 8601 instant with a zone, e.g. 2026-12-01T06:00:00Z' });
        return { problems };
      }
      return { schedule: { kind: 'deadline', at }, problems };
    }
  }
}

/** `"3mo"`: an interval of calendar months (Sentry's month and year intervals), not a fixed duration. */
const MONTHS = /^(\d{1,4})\s*mo$/;
const MAX_EVERY_MONTHS = 120;

const allowedWith: Record<'every' | 'cron' | 'rrule' | 'businessDay' | 'deadline', readonly string[]> = {
  every: [],
  cron: ['tz'],
  rrule: ['tz', 'at', 'calendar', 'roll'],
  businessDay: ['tz', 'at', 'calendar'],
  deadline: [],
};

function wallTimeProblem(input: string | undefined, path: string, problems: Problem[]): string {
  const at = input ?? '00:00';
  if (!safeWallTime(at)) problems.push({ path, message: `"${at}" is not a wall-clock time HH:MM` });
  return at;
}

function calendarIdProblem(calendar: string | undefined, path: string, problems: Problem[]): void {
  if (calendar !== undefined && !ID_PATTERN.test(calendar)) problems.push({ path, message: 'not a valid calendar id' });
}

function rollProblem(roll: string | undefined, calendar: string | undefined, path: string, problems: Problem[]): RollDirection | undefined {
  if (roll === undefined) return undefined;
  const direction = ROLL_DIRECTIONS.find((d) => d === roll);
  if (direction === undefined) {
    problems.push({ path, message: `unknown roll ${JSON.stringify(roll)}: use "next" or "previous"` });
  } else if (calendar === undefined) {
    problems.push({ path, message: 'roll moves dates the calendar excludes: name a calendar' });
  }
  return direction;
}

function safeWallTime(value: string): boolean {
  try {
    parseWallTime(value);
    return true;
  } catch {
    return false;
  }
}

function durationProblem(value: string | number, path: string, problems: Problem[], minMs = 0): number | undefined {
  try {
    const ms = parseDuration(value);
    if (ms < minMs) {
      problems.push({ path, message: `must be at least ${minMs / 1000}s` });
      return undefined;
    }
    return ms;
  } catch (err) {
    problems.push({ path, message: err instanceof DurationError ? err.message : `invalid duration ${JSON.stringify(value)}` });
    return undefined;
  }
}

function optionalDuration(value: string | number | null | undefined, path: string, problems: Problem[]): number | null {
  if (value === undefined || value === null) return null;
  return durationProblem(value, path, problems) ?? null;
}

/** Identity fields the caller decides (route id, project, a fresh ping id). */
export interface DebtIdentity {
  id: string;
  project: string;
  pingId: string;
}

/**
 * Turns a structurally valid input into a definition, listing every deeper problem (bad
 * cron, zone, duration, label names). The id in the body, when given, must match the route's.
 */
export function normalizeDebtInput(input: DebtInput, identity: DebtIdentity): { definition?: DebtDefinition; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!ID_PATTERN.test(identity.id)) problems.push({ path: 'id', message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' });
  if (input.id !== undefined && input.id !== identity.id)
    problems.push({ path: 'id', message: `does not match the id in the URL ("${identity.id}")` });
  let schedule: Schedule | null = null;
  if (input.schedule) {
    const result = normalizeSchedule(input.schedule);
    problems.push(...result.problems);
    schedule = result.schedule ?? null;
  }
  const graceMs = input.grace === undefined ? DEFAULT_GRACE_MS : (durationProblem(input.grace, 'grace', problems) ?? 0);
  const startWithinMs = optionalDuration(input.startWithin, 'startWithin', problems);
  const maxRuntimeMs = optionalDuration(input.maxRuntime, 'maxRuntime', problems);
  const minRuntimeMs = optionalDuration(input.minRuntime, 'minRuntime', problems);
  if (maxRuntimeMs !== null && maxRuntimeMs < 1000) problems.push({ path: 'maxRuntime', message: 'must be at least 1s' });
  const labels = input.labels ?? {};
  const labelNames = Object.keys(labels);
  if (labelNames.length > MAX_LABELS) problems.push({ path: 'labels', message: `at most ${MAX_LABELS} labels` });
  for (const name of labelNames) {
    if (!LABEL_NAME.test(name)) problems.push({ path: `labels.${name}`, message: 'label names must match [a-zA-Z_][a-zA-Z0-9_]*' });
  }
  const stages = input.stages ?? [];
  if (new Set(stages).size !== stages.length) problems.push({ path: 'stages', message: 'stage names must be unique' });
  const after = input.after ?? [];
  after.forEach((upstream, i) => {
    if (!ID_PATTERN.test(upstream)) problems.push({ path: `after.${i}`, message: 'must be a debt id (^[a-z0-9][a-z0-9._-]{0,127}$)' });
    else if (upstream === identity.id) problems.push({ path: `after.${i}`, message: 'a debt cannot run after itself' });
  });
  if (new Set(after).size !== after.length) problems.push({ path: 'after', message: 'upstream ids must be unique' });
  if (problems.length) return { problems };
  return {
    problems,
    definition: {
      id: identity.id,
      project: identity.project,
      name: input.name ?? identity.id,
      pingId: identity.pingId,
      schedule,
      graceMs,
      startWithinMs,
      maxRuntimeMs,
      minRuntimeMs,
      stages,
      failuresBeforeAlert: input.failuresBeforeAlert ?? 1,
      // Left out at its default, so definitions logged before the field existed compare equal.
      ...(input.successesBeforeRecovery !== undefined && input.successesBeforeRecovery !== 1
        ? { successesBeforeRecovery: input.successesBeforeRecovery }
        : {}),
      labels,
      paused: input.paused ?? false,
      after,
    },
  };
}

/** The schedule as the API shows it: durations in seconds, instants in ISO 8601 UTC. */
export function scheduleToJson(schedule: Schedule | null): Record<string, unknown> | null {
  if (!schedule) return null;
  switch (schedule.kind) {
    case 'every':
      return schedule.everyMonths === undefined ? { every: schedule.everyMs / 1000 } : { every: `${schedule.everyMonths}mo` };
    case 'cron':
      return { cron: schedule.cron, tz: schedule.tz };
    case 'rrule':
      return {
        rrule: schedule.rrule,
        at: schedule.at,
        tz: schedule.tz,
        ...(schedule.calendar ? { calendar: schedule.calendar } : {}),
        ...(schedule.roll ? { roll: schedule.roll } : {}),
      };
    case 'businessDay':
      return { businessDay: schedule.businessDay, at: schedule.at, tz: schedule.tz, calendar: schedule.calendar };
    case 'deadline':
      return { deadline: new Date(schedule.at).toISOString() };
  }
}
