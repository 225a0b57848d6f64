import { z } from 'zod';
import { validateCron } from '../time/cron-schedule.js';
import { DurationError, parseDuration } from '../time/duration.js';
import type { Timeline } from '../time/schedule.js';
import { isValidTimeZone } from '../time/zoned-time.js';
import { ID_PATTERN, type Problem } from '../problems.js';

/** Which debts and SLOs a window covers: any listed id, or every label given (all must match). */
export interface MaintenanceMatch {
  debts: string[];
  slos: string[];
  labels: Record<string, string>;
}

/** When a window applies: one range [fromAt, toAt), or `durationMs` from each cron time. */
export type MaintenanceSpan =
  { kind: 'range'; fromAt: number; toAt: number } | { kind: 'recurring'; cron: string; tz: string; durationMs: number };

/** A maintenance window as the engine knows it: validated, instants and durations in ms. */
export interface MaintenanceWindow {
  id: string;
  project: string;
  match: MaintenanceMatch;
  span: MaintenanceSpan;
  reason: string;
}

const MAX_IDS = 1000;
const MAX_DURATION_MS = 31 * 86_400_000;

/** The JSON body of a window, as PUT /v1/maintenance/{id} and compter.yaml take it. */
export const maintenanceInputSchema = z
  .object({
    id: z.string().max(128).optional(),
    match: z
      .object({
        debts: z.array(z.string().max(128)).max(MAX_IDS).optional(),
        slos: z.array(z.string().max(128)).max(MAX_IDS).optional(),
        labels: z.record(z.string().max(64), z.string().max(256)).optional(),
      })
      .strict(),
    from: z.string().max(64).optional().describe('ISO 8601 instant with a zone; with `to`'),
    to: z.string().max(64).optional().describe('ISO 8601 instant with a zone, exclusive'),
    cron: z.string().max(256).optional().describe('start of each recurring window; with `tz` and `duration`'),
    tz: z.string().max(64).optional(),
    duration: z
      .union([z.string().max(64), z.number()])
      .optional()
      .describe('length of each recurring window: "2h", "PT2H" or seconds'),
    reason: z.string().max(1024).optional(),
  })
  .strict();

export type MaintenanceInput = z.infer<typeof maintenanceInputSchema>;

function instant(value: string | undefined, path: string, problems: Problem[]): number | undefined {
  if (value === undefined) {
    problems.push({ path, message: 'required for a one-off window (ISO 8601 instant with a zone)' });
    return undefined;
  }
  const at = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || !Number.isFinite(at) || !/(Z|[+-]\d{2}:?\d{2})$/.test(value)) {
    problems.push({ path, message: 'must be an ISO 8601 instant with a zone, e.g. 2026-12-06T03:00:00Z' });
    return undefined;
  }
  return at;
}

function ids(values: string[] | undefined, path: string, problems: Problem[]): string[] {
  const list = values ?? [];
  list.forEach((id, i) => {
    if (!ID_PATTERN.test(id)) problems.push({ path: `${path}.${i}`, message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' });
  });
  return [...new Set(list)];
}

/** Validates a window; returns it or every problem found (paths as in the JSON body). */
export function normalizeMaintenanceInput(
  input: MaintenanceInput,
  identity: { id: string; project: string },
): { window?: MaintenanceWindow; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!ID_PATTERN.test(identity.id)) problems.push({ path: 'id', message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' });
  if (input.id !== undefined && input.id !== identity.id)
    problems.push({ path: 'id', message: `does not match the id in the URL ("${identity.id}")` });
  const match: MaintenanceMatch = {
    debts: ids(input.match.debts, 'match.debts', problems),
    slos: ids(input.match.slos, 'match.slos', problems),
    labels: input.match.labels ?? {},
  };
  if (match.debts.length === 0 && match.slos.length === 0 && Object.keys(match.labels).length === 0) {
    // A window over everything would silence every page of the project: say so explicitly with labels.
    problems.push({ path: 'match', message: 'name at least one debt, SLO or label' });
  }
  const isRecurring = input.cron !== undefined || input.duration !== undefined || input.tz !== undefined;
  const isRange = input.from !== undefined || input.to !== undefined;
  let span: MaintenanceSpan | undefined;
  if (isRecurring && isRange) {
    problems.push({ path: '', message: 'give either from and to, or cron, tz and duration, not both' });
  } else if (isRecurring) {
    const cronMessage = input.cron === undefined ? 'required for a recurring window' : validateCron(input.cron);
    if (cronMessage) problems.push({ path: 'cron', message: cronMessage });
    const tz = input.tz ?? 'UTC';
    if (!isValidTimeZone(tz))
      problems.push({ path: 'tz', message: `unknown time zone "${tz}" (use an IANA name such as Europe/Copenhagen)` });
    const durationMs = duration(input.duration, problems);
    if (!cronMessage && durationMs !== undefined && isValidTimeZone(tz))
      span = { kind: 'recurring', cron: input.cron!.trim(), tz, durationMs };
  } else {
    const fromAt = instant(input.from, 'from', problems);
    const toAt = instant(input.to, 'to', problems);
    if (fromAt !== undefined && toAt !== undefined) {
      if (toAt <= fromAt) problems.push({ path: 'to', message: 'must be after from' });
      else span = { kind: 'range', fromAt, toAt };
    }
  }
  if (problems.length || !span) return { problems };
  return { problems, window: { id: identity.id, project: identity.project, match, span, reason: input.reason ?? '' } };
}

function duration(value: string | number | undefined, problems: Problem[]): number | undefined {
  if (value === undefined) {
    problems.push({ path: 'duration', message: 'required for a recurring window, e.g. "2h"' });
    return undefined;
  }
  try {
    const ms = parseDuration(value);
    if (ms < 1000 || ms > MAX_DURATION_MS) {
      problems.push({ path: 'duration', message: 'must be from 1s to 31d' });
      return undefined;
    }
    return ms;
  } catch (err) {
    problems.push({ path: 'duration', message: err instanceof DurationError ? err.message : `invalid duration ${JSON.stringify(value)}` });
    return undefined;
  }
}

/** True when the window covers the debt: its id is listed, or it carries every label the window names. */
export function coversDebt(window: MaintenanceWindow, debtId: string, labels: Record<string, string>): boolean {
  if (window.match.debts.includes(debtId)) return true;
  const wanted = Object.entries(window.match.labels);
  return wanted.length > 0 && wanted.every(([k, v]) => labels[k] === v);
}

/** True when the window covers the SLO: its id is listed. */
export function coversSlo(window: MaintenanceWindow, sloId: string): boolean {
  return window.match.slos.includes(sloId);
}

/** True when the window applies at `t`; a recurring one needs its cron timeline. */
export function isActiveAt(window: MaintenanceWindow, t: number, timeline: Timeline | null): boolean {
  const { span } = window;
  if (span.kind === 'range') return span.fromAt <= t && t < span.toAt;
  // The latest start ends last, so it alone decides (also when windows overlap).
  const start = timeline?.atOrBefore(t);
  return start !== null && start !== undefined && t < start.at + span.durationMs;
}

/** The next instant after `t` at which the window starts or ends, or null when it never changes again. */
export function nextChangeAfter(window: MaintenanceWindow, t: number, timeline: Timeline | null): number | null {
  const { span } = window;
  if (span.kind === 'range') return t < span.fromAt ? span.fromAt : t < span.toAt ? span.toAt : null;
  const start = timeline?.atOrBefore(t);
  const next = timeline?.after(t)?.at ?? null;
  if (start && t < start.at + span.durationMs) return Math.min(start.at + span.durationMs, next ?? Infinity);
  return next;
}

/** The window as the API shows it: instants ISO 8601 UTC, the duration in seconds. */
export function maintenanceToJson(window: MaintenanceWindow, isActive: boolean): Record<string, unknown> {
  const { span } = window;
  const when =
    span.kind === 'range'
      ? { from: new Date(span.fromAt).toISOString(), to: new Date(span.toAt).toISOString() }
      : { cron: span.cron, tz: span.tz, duration: span.durationMs / 1000 };
  return { id: window.id, project: window.project, match: window.match, ...when, reason: window.reason, active: isActive };
}
