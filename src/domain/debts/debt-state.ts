import type { DebtDefinition } from './debt-definition.js';
import type { ClosedOutcome, DebtStatus, PaymentKind } from './debt-types.js';
import { addUtcMonths, type Slot, type Timeline } from '../time/schedule.js';
import { deadlineOf } from './deadline.js';
import { dateOfEpochDay, FIRST_EPOCH_DAY, LAST_EPOCH_DAY } from '../time/civil-date.js';

/** An occurrence that has fallen due (or, for `every`, is the one currently owed) and is not closed. */
export interface OpenOccurrence {
  scheduledAt: number;
  businessDate: string;
  deadline: number;
  /** When it closes unpaid as `missed`: the later of the next slot and its deadline; null never (one-off). */
  closesAt: number | null;
  startedAt: number | null;
}

/** A run that has started (a `start` payment) and not yet ended. */
export interface OpenRun {
  /** The run id, or '' for the one anonymous run a `start` without id opens. */
  key: string;
  startedAt: number;
  /** The occurrence it started for, or null when none was owed. */
  occurrenceAt: number | null;
  stages: string[];
}

/** Recently closed occurrences, kept to recognise extra runs and recoveries. */
export interface ClosedRef {
  scheduledAt: number;
  outcome: ClosedOutcome;
}

/** A stretch of time compter was not running, so no deadline inside it was watched. */
export interface UnwatchedSpan {
  /** The last moment compter is known to have run (its last logged event), epoch ms. */
  fromAt: number;
  /** When it started again, epoch ms. */
  toAt: number;
}

/** The projection of one debt's events: everything the API, metrics and timer read. */
export interface DebtState {
  def: DebtDefinition;
  createdAt: number;
  updatedAt: number;
  payments: number;
  paymentsByKind: Partial<Record<PaymentKind, number>>;
  extraRuns: number;
  occurrencesByOutcome: Partial<Record<ClosedOutcome, number>>;
  status: DebtStatus;
  statusSince: number;
  lastSuccessAt: number | null;
  lastDurationMs: number | null;
  consecutiveFailures: number;
  lastFailure: ClosedOutcome | null;
  /** Successes in a row since the debt failed (at `failures` failed runs), towards `successesBeforeRecovery`. */
  recovery?: { failures: number; successes: number };
  /**
   * Deadline of the first occurrence that closed missed since the last success, or null. The
   * debt stays overdue, and its deadline gauge stays at this instant, until a success.
   */
  missedDeadlineAt: number | null;
  open: OpenOccurrence[];
  /** Scheduled time of the latest fixed-timeline slot opened, or null before the first. */
  cursorAt: number | null;
  /** Slots at or before this instant are not owed (creation, resume, schedule change). */
  epochAt: number;
  recent: ClosedRef[];
  runs: OpenRun[];
  /** compter's own recent outages, oldest first (docs/semantics.md, "compter's own outage"). */
  unwatched: UnwatchedSpan[];
}

/**
 * What the debt logic needs from outside: a (cached) timeline per definition, and whether a
 * maintenance window covers the debt at an instant (none without the maintenance methods).
 */
export interface DebtContext {
  timelineFor(def: DebtDefinition): Timeline | null;
  isInMaintenance?(def: DebtDefinition, t: number): boolean;
  /** The next instant after `t` at which a window covering the debt starts or ends, or null. */
  maintenanceChangeAfter?(def: DebtDefinition, t: number): number | null;
}

/** What the engine knows around one debt at a moment: upstreams blocking it, a window over it. */
export interface DebtSurroundings {
  blockedBy: readonly string[];
  isInMaintenance: boolean;
}

export const NO_SURROUNDINGS: DebtSurroundings = { blockedBy: [], isInMaintenance: false };

/**
 * True when a deadline at `t` is not the owner's to answer for: compter itself was down, or a
 * maintenance window covered the debt then.
 */
export function isExcusedDeadline(state: DebtState, t: number, ctx: DebtContext): boolean {
  return isUnwatched(state, t) || (ctx.isInMaintenance?.(state.def, t) ?? false);
}

export const FAILURE_OUTCOMES: ReadonlySet<ClosedOutcome> = new Set(['failed', 'incomplete', 'timed_out']);

// Most debts hold no open occurrence, run, closed occurrence or count most of the time: those
// point at shared frozen empties (about 200 bytes a debt at 100k debts), and `own` gives a
// debt its own container the first time it writes one.
const NO_ITEMS = Object.freeze([]) as readonly never[] as never[];
const NO_COUNTS = Object.freeze({}) as Partial<Record<string, number>>;

/** `list` itself, or a fresh copy when it is a shared frozen one; assign it back, then push. */
export function own<T>(list: T[]): T[] {
  return Object.isFrozen(list) ? [...list] : list;
}

/** `counts` with `n` added to `key`: the same record, or a fresh one in place of the shared empty. */
export function addCount<K extends string>(counts: Partial<Record<K, number>>, key: K, n: number): Partial<Record<K, number>> {
  const owned = Object.isFrozen(counts) ? { ...counts } : counts;
  owned[key] = (owned[key] ?? 0) + n;
  return owned;
}

/** A restored state with its empty containers and outage list replaced by the shared ones. */
export function compactState(state: DebtState): DebtState {
  const empty = <T>(list: T[]): T[] => (list.length === 0 ? NO_ITEMS : list);
  const noCounts = <T extends object>(counts: T): T => (Object.keys(counts).length === 0 ? (NO_COUNTS as T) : counts);
  state.paymentsByKind = noCounts(state.paymentsByKind);
  state.occurrencesByOutcome = noCounts(state.occurrencesByOutcome);
  state.open = empty(state.open);
  state.recent = empty(state.recent);
  state.runs = empty(state.runs);
  // Snapshots taken before outages were recorded lack the list.
  state.unwatched = shareUnwatched(state.unwatched ?? []);
  return state;
}

const NO_OUTAGES: UnwatchedSpan[] = NO_ITEMS;
// The lists of outages seen lately, by their spans: every debt lived through the same outages,
// so debts share one frozen list rather than holding a copy each.
const sharedOutages = new Map<string, UnwatchedSpan[]>();
const MAX_SHARED_OUTAGE_LISTS = 256;

/** The shared frozen list equal to `spans`. */
export function shareUnwatched(spans: readonly UnwatchedSpan[]): UnwatchedSpan[] {
  if (spans.length === 0) return NO_OUTAGES;
  const key = spans.map((s) => `${s.fromAt}-${s.toAt}`).join(',');
  let shared = sharedOutages.get(key);
  if (shared === undefined) {
    if (sharedOutages.size >= MAX_SHARED_OUTAGE_LISTS) sharedOutages.clear();
    shared = Object.freeze(
      spans.map((s) => Object.freeze({ fromAt: s.fromAt, toAt: s.toAt })),
    ) as readonly UnwatchedSpan[] as UnwatchedSpan[];
    sharedOutages.set(key, shared);
  }
  return shared;
}

/** `spans` with `span` appended, keeping the newest `limit`, as a shared list. */
export function withUnwatchedSpan(spans: readonly UnwatchedSpan[], span: UnwatchedSpan, limit: number): UnwatchedSpan[] {
  return shareUnwatched([...spans, span].slice(-limit));
}

/** A fresh state for a debt defined at `at`. */
export function newDebtState(def: DebtDefinition, at: number): DebtState {
  return {
    def,
    createdAt: at,
    updatedAt: at,
    payments: 0,
    paymentsByKind: NO_COUNTS,
    extraRuns: 0,
    occurrencesByOutcome: NO_COUNTS,
    status: def.paused ? 'paused' : 'new',
    statusSince: at,
    lastSuccessAt: null,
    lastDurationMs: null,
    consecutiveFailures: 0,
    lastFailure: null,
    missedDeadlineAt: null,
    open: NO_ITEMS,
    cursorAt: null,
    epochAt: at,
    recent: NO_ITEMS,
    runs: NO_ITEMS,
    unwatched: NO_OUTAGES,
  };
}

/** True when instant `t` fell inside one of compter's own outages: nobody watched it pass. */
export function isUnwatched(state: DebtState, t: number): boolean {
  return state.unwatched.some((s) => t > s.fromAt && t <= s.toAt);
}

function openOccurrence(def: DebtDefinition, slot: Slot, closesAtSlot: number | null): OpenOccurrence {
  const deadline = deadlineOf(slot.at, def);
  return {
    scheduledAt: slot.at,
    businessDate: slot.businessDate,
    deadline,
    closesAt: closesAtSlot === null ? null : Math.max(closesAtSlot, deadline),
    startedAt: null,
  };
}

const DAY_MS = 86_400_000;

/** The UTC date of `ms`; one shared string per day (a ping opens an occurrence, and this was its ISO formatting). */
function utcDate(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  return day >= FIRST_EPOCH_DAY && day <= LAST_EPOCH_DAY ? dateOfEpochDay(day) : new Date(ms).toISOString().slice(0, 10);
}

/** The `every` occurrence due one period after `anchorAt`; its window ends one more period later. */
export function everyOccurrence(def: DebtDefinition, everyMs: number, anchorAt: number): OpenOccurrence {
  const months = def.schedule?.kind === 'every' ? def.schedule.everyMonths : undefined;
  const step = (t: number): number => (months === undefined ? t + everyMs : addUtcMonths(t, months));
  const at = step(anchorAt);
  return openOccurrence(def, { at, businessDate: utcDate(at) }, step(at));
}

/**
 * Opens every slot due at or before `t` that is not open yet. Opening is derived from the
 * schedule, not logged: replaying the log and opening through "now" gives the same list.
 */
export function openThrough(state: DebtState, t: number, ctx: DebtContext, limit = 10_000): void {
  const { def } = state;
  if (def.paused || !def.schedule) return;
  if (def.schedule.kind === 'every') {
    // The chain restarts from the last success (or creation/resume) when nothing is open.
    const anchorAt = Math.max(state.epochAt, state.lastSuccessAt ?? state.epochAt);
    if (state.open.length === 0) state.open = [everyOccurrence(def, def.schedule.everyMs, anchorAt)];
    return;
  }
  const timeline = ctx.timelineFor(def);
  if (!timeline) return;
  let next = timeline.after(state.cursorAt ?? state.epochAt);
  for (let n = 0; next && next.at <= t && n < limit; n++) {
    const following = timeline.after(next.at);
    state.open = own(state.open);
    state.open.push(openOccurrence(def, next, following ? following.at : null));
    state.cursorAt = next.at;
    next = following;
  }
}
