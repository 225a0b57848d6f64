import { z } from 'zod';
import type { DebtInput, ScheduleInput } from './debt-definition.js';
import type { Payment } from './payment.js';
import { ID_PATTERN } from '../problems.js';

/**
 * Sentry Crons check-ins as the SDKs send them in `check_in` envelope items, and how they
 * become compter payments and debt definitions (docs/semantics.md, "Sentry Crons"):
 * in_progress → start, ok → success, error → fail; `check_in_id` is the run id; `duration`
 * (seconds, the SDK's own measurement) is the run's duration; `monitor_config` upserts the debt.
 */

const MINUTE_S = 60;
/** Sentry's defaults for a monitor created without checkin_margin / max_runtime: 1 and 30 minutes. */
const SENTRY_DEFAULT_MARGIN_S = 1 * MINUTE_S;
const SENTRY_DEFAULT_MAX_RUNTIME_S = 30 * MINUTE_S;
const UNIT_SECONDS = { minute: 60, hour: 3600, day: 86_400, week: 604_800 } as const;
const CHECK_IN_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const NIL_ID = '00000000000000000000000000000000';

/** `monitor_config` of a check-in (Sentry's field names; minutes where Sentry uses minutes). */
export const sentryMonitorConfigSchema = z.object({
  schedule: z.discriminatedUnion('type', [
    z.object({ type: z.literal('crontab'), value: z.string().min(1).max(256) }),
    z.object({
      type: z.literal('interval'),
      value: z.number().int().min(1).max(100_000),
      unit: z.enum(['minute', 'hour', 'day', 'week', 'month', 'year']),
    }),
  ]),
  checkin_margin: z.number().min(0).max(100_000).nullable().optional().describe('minutes; becomes the grace'),
  max_runtime: z.number().min(1).max(100_000).nullable().optional().describe('minutes; becomes maxRuntime'),
  timezone: z.string().max(64).nullable().optional().describe('IANA zone of a crontab schedule (default UTC)'),
  failure_issue_threshold: z.number().int().min(1).max(1000).nullable().optional().describe('becomes failuresBeforeAlert'),
  recovery_threshold: z.number().int().min(1).max(1000).nullable().optional().describe('becomes successesBeforeRecovery'),
  owner: z.string().max(256).nullable().optional(),
});

/** One `check_in` item payload. Unknown fields (contexts, release...) are accepted and ignored. */
export const sentryCheckInSchema = z.object({
  check_in_id: z.string().max(64).optional(),
  monitor_slug: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$ (it becomes the debt id)'),
  status: z.enum(['in_progress', 'ok', 'error']),
  duration: z
    .number()
    .min(0)
    .max(7 * 86_400)
    .nullable()
    .optional()
    .describe('seconds'),
  environment: z.string().max(64).nullable().optional(),
  release: z.string().max(256).nullable().optional(),
  monitor_config: sentryMonitorConfigSchema.nullable().optional(),
});

export type SentryMonitorConfig = z.infer<typeof sentryMonitorConfigSchema>;
export type SentryCheckIn = z.infer<typeof sentryCheckInSchema>;

/** A check_in_id as a run id (lower-case, dashed), null for none or the nil UUID (the latest open run), or a problem. */
export function checkInRunIdOf(value: string | undefined): { runId: string | null } | { problem: string } {
  if (value === undefined || value === '') return { runId: null };
  if (!CHECK_IN_ID.test(value)) return { problem: 'must be a UUID' };
  const hex = value.replaceAll('-', '').toLowerCase();
  if (hex === NIL_ID) return { runId: null };
  return { runId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
}

/** The debt schedule a monitor_config describes (its cron or zone are checked when the debt is defined). */
export function monitorSchedule(config: SentryMonitorConfig): ScheduleInput {
  const { schedule } = config;
  if (schedule.type === 'crontab') return { cron: schedule.value, tz: config.timezone ?? 'UTC' };
  // Sentry counts calendar months from the last check-in: a month has no fixed length.
  if (schedule.unit === 'month') return { every: `${schedule.value}mo` };
  if (schedule.unit === 'year') return { every: `${schedule.value * 12}mo` };
  return { every: schedule.value * UNIT_SECONDS[schedule.unit] };
}

/** Definition fields a monitor_config does not set, kept from the existing debt. */
export interface ExistingDefinition {
  name: string;
  grace: number;
  startWithin: number | null;
  maxRuntime: number | null;
  minRuntime: number | null;
  stages: string[];
  failuresBeforeAlert: number;
  successesBeforeRecovery?: number;
  labels: Record<string, string>;
  paused: boolean;
}

/**
 * The definition a monitor_config asks for: the existing debt's definition (name, labels,
 * stages... kept) with the schedule and whatever the config sets replaced.
 */
export function monitorDefinition(config: SentryMonitorConfig, existing: ExistingDefinition | undefined): DebtInput {
  const input: DebtInput = existing
    ? {
        name: existing.name,
        grace: existing.grace,
        startWithin: existing.startWithin,
        maxRuntime: existing.maxRuntime,
        minRuntime: existing.minRuntime,
        stages: existing.stages,
        failuresBeforeAlert: existing.failuresBeforeAlert,
        labels: existing.labels,
        paused: existing.paused,
      }
    : // A new monitor gets Sentry's defaults, so it goes missed and times out when Sentry's would.
      { grace: SENTRY_DEFAULT_MARGIN_S, maxRuntime: SENTRY_DEFAULT_MAX_RUNTIME_S };
  if (existing?.successesBeforeRecovery !== undefined) input.successesBeforeRecovery = existing.successesBeforeRecovery;
  input.schedule = monitorSchedule(config);
  if (config.checkin_margin != null) input.grace = config.checkin_margin * MINUTE_S;
  if (config.max_runtime != null) input.maxRuntime = config.max_runtime * MINUTE_S;
  if (config.failure_issue_threshold != null) input.failuresBeforeAlert = config.failure_issue_threshold;
  if (config.recovery_threshold != null) input.successesBeforeRecovery = config.recovery_threshold;
  return input;
}

/**
 * The payment a check-in makes at `now`. An ok/error without its id (or with the nil id)
 * closes the debt's most recent open run, as Sentry does: `latestOpenRunId` supplies it.
 */
export function checkInPayment(
  checkIn: SentryCheckIn,
  runId: string | null,
  now: number,
  latestOpenRunId: () => string | undefined,
): Payment {
  const kind = checkIn.status === 'in_progress' ? 'start' : checkIn.status === 'ok' ? 'success' : 'fail';
  const payment: Payment = { kind, at: now };
  if (kind === 'start') {
    if (runId !== null) payment.runId = runId;
  } else {
    const closing = runId ?? latestOpenRunId();
    if (closing) payment.runId = closing;
    if (checkIn.duration != null) payment.durationMs = Math.round(checkIn.duration * 1000);
  }
  if (checkIn.environment) payment.environment = checkIn.environment;
  return payment;
}
