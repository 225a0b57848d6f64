import type { DebtDefinition } from './debt-definition.js';
import {
  addCount,
  everyOccurrence,
  openThrough,
  own,
  withUnwatchedSpan,
  type DebtContext,
  type DebtState,
  type OpenOccurrence,
  type OpenRun,
} from './debt-state.js';
import type { ClosedOutcome } from './debt-types.js';
import type { EventOf, EventType, OccurrenceClosedAttributes } from '../event.js';
import { deadlineOf } from './deadline.js';

/** The columns of a log event the debt fold reads. */
export type DebtFoldColumn = 'type' | 'ts' | 'kind' | 'status' | 'runId' | 'durationMs' | 'attributes';

/** The fields of a log event the debt fold reads, still discriminated on `type`. */
export type DebtEventData = { [T in EventType]: Pick<EventOf<T>, DebtFoldColumn> }[EventType];

type PaymentData = Extract<DebtEventData, { type: 'payment' }>;

const RECENT_LIMIT = 8;
/** Outages remembered per debt; older ones only matter to occurrences long since closed. */
const UNWATCHED_LIMIT = 16;

/**
 * Folds one event into a debt's state (mutating it). This is the only place state changes:
 * live handling and start-up replay both go through it, so they cannot disagree.
 */
export function applyDebtEvent(state: DebtState, event: DebtEventData, ctx: DebtContext): void {
  state.updatedAt = Math.max(state.updatedAt, event.ts);
  switch (event.type) {
    case 'payment':
      applyPayment(state, event, ctx);
      return;
    case 'occurrence.closed':
      applyClosed(state, event.status, event.attributes, ctx);
      return;
    case 'run.timed_out':
      state.runs = state.runs.filter((r) => r.key !== event.runId);
      countFailedRun(state, 'timed_out');
      return;
    case 'debt.status_changed':
      state.status = event.status;
      state.statusSince = event.ts;
      return;
    case 'debt.paused':
      state.def = { ...state.def, paused: true };
      state.open = [];
      state.runs = [];
      return;
    case 'debt.resumed':
      state.def = { ...state.def, paused: false };
      restartSchedule(state, event.ts);
      return;
    case 'compter.started': {
      const fromAt = event.attributes.unwatchedFrom;
      if (fromAt >= event.ts) return;
      state.unwatched = withUnwatchedSpan(state.unwatched, { fromAt, toAt: event.ts }, UNWATCHED_LIMIT);
      return;
    }
    default:
      return;
  }
}

/** Replaces a debt's definition; a changed schedule or grace restarts the schedule at `at`. */
export function redefineDebt(state: DebtState, def: DebtDefinition, at: number): void {
  const before = state.def;
  state.def = def;
  state.updatedAt = Math.max(state.updatedAt, at);
  if (JSON.stringify(before.schedule) !== JSON.stringify(def.schedule) || before.graceMs !== def.graceMs || before.paused !== def.paused) {
    restartSchedule(state, at);
  }
}

function restartSchedule(state: DebtState, at: number): void {
  state.open = [];
  state.cursorAt = null;
  state.epochAt = at;
}

function applyPayment(state: DebtState, event: PaymentData, ctx: DebtContext): void {
  const { kind, attributes: a } = event;
  // Payments logged before the occurrence was recorded carry no occurrenceAt.
  const occurrenceAt = a.occurrenceAt ?? null;
  const key = event.runId;
  state.payments += 1;
  state.paymentsByKind = addCount(state.paymentsByKind, kind, 1);
  if (occurrenceAt !== null) openThrough(state, occurrenceAt, ctx);
  switch (kind) {
    case 'start': {
      state.runs = [...withoutRun(state.runs, key), { key, startedAt: event.ts, occurrenceAt, stages: [] }];
      const occ = findOpen(state, occurrenceAt);
      if (occ && occ.startedAt === null) occ.startedAt = event.ts;
      return;
    }
    case 'stage': {
      let run = state.runs.find((r) => r.key === key);
      if (!run) {
        // A stage without a start begins the run implicitly, so its progress is still tracked.
        run = { key, startedAt: event.ts, occurrenceAt, stages: [] };
        state.runs = [...state.runs, run];
      }
      const { stage } = a;
      if (stage !== undefined && !run.stages.includes(stage)) run.stages.push(stage);
      return;
    }
    case 'success':
      state.runs = endedRuns(state.runs, key);
      state.lastSuccessAt = Math.max(state.lastSuccessAt ?? event.ts, event.ts);
      // The last run's duration: an untimed end (no start, no measured duration) has none,
      // and shows none rather than an older run's (healthchecks empties last_duration too).
      state.lastDurationMs = event.durationMs;
      recordSuccess(state);
      state.missedDeadlineAt = null;
      if (a.isExtraRun === true) state.extraRuns += 1;
      return;
    case 'fail':
      // Every fail is a failed run, also one that ends after its occurrence was paid.
      state.runs = endedRuns(state.runs, key);
      state.lastDurationMs = event.durationMs;
      if (a.isExtraRun === true) state.extraRuns += 1;
      countFailedRun(state, 'failed');
      return;
    case 'log':
      return;
  }
}

function applyClosed(state: DebtState, outcome: ClosedOutcome, a: OccurrenceClosedAttributes, ctx: DebtContext): void {
  const { schedule } = state.def;
  const { scheduledAt } = a;
  const count = a.count ?? 1;
  state.occurrencesByOutcome = addCount(state.occurrencesByOutcome, outcome, count);
  if (schedule?.kind === 'every') {
    // The next `every` occurrence is due a period after the payment, or after the missed one.
    const paidAt = a.paidAt ?? null;
    const anchorAt = outcome === 'paid' || outcome === 'paid_late' ? (paidAt ?? scheduledAt) : scheduledAt;
    state.open = [everyOccurrence(state.def, schedule.everyMs, anchorAt)];
  } else {
    openThrough(state, scheduledAt, ctx);
    state.open = state.open.filter((o) => o.scheduledAt !== scheduledAt);
  }
  state.recent = own(state.recent);
  state.recent.push({ scheduledAt, outcome });
  if (state.recent.length > RECENT_LIMIT) state.recent.shift();
  // `failed` and `timed_out` were counted by the run's own end (the fail payment, run.timed_out);
  // `incomplete` is a success payment that turned out to be a failed run.
  if (outcome === 'incomplete') countFailedRun(state, outcome, count);
  else if (outcome === 'missed') {
    state.missedDeadlineAt ??= a.deadline ?? deadlineOf(scheduledAt, state.def);
  }
}

/** One more failed run in the streak that `failuresBeforeAlert` is compared with; a success resets it. */
function countFailedRun(state: DebtState, outcome: ClosedOutcome, runs = 1): void {
  state.consecutiveFailures += runs;
  state.lastFailure = outcome;
}

/**
 * A success clears the failure streak, except that a debt which reached `failed` stays failed
 * until `successesBeforeRecovery` consecutive successes (Sentry's recovery_threshold).
 */
function recordSuccess(state: DebtState): void {
  const isFailed = state.lastFailure !== null && state.consecutiveFailures >= state.def.failuresBeforeAlert;
  const needed = state.def.successesBeforeRecovery ?? 1;
  if (isFailed && needed > 1) {
    // The failure count only grows while failed: a changed count means a failure came between.
    const streak = state.recovery;
    const successes = streak && streak.failures === state.consecutiveFailures ? streak.successes + 1 : 1;
    state.recovery = { failures: state.consecutiveFailures, successes };
    if (successes < needed) return;
  }
  state.consecutiveFailures = 0;
  state.lastFailure = null;
  delete state.recovery;
}

/** The open occurrence scheduled at `at`, if any. */
export function findOpen(state: DebtState, at: number | null): OpenOccurrence | undefined {
  return at === null ? undefined : state.open.find((o) => o.scheduledAt === at);
}

/**
 * The runs still open after an end (success or fail) keyed `key`. An end with a run id ends
 * that run. An end without one ends the open start without one; when there is none, it ends
 * every open run, as healthchecks does: `/start?rid=X` followed by a plain ping (a script
 * that forgot the rid) leaves the check up, not running until its runtime limit.
 */
function endedRuns(runs: OpenRun[], key: string): OpenRun[] {
  if (key !== '' || runs.length === 0 || runs.some((r) => r.key === '')) return withoutRun(runs, key);
  return [];
}

/** The runs without the one keyed `key`: the same array when there is none (a success with no start). */
function withoutRun(runs: OpenRun[], key: string): OpenRun[] {
  return runs.some((r) => r.key === key) ? runs.filter((r) => r.key !== key) : runs;
}
