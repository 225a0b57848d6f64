import { applyDebtEvent, findOpen, type DebtFoldColumn } from './debt-apply.js';
import {
  FAILURE_OUTCOMES,
  isExcusedDeadline,
  isUnwatched,
  NO_SURROUNDINGS,
  openThrough,
  type ClosedRef,
  type DebtContext,
  type DebtState,
  type DebtSurroundings,
  type OpenOccurrence,
} from './debt-state.js';
import type { ClosedOutcome, DebtStatus } from './debt-types.js';
import type { EventOf, OccurrenceClosedAttributes, PaymentAttributes } from '../event.js';
import type { Payment } from './payment.js';
import { DomainError } from '../problems.js';
import type { Slot } from '../time/schedule.js';
import { deadlineOf } from './deadline.js';

/** The event types the debt logic and the debt engine write. */
type DebtDraftType =
  | 'debt.defined'
  | 'debt.deleted'
  | 'debt.paused'
  | 'debt.resumed'
  | 'payment'
  | 'run.timed_out'
  | 'occurrence.closed'
  | 'debt.status_changed';

/** An event the debt logic decided on; the engine adds ids, project and debt, then logs it. */
export type DebtEventDraft = {
  [T in DebtDraftType]: Pick<EventOf<T>, DebtFoldColumn | 'host' | 'businessDate' | 'latenessMs'>;
}[DebtDraftType];

/** A payment this close before the next slot, landing in an already-closed window, pays that slot (clock skew). */
const EARLY_TOLERANCE_MS = 60_000;
/** How many slots far behind "now" one call may open and close (a long outage); the rest on the next wake. */
const CATCH_UP_LIMIT = 10_000;

/** The columns a debt event may fill; the rest stay empty ('' or null). */
interface DraftColumns {
  kind?: string;
  status?: string;
  runId?: string;
  host?: string;
  businessDate?: string;
  durationMs?: number | null;
  latenessMs?: number | null;
}

const NO_COLUMNS: DraftColumns = {};

/**
 * A draft with every column present, always in one order: every debt event then has one object
 * shape, which V8 builds and reads fast (spreading defaults and overwriting them cost a tenth
 * of a ping's CPU). The caller's type and attributes must agree, as the event types say.
 */
function draft(type: DebtDraftType, ts: number, attributes: object, c: DraftColumns = NO_COLUMNS): DebtEventDraft {
  return {
    type,
    ts,
    kind: c.kind ?? '',
    status: c.status ?? '',
    runId: c.runId ?? '',
    host: c.host ?? '',
    businessDate: c.businessDate ?? '',
    durationMs: c.durationMs ?? null,
    latenessMs: c.latenessMs ?? null,
    attributes,
  } as DebtEventDraft;
}

/** A draft of a debt's own lifecycle event (defined, deleted, paused, resumed): every column empty. */
export function lifecycleDraft(
  type: 'debt.defined' | 'debt.deleted' | 'debt.paused' | 'debt.resumed',
  now: number,
  attributes: DebtEventDraft['attributes'] = {},
): DebtEventDraft {
  return draft(type, now, attributes);
}

/** Applies each draft to the state as it is decided, so later decisions see earlier ones. */
function emit(state: DebtState, ctx: DebtContext, out: DebtEventDraft[], event: DebtEventDraft): void {
  applyDebtEvent(state, event, ctx);
  out.push(event);
}

/**
 * Moves a debt to `now`: runs past their maxRuntime time out, slots that fell due open, and
 * occurrences whose window ended unpaid close as missed. Returns (and has applied) the events.
 */
export function advanceDebt(state: DebtState, now: number, ctx: DebtContext): DebtEventDraft[] {
  const out: DebtEventDraft[] = [];
  if (state.def.paused) return out;
  const { maxRuntimeMs } = state.def;
  if (maxRuntimeMs !== null) {
    for (const run of [...state.runs]) {
      const timesOutAt = run.startedAt + maxRuntimeMs;
      if (timesOutAt > now) continue;
      const attributes = { startedAt: run.startedAt, timedOutAt: timesOutAt, stagesDone: run.stages };
      emit(state, ctx, out, draft('run.timed_out', now, attributes, { runId: run.key, durationMs: now - run.startedAt }));
      const occ = findOpen(state, run.occurrenceAt);
      if (occ) emit(state, ctx, out, closeDraft(occ, 'timed_out', now, { runId: run.key }));
    }
  }
  for (let n = 0; n < CATCH_UP_LIMIT; n++) {
    openThrough(state, now, ctx, CATCH_UP_LIMIT);
    // An occurrence with a run in progress stays open past its window: the run pays it (late)
    // or times out; it is not "missed" while someone is working on it.
    const due = state.open.find(
      (o) => o.closesAt !== null && o.closesAt <= now && !state.runs.some((r) => r.occurrenceAt === o.scheduledAt),
    );
    if (!due) break;
    emit(state, ctx, out, closeDraft(due, unpaidOutcome(state, due, ctx), now));
  }
  return out;
}

/**
 * How an occurrence closes unpaid. A deadline that passed while compter itself was down was
 * never watched: nobody knows whether the job ran (unknown). One inside a maintenance window
 * was not owed (excused). Neither counts as a success or a failure.
 */
function unpaidOutcome(state: DebtState, occ: OpenOccurrence, ctx: DebtContext): ClosedOutcome {
  if (isUnwatched(state, occ.deadline)) return 'unknown';
  if (ctx.isInMaintenance?.(state.def, occ.deadline)) return 'excused';
  return 'missed';
}

/** How the run that closed an occurrence ended, when one did. */
interface ClosingRun {
  runId?: string;
  durationMs?: number | null;
  attributes?: Pick<OccurrenceClosedAttributes, 'isTooFast' | 'missingStages'>;
}

function closeDraft(occ: OpenOccurrence, outcome: ClosedOutcome, now: number, by: ClosingRun = {}, paidAt?: number): DebtEventDraft {
  const attributes: OccurrenceClosedAttributes = { scheduledAt: occ.scheduledAt, deadline: occ.deadline, ...by.attributes };
  if (paidAt !== undefined) attributes.paidAt = paidAt;
  return draft('occurrence.closed', now, attributes, {
    runId: by.runId ?? '',
    durationMs: by.durationMs ?? null,
    status: outcome,
    businessDate: occ.businessDate,
    latenessMs: paidAt === undefined ? null : paidAt - occ.deadline,
  });
}

/** The occurrence a payment belongs to (in order: business date, run, time), or none. */
interface Match {
  occurrenceAt: number | null;
  businessDate: string;
}

function matchPayment(state: DebtState, payment: Payment, ctx: DebtContext): Match {
  const schedule = state.def.schedule;
  if (!schedule || state.def.paused) return { occurrenceAt: null, businessDate: payment.businessDate ?? '' };
  if (payment.businessDate !== undefined) return matchBusinessDate(state, payment, ctx);
  if (payment.kind !== 'start') {
    const run = state.runs.find((r) => r.key === (payment.runId ?? ''));
    if (run) return { occurrenceAt: run.occurrenceAt, businessDate: businessDateOf(state, run.occurrenceAt) };
  }
  if (schedule.kind === 'every') {
    openThrough(state, payment.at, ctx);
    const occ = state.open[0];
    return occ ? { occurrenceAt: occ.scheduledAt, businessDate: occ.businessDate } : { occurrenceAt: null, businessDate: '' };
  }
  const timeline = ctx.timelineFor(state.def);
  if (!timeline) return { occurrenceAt: null, businessDate: '' };
  const owning = timeline.atOrBefore(payment.at);
  const current = owning && owning.at > state.epochAt ? owning : null;
  const next = timeline.after(payment.at);
  const isCurrentSettled = current === null || !findOpen(state, current.at);
  if (next && next.at - payment.at <= earlyTolerance(current, next) && isCurrentSettled && payment.kind !== 'log') {
    return { occurrenceAt: next.at, businessDate: next.businessDate };
  }
  return current ? { occurrenceAt: current.at, businessDate: current.businessDate } : { occurrenceAt: null, businessDate: '' };
}

function earlyTolerance(current: Slot | null, next: Slot): number {
  // Never more than a tenth of the period, so fast schedules are matched strictly by time.
  return current ? Math.min(EARLY_TOLERANCE_MS, (next.at - current.at) / 10) : EARLY_TOLERANCE_MS;
}

function businessDateOf(state: DebtState, occurrenceAt: number | null): string {
  if (occurrenceAt === null) return '';
  return findOpen(state, occurrenceAt)?.businessDate ?? '';
}

function matchBusinessDate(state: DebtState, payment: Payment, ctx: DebtContext): Match {
  const date = payment.businessDate!;
  const schedule = state.def.schedule!;
  if (schedule.kind === 'every') {
    const occ = state.open.find((o) => o.businessDate === date);
    return { occurrenceAt: occ?.scheduledAt ?? null, businessDate: date };
  }
  const timeline = ctx.timelineFor(state.def);
  const slot = timeline ? findSlotOnDate(timeline, date, payment.at) : null;
  if (!slot)
    throw new DomainError('invalid', `debt "${state.def.id}" has no occurrence on business date ${date}`, [
      { path: 'businessDate', message: `no occurrence of this debt falls on ${date}` },
    ]);
  return { occurrenceAt: slot.at > state.epochAt ? slot.at : null, businessDate: date };
}

/** The latest slot on `date` at or before `near`, else the first slot on `date`; bounded search. */
function findSlotOnDate(timeline: NonNullable<ReturnType<DebtContext['timelineFor']>>, date: string, near: number): Slot | null {
  const STEPS = 400;
  let slot = timeline.atOrBefore(near);
  for (let i = 0; slot && slot.businessDate > date && i < STEPS; i++) slot = timeline.atOrBefore(slot.at - 1);
  if (slot && slot.businessDate === date) return slot;
  slot = timeline.after(slot ? slot.at : near);
  for (let i = 0; slot && slot.businessDate < date && i < STEPS; i++) slot = timeline.after(slot.at);
  return slot && slot.businessDate === date ? slot : null;
}

/** What a payment did to an occurrence that was already closed. */
function closedOutcomeOf(state: DebtState, at: number): ClosedRef | undefined {
  return state.recent.find((r) => r.scheduledAt === at);
}

/**
 * Records a payment: matches it to an occurrence, closes that occurrence when the payment
 * ends a run (paid, paid_late, failed, incomplete), flags extra runs (successful or failed),
 * too-fast runs and recoveries. Returns (and has applied) the events; the engine advances time first.
 */
export function payDebt(state: DebtState, payment: Payment, ctx: DebtContext): DebtEventDraft[] {
  const out: DebtEventDraft[] = [];
  const match = matchPayment(state, payment, ctx);
  if (match.occurrenceAt !== null) openThrough(state, match.occurrenceAt, ctx);
  const runKey = payment.runId ?? '';
  const run = payment.kind === 'start' ? undefined : state.runs.find((r) => r.key === runKey);
  const isEnd = payment.kind === 'success' || payment.kind === 'fail';
  // A duration the client measured (a wrapper's monotonic clock) beats the gap between the
  // arrival of the start and of the end; only without one is the recorded start used.
  const durationMs = !isEnd ? null : (payment.durationMs ?? (run ? Math.max(0, payment.at - run.startedAt) : null));
  const occ = findOpen(state, match.occurrenceAt);
  const attributes: PaymentAttributes = { occurrenceAt: match.occurrenceAt };
  if (payment.stage !== undefined) attributes.stage = payment.stage;
  if (payment.exitCode !== undefined) attributes.exitCode = payment.exitCode;
  if (payment.message !== undefined) attributes.message = payment.message;
  if (payment.environment !== undefined) attributes.environment = payment.environment;
  let outcome: ClosedOutcome | null = null;
  if (isEnd && occ) {
    outcome = endOutcome(state, payment, occ, run?.stages ?? []);
  } else if (isEnd && match.occurrenceAt !== null) {
    // A run that ends in an occurrence already paid is an extra run, failed or not: the
    // occurrence keeps its outcome, and a failed one still counts against the debt.
    const closed = closedOutcomeOf(state, match.occurrenceAt);
    if (closed && (closed.outcome === 'paid' || closed.outcome === 'paid_late')) attributes.isExtraRun = true;
    else if (closed && FAILURE_OUTCOMES.has(closed.outcome) && payment.kind === 'success') attributes.isRecovery = true;
  }
  const minRuntimeMs = state.def.minRuntimeMs;
  if (payment.kind === 'success' && durationMs !== null && minRuntimeMs !== null && durationMs < minRuntimeMs) attributes.isTooFast = true;
  const latenessMs = outcome && occ && payment.kind === 'success' ? payment.at - occ.deadline : null;
  const columns = { kind: payment.kind, runId: runKey, host: payment.host ?? '', businessDate: match.businessDate, durationMs, latenessMs };
  emit(state, ctx, out, draft('payment', payment.at, attributes, columns));
  if (outcome && occ) {
    const extra: NonNullable<ClosingRun['attributes']> = {};
    if (attributes.isTooFast) extra.isTooFast = true;
    if (outcome === 'incomplete') extra.missingStages = state.def.stages.filter((s) => !(run?.stages ?? []).includes(s));
    emit(
      state,
      ctx,
      out,
      closeDraft(
        occ,
        outcome,
        payment.at,
        { runId: runKey, durationMs, attributes: extra },
        payment.kind === 'success' ? payment.at : undefined,
      ),
    );
  }
  return out;
}

function endOutcome(state: DebtState, payment: Payment, occ: OpenOccurrence, stagesDone: string[]): ClosedOutcome {
  if (payment.kind === 'fail') return 'failed';
  if (state.def.stages.some((s) => !stagesDone.includes(s))) return 'incomplete';
  return payment.at <= occ.deadline ? 'paid' : 'paid_late';
}

/**
 * The status a debt has at `now`, from its state and its surroundings (upstreams blocking it,
 * a maintenance window over it, which the engine knows). Precedence: paused, maintenance,
 * failed/timed out (enough consecutive failures),
 * blocked, overdue (a watched deadline or start window passed unpaid, or a missed occurrence
 * not yet made good), running, late, new, up.
 */
export function deriveStatus(state: DebtState, now: number, ctx: DebtContext, around: DebtSurroundings = NO_SURROUNDINGS): DebtStatus {
  const { def } = state;
  const { blockedBy } = around;
  if (def.paused) return 'paused';
  if (around.isInMaintenance) return 'maintenance';
  if (state.consecutiveFailures >= def.failuresBeforeAlert && state.lastFailure) {
    return state.lastFailure === 'timed_out' ? 'timed_out' : 'failed';
  }
  // Its own failure is news of its own; waiting on a broken upstream is not.
  if (blockedBy.length > 0) return 'blocked';
  if (isPastDue(state, now, ctx)) return 'overdue';
  for (const occ of state.open) {
    const startBy = def.startWithinMs === null ? null : occ.scheduledAt + def.startWithinMs;
    if (startBy !== null && occ.startedAt === null && startBy < now && !isExcusedDeadline(state, startBy, ctx)) return 'overdue';
  }
  if (state.runs.length > 0) return 'running';
  if (state.open.some((o) => o.scheduledAt <= now)) return 'late';
  if (state.lastSuccessAt === null && state.recent.length === 0) return 'new';
  return 'up';
}

/**
 * True while an occurrence is past its deadline unpaid, or a missed one is not yet made good.
 * A deadline that passed while compter was down, or inside a maintenance window, does not count.
 */
export function isPastDue(state: DebtState, now: number, ctx: DebtContext): boolean {
  if (state.def.paused) return false;
  if (state.missedDeadlineAt !== null) return true;
  return state.open.some((o) => o.deadline < now && !isExcusedDeadline(state, o.deadline, ctx));
}

/** A `debt.status_changed` event when the derived status differs from the recorded one. */
export function updateStatus(
  state: DebtState,
  now: number,
  ctx: DebtContext,
  around: DebtSurroundings = NO_SURROUNDINGS,
): DebtEventDraft[] {
  const status = deriveStatus(state, now, ctx, around);
  if (status === state.status) return [];
  const attributes: { from: DebtStatus; blockedBy?: string[] } = { from: state.status };
  if (status === 'blocked') attributes.blockedBy = [...around.blockedBy];
  const event = draft('debt.status_changed', now, attributes, { status });
  applyDebtEvent(state, event, ctx);
  return [event];
}

/**
 * The next instant at which time alone changes this debt (a slot falls due, a deadline or
 * start window passes, a run times out, a window closes), or null. The timer sleeps until it.
 */
export function nextWakeAt(state: DebtState, now: number, ctx: DebtContext): number | null {
  const { def } = state;
  if (def.paused || !def.schedule) return earliestRunTimeout(state, now);
  let wake = earliestRunTimeout(state, now) ?? Infinity;
  const consider = (t: number | null) => {
    if (t !== null && t > now && t < wake) wake = t;
  };
  for (const occ of state.open) {
    consider(occ.scheduledAt);
    // +1: overdue means strictly past the deadline; a payment exactly at it is on time.
    consider(occ.deadline + 1);
    if (def.startWithinMs !== null && occ.startedAt === null) consider(occ.scheduledAt + def.startWithinMs + 1);
    consider(occ.closesAt);
  }
  if (def.schedule.kind !== 'every') {
    const timeline = ctx.timelineFor(def);
    const next = timeline?.after(state.cursorAt ?? state.epochAt);
    if (next) consider(next.at);
  }
  consider(ctx.maintenanceChangeAfter?.(def, now) ?? null);
  return wake === Infinity ? null : wake;
}

function earliestRunTimeout(state: DebtState, now: number): number | null {
  const max = state.def.maxRuntimeMs;
  if (max === null || state.runs.length === 0) return null;
  const t = Math.min(...state.runs.map((r) => r.startedAt + max));
  return Math.max(t, now + 1);
}

/** The deadline of the earliest occurrence still owed, or of the next one when none is; null if none. */
export function nextDeadline(state: DebtState, ctx: DebtContext): number | null {
  const { def } = state;
  if (def.paused || !def.schedule) return null;
  const first = state.open[0];
  if (first) return first.deadline;
  if (def.schedule.kind === 'every') return null;
  const next = ctx.timelineFor(def)?.after(state.cursorAt ?? state.epochAt);
  return next ? deadlineOf(next.at, def) : null;
}
