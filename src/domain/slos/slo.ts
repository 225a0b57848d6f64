/**
 * SLO definitions (docs/semantics.md): which jobs must have succeeded by when, for each business date of
 * a calendar (or each intra-day slot of a `within` cron). Validation lists every problem; the
 * engine adds the one check that needs state (the calendar exists in the project).
 */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { validateCron } from '../time/cron-schedule.js';
import { isValidDate } from '../time/civil-date.js';
import { DurationError, parseDuration } from '../time/duration.js';
import { ID_PATTERN, type Problem } from '../problems.js';
import { parseDayOffsetTime } from '../time/zoned-time.js';
import { sloBusinessDayProblem } from './slo-business-day.js';

/**
 * Statuses of a performance row (docs/semantics.md), in the contract's order; `excused` last: a row
 * whose deadline falls inside a maintenance window over the SLO and that was not met on time.
 */
export const SLO_STATUSES = ['not_scheduled', 'pending', 'running', 'at_risk', 'on_time', 'late', 'missed', 'failed', 'excused'] as const;
export type SloStatus = (typeof SLO_STATUSES)[number];

/** Outcomes a delivered row closes with; each such closing is one `slo.closed` event and one delivery. */
export const SLO_OUTCOMES = ['on_time', 'late', 'missed', 'failed'] as const;
export type SloOutcome = (typeof SLO_OUTCOMES)[number];

/** Every status a row closes with: the outcomes, and `excused`, which is no delivery (left out of counts and ratios). */
export const SLO_CLOSED_STATUSES = [...SLO_OUTCOMES, 'excused'] as const;
export type SloClosedStatus = (typeof SLO_CLOSED_STATUSES)[number];

/** Application and job names: 1–128 characters, no white space or control characters. */
export const JOB_NAME_PATTERN = /^[^\s\p{Cc}]{1,128}$/u;
const JOB_NAME_MESSAGE = 'must be 1–128 characters without spaces or control characters';

/** Slack when none is given: a delivery up to an hour after its deadline is late, later is missed. */
export const DEFAULT_SLACK_MS = 3_600_000;
/** Longest slack: a row must close within weeks, or the engine holds it open forever. */
export const MAX_SLACK_MS = 31 * 86_400_000;
/** Most slots a `within` cron may give per day (every 5 minutes): each is a row. */
export const MAX_SLOTS_PER_DAY = 288;
/** Longest offset of a `within` job time from its slot. */
const MAX_SLOT_OFFSET_MS = 86_400_000;
const MAX_JOBS = 100;
/** Most upstream SLOs one SLO may wait for (as many as a debt). */
const MAX_UPSTREAMS = 32;

const durationInput = z.union([z.string().max(64), z.number()]).describe('"90s", "15m", "1h30m", "2d", ISO 8601 "PT15M", or seconds');

/** One job of an SLO as written: `HH:MM[+Nd]` for whole-day SLOs, `+15m` / `-10m` offsets from the slot for `within`. */
export const sloJobInputSchema = z.strictObject({
  application: z.string().max(128).optional(),
  job: z.string().max(128),
  expectedStart: z.string().max(32).optional(),
  expectedEnd: z.string().max(32),
});

/** The JSON body of `PUT /v1/slos/{id}` (structural; `normalizeSloInput` does the rest). */
export const sloInputSchema = z.strictObject({
  id: z.string().max(128).optional(),
  name: z.string().max(256).optional(),
  application: z.string().max(128).optional(),
  calendar: z.string().max(128),
  jobs: z.array(sloJobInputSchema).max(MAX_JOBS),
  slack: durationInput.optional(),
  within: z
    .strictObject({ cron: z.string().max(256) })
    .nullable()
    .optional(),
  businessDay: z
    .number()
    .optional()
    .describe('due only on the n-th business day of each month of the calendar (1..23; negative counts from the end, -1: the last)'),
  since: z.string().max(32).optional(),
  after: z
    .array(z.string().max(128))
    .max(MAX_UPSTREAMS)
    .optional()
    .describe('ids of upstream SLOs of the project whose rows of the same business date this one waits for'),
});

export type SloInput = z.infer<typeof sloInputSchema>;

/** One job of a normalized SLO; times as written (validated), start null when not given. */
export interface SloJob {
  application: string;
  job: string;
  expectedStart: string | null;
  expectedEnd: string;
}

/** An SLO as the engine knows it. */
export interface SloDefinition {
  id: string;
  project: string;
  name: string;
  application: string;
  calendar: string;
  jobs: SloJob[];
  slackMs: number;
  within: { cron: string } | null;
  /** Due only on this business day of each month (negative: from the end); absent: every business day. */
  businessDay?: number;
  /** The first business date of the SLO's history, when the definition moves it (docs/semantics.md). */
  since?: string;
  /** Upstream SLO ids whose rows of the same business date (and slot) this one waits for; absent: none. */
  after?: string[];
}

/** What the metrics exposition needs to know about one SLO (its current row and deliveries). */
export interface SloMetricsView {
  project: string;
  slo: string;
  application: string;
  /** expectedEnd of the current row, epoch ms. */
  deadlineAt: number | null;
  /** Signed lateness of the latest delivered row (actualEnd − expectedEnd), ms. */
  latenessMs: number | null;
  status: SloStatus;
  predictedEndAt: number | null;
  deliveries: Record<SloOutcome, number>;
}

/**
 * Checks an SLO body against its route id and the project and lists every deeper problem
 * (names, `HH:MM+Nd` times, start after end, cron, slack); returns the normalized definition.
 */
export function normalizeSloInput(
  input: SloInput,
  identity: { id: string; project: string },
): { definition?: SloDefinition; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!ID_PATTERN.test(identity.id)) problems.push({ path: 'id', message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' });
  if (input.id !== undefined && input.id !== identity.id)
    problems.push({ path: 'id', message: `does not match the id in the URL ("${identity.id}")` });
  if (!ID_PATTERN.test(input.calendar))
    problems.push({ path: 'calendar', message: 'not a valid calendar id (^[a-z0-9][a-z0-9._-]{0,127}$)' });
  if (input.application !== undefined && !JOB_NAME_PATTERN.test(input.application))
    problems.push({ path: 'application', message: JOB_NAME_MESSAGE });

  const within = input.within ?? null;
  if (within) {
    const message = withinCronProblem(within.cron);
    if (message) problems.push({ path: 'within.cron', message });
  }

  if (input.jobs.length === 0) problems.push({ path: 'jobs', message: 'an SLO needs at least one job' });
  const seen = new Set<string>();
  const jobs: SloJob[] = [];
  input.jobs.forEach((job, i) => {
    const path = `jobs.${i}`;
    const application = job.application ?? input.application;
    if (application === undefined) problems.push({ path: `${path}.application`, message: 'required when the SLO has no application' });
    else if (job.application !== undefined && !JOB_NAME_PATTERN.test(job.application))
      problems.push({ path: `${path}.application`, message: JOB_NAME_MESSAGE });
    if (!JOB_NAME_PATTERN.test(job.job)) problems.push({ path: `${path}.job`, message: JOB_NAME_MESSAGE });
    const key = `${application}\u0000${job.job}`;
    if (seen.has(key)) problems.push({ path: `${path}.job`, message: `job ${application}/${job.job} is listed twice` });
    seen.add(key);
    const read = within ? readSlotOffset : readDayOffsetMinutes;
    const end = read(job.expectedEnd, `${path}.expectedEnd`, problems);
    const start = job.expectedStart === undefined ? undefined : read(job.expectedStart, `${path}.expectedStart`, problems);
    if (start !== undefined && end !== undefined && start > end) {
      problems.push({ path: `${path}.expectedStart`, message: `"${job.expectedStart}" is after expectedEnd "${job.expectedEnd}"` });
    }
    jobs.push({ application: application ?? '', job: job.job, expectedStart: job.expectedStart ?? null, expectedEnd: job.expectedEnd });
  });

  const businessDayProblem = sloBusinessDayProblem(input.businessDay);
  if (businessDayProblem) problems.push(businessDayProblem);

  let slackMs = DEFAULT_SLACK_MS;
  if (input.slack !== undefined) {
    try {
      slackMs = parseDuration(input.slack);
      if (slackMs > MAX_SLACK_MS) problems.push({ path: 'slack', message: 'must be at most 31 days' });
    } catch (err) {
      problems.push({ path: 'slack', message: err instanceof DurationError ? err.message : 'invalid duration' });
    }
  }
  const after = input.after ?? [];
  after.forEach((upstream, i) => {
    if (!ID_PATTERN.test(upstream)) problems.push({ path: `after.${i}`, message: 'must be an SLO id (^[a-z0-9][a-z0-9._-]{0,127}$)' });
    else if (upstream === identity.id) problems.push({ path: `after.${i}`, message: 'an SLO cannot wait for itself' });
  });
  if (new Set(after).size !== after.length) problems.push({ path: 'after', message: 'upstream ids must be unique' });
  if (input.since !== undefined && !isValidDate(input.since)) problems.push({ path: 'since', message: 'must be a date YYYY-MM-DD' });
  // Rows are computed from `since` on; dates past the year 9000 would put day offsets out of range.
  else if (input.since !== undefined && (input.since < '1970-01-01' || input.since > '9000-12-31'))
    problems.push({ path: 'since', message: 'must lie between 1970-01-01 and 9000-12-31' });
  if (problems.length) return { problems };
  return {
    problems,
    definition: {
      id: identity.id,
      project: identity.project,
      name: input.name ?? identity.id,
      application: input.application ?? jobs[0]!.application,
      calendar: input.calendar,
      jobs,
      slackMs,
      within: within ? { cron: within.cron.trim() } : null,
      ...(input.businessDay === undefined ? {} : { businessDay: input.businessDay }),
      ...(input.since !== undefined ? { since: input.since } : {}),
      ...(after.length > 0 ? { after } : {}),
    },
  };
}

/** The wall times of a `within` cron's slots, each day, in order. */
export interface WithinSlotTime {
  /** `HH:MM`, or `HH:MM:SS` when the cron has seconds. */
  label: string;
  hour: number;
  minute: number;
  second: number;
}

/**
 * The slot times of a `within` cron (valid per `withinCronProblem`), sorted. The days come
 * from the calendar, so only the cron's time fields are read.
 */
export function withinSlotTimes(cron: string): WithinSlotTime[] {
  const fields = CronExpressionParser.parse(cron.trim()).fields;
  const seconds = fields.second.values.map(Number).sort((a, b) => a - b);
  const showSeconds = seconds.length !== 1 || seconds[0] !== 0;
  const out: WithinSlotTime[] = [];
  for (const hour of fields.hour.values.map(Number).sort((a, b) => a - b)) {
    for (const minute of fields.minute.values.map(Number).sort((a, b) => a - b)) {
      for (const second of seconds) {
        const label = `${pad(hour)}:${pad(minute)}${showSeconds ? `:${pad(second)}` : ''}`;
        out.push({ label, hour, minute, second });
      }
    }
  }
  return out;
}

/** Null when `cron` is usable for intra-day slots, else why not. */
export function withinCronProblem(cron: string): string | null {
  const problem = validateCron(cron);
  if (problem) return problem;
  const text = cron.trim();
  if (text.startsWith('@')) return 'use explicit minute and hour fields (e.g. "10,40 6-18 * * *"); the days come from the calendar';
  const fields = text.split(/\s+/);
  const dayFields = fields.slice(fields.length - 3);
  if (dayFields.some((f) => f !== '*' && f !== '?')) {
    return 'day-of-month, month and day-of-week must be "*": the calendar decides the days';
  }
  const count = withinSlotTimes(text).length;
  if (count > MAX_SLOTS_PER_DAY) return `gives ${count} slots a day; at most ${MAX_SLOTS_PER_DAY} (one every 5 minutes)`;
  return null;
}

/** Reads a `within` offset (`"+0m"`, `"-10m"`, `"+1h30m"`) as signed ms; throws RangeError otherwise. */
export function parseSlotOffset(text: string): number {
  const match = /^([+-])(.+)$/.exec(text.trim());
  if (!match) throw new RangeError(`"${text}" is not an offset from the slot: expected e.g. "+0m", "+15m" or "-10m"`);
  let ms: number;
  try {
    ms = parseDuration(match[2]!);
  } catch (err) {
    throw new RangeError(`"${text}" is not an offset from the slot: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (ms > MAX_SLOT_OFFSET_MS) throw new RangeError(`"${text}" is more than 24 hours from the slot`);
  return match[1] === '-' ? -ms : ms;
}

function readSlotOffset(text: string, path: string, problems: Problem[]): number | undefined {
  try {
    return parseSlotOffset(text);
  } catch (err) {
    problems.push({ path, message: `${(err as Error).message} (a within SLO gives job times as offsets from each slot)` });
    return undefined;
  }
}

function readDayOffsetMinutes(text: string, path: string, problems: Problem[]): number | undefined {
  try {
    const t = parseDayOffsetTime(text);
    return t.dayOffset * 1440 + t.hour * 60 + t.minute;
  } catch (err) {
    problems.push({ path, message: (err as Error).message });
    return undefined;
  }
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
