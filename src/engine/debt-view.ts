import { z } from 'zod';
import { scheduleToJson } from '../domain/debts/debt-definition.js';
import { deriveStatus, isPastDue, nextDeadline } from '../domain/debts/debt-decide.js';
import {
  NO_SURROUNDINGS,
  type DebtContext,
  type DebtState,
  type DebtSurroundings,
  type OpenOccurrence,
} from '../domain/debts/debt-state.js';
import { OUTCOMES, type DebtMetricsView } from '../domain/debts/debt-types.js';
import { isoTime } from '../domain/time/iso-time.js';

/** A run that ended in an occurrence already paid: it leaves the occurrence's outcome alone. */
export const extraRunJsonSchema = z.object({
  endedAt: z.string(),
  kind: z.enum(['success', 'fail']),
  runId: z.string().nullable(),
  durationSeconds: z.number().nullable(),
});

export type ExtraRunJson = z.infer<typeof extraRunJsonSchema>;

/** An occurrence as the API shows it (docs/semantics.md): instants ISO 8601 UTC, durations in seconds. */
export const occurrenceJsonSchema = z.object({
  scheduledAt: z.string(),
  deadline: z.string(),
  businessDate: z.string(),
  outcome: z.enum(OUTCOMES),
  startedAt: z.string().nullable(),
  paidAt: z.string().nullable(),
  runId: z.string().nullable(),
  durationSeconds: z.number().nullable(),
  latenessSeconds: z.number().nullable(),
  extraRuns: z
    .array(extraRunJsonSchema)
    .describe('runs that ended after the occurrence was already paid, oldest first; a failed one counts against the debt'),
});

export type OccurrenceJson = z.infer<typeof occurrenceJsonSchema>;

/** A debt as the API shows it; the OpenAPI document is generated from this schema. */
export const debtJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  project: z.string(),
  pingId: z.string(),
  schedule: z.record(z.string(), z.unknown()).nullable(),
  grace: z.number().describe('seconds'),
  startWithin: z.number().nullable(),
  maxRuntime: z.number().nullable(),
  minRuntime: z.number().nullable(),
  stages: z.array(z.string()),
  failuresBeforeAlert: z.number(),
  successesBeforeRecovery: z.number().describe('consecutive successes a failed debt needs to be up again'),
  labels: z.record(z.string(), z.string()),
  paused: z.boolean(),
  after: z.array(z.string()).describe('upstream debt ids this one runs after'),
  blockedBy: z.array(z.string()).describe('upstreams now overdue, failed, timed out or blocked; non-empty while status is blocked'),
  created: z.string(),
  updated: z.string(),
  payments: z.number(),
  status: z.string(),
  nextDeadline: z.string().nullable(),
  lastSuccess: z.string().nullable(),
  lastDurationSeconds: z.number().nullable(),
  currentOccurrence: occurrenceJsonSchema.nullable(),
});

export type DebtJson = z.infer<typeof debtJsonSchema>;

/** What a list of debts filters and sorts on before it renders a page of them. */
export interface DebtBrief {
  id: string;
  name: string;
  status: string;
  labels: Record<string, string>;
}

/** ISO 8601 UTC for epoch ms; null stays null. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : isoTime(ms);
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/** The occurrence currently owed, as JSON, with `pending` or `running`. */
export function openOccurrenceJson(state: DebtState, occ: OpenOccurrence, now: number): OccurrenceJson {
  const run = state.runs.find((r) => r.occurrenceAt === occ.scheduledAt);
  const isDue = occ.scheduledAt <= now;
  return {
    scheduledAt: iso(occ.scheduledAt)!,
    deadline: iso(occ.deadline)!,
    businessDate: occ.businessDate,
    outcome: run ? 'running' : isDue ? 'pending' : 'upcoming',
    startedAt: iso(run?.startedAt ?? occ.startedAt),
    paidAt: null,
    runId: run && run.key !== '' ? run.key : null,
    durationSeconds: null,
    latenessSeconds: null,
    extraRuns: [],
  };
}

/** The whole debt as JSON at `now`; its surroundings come from the engine, which sees upstreams and windows. */
export function debtJson(state: DebtState, now: number, ctx: DebtContext, around: DebtSurroundings = NO_SURROUNDINGS): DebtJson {
  const { def } = state;
  const current = state.open[0];
  return {
    id: def.id,
    name: def.name,
    project: def.project,
    pingId: def.pingId,
    schedule: scheduleToJson(def.schedule),
    grace: def.graceMs / 1000,
    startWithin: seconds(def.startWithinMs),
    maxRuntime: seconds(def.maxRuntimeMs),
    minRuntime: seconds(def.minRuntimeMs),
    stages: def.stages,
    failuresBeforeAlert: def.failuresBeforeAlert,
    successesBeforeRecovery: def.successesBeforeRecovery ?? 1,
    labels: def.labels,
    paused: def.paused,
    after: def.after,
    blockedBy: [...around.blockedBy],
    created: iso(state.createdAt)!,
    updated: iso(state.updatedAt)!,
    payments: state.payments,
    status: deriveStatus(state, now, ctx, around),
    nextDeadline: iso(nextDeadline(state, ctx)),
    lastSuccess: iso(state.lastSuccessAt),
    lastDurationSeconds: seconds(state.lastDurationMs),
    currentOccurrence: current ? openOccurrenceJson(state, current, now) : null,
  };
}

/** What the metrics exposition renders for this debt. */
export function debtMetricsView(state: DebtState, now: number, ctx: DebtContext): DebtMetricsView {
  return {
    project: state.def.project,
    debt: state.def.id,
    // While overdue the gauge stays at the deadline that was missed, so alerts can say since when.
    deadlineAt: state.def.paused ? null : (state.missedDeadlineAt ?? nextDeadline(state, ctx)),
    lastSuccessAt: state.lastSuccessAt,
    // In maintenance nothing is owed, so nothing is overdue; the window's end brings it back.
    isOverdue: state.status !== 'maintenance' && isPastDue(state, now, ctx),
    isBlocked: state.status === 'blocked',
    status: state.status,
    lastDurationMs: state.lastDurationMs,
    paymentsByKind: state.paymentsByKind,
    extraRuns: state.extraRuns,
    occurrencesByOutcome: state.occurrencesByOutcome,
  };
}
