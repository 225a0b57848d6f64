/**
 * A debt's ledger: its closed occurrences (from the log), the open ones (from its state) and the
 * upcoming ones (from its schedule), each closed one with the extra runs that ended in it.
 */
import type { DebtContext, DebtState } from '../domain/debts/debt-state.js';
import { deadlineOf } from '../domain/debts/deadline.js';
import type { EventStore } from '../store/event-store.js';
import { iso, openOccurrenceJson, type ExtraRunJson, type OccurrenceJson } from './debt-view.js';

/** What a ledger reads: the log, the debt's timelines, and the time it is asked at. */
export interface LedgerDeps {
  store: EventStore;
  ctx: DebtContext;
  now: number;
}

// A run may close its occurrence weeks after it was scheduled (a late payment, a long outage).
const CLOSE_LAG_MS = 40 * 86_400_000;
const MAX_EVENTS = 10_000;
const MAX_UPCOMING = 1000;

/** Closed, current and upcoming occurrences with a scheduled time in [from, to], in that order. */
export async function ledgerOf(state: DebtState, deps: LedgerDeps, from: number, to: number): Promise<OccurrenceJson[]> {
  const { project, id } = state.def;
  const closedEvents = await deps.store.query({
    project,
    debt: id,
    types: ['occurrence.closed'],
    fromTs: from,
    toTs: to + CLOSE_LAG_MS,
    limit: MAX_EVENTS,
    order: 'asc',
  });
  const extraRuns = await extraRunsByOccurrence(deps.store, project, id, from, to);
  const out: OccurrenceJson[] = [];
  for (const e of closedEvents) {
    if (e.type !== 'occurrence.closed') continue;
    const { scheduledAt, deadline } = e.attributes;
    if (scheduledAt < from || scheduledAt > to) continue;
    const paidAt = e.attributes.paidAt ?? null;
    out.push({
      scheduledAt: iso(scheduledAt)!,
      deadline: iso(deadline)!,
      businessDate: e.businessDate,
      outcome: e.status,
      startedAt: paidAt !== null && e.durationMs !== null ? iso(paidAt - e.durationMs) : null,
      paidAt: iso(paidAt),
      runId: e.runId || null,
      durationSeconds: e.durationMs === null ? null : e.durationMs / 1000,
      latenessSeconds: e.latenessMs === null ? null : e.latenessMs / 1000,
      extraRuns: extraRuns.get(scheduledAt) ?? [],
    });
  }
  for (const occ of state.open) {
    if (occ.scheduledAt >= from && occ.scheduledAt <= to) out.push(openOccurrenceJson(state, occ, deps.now));
  }
  out.push(...upcoming(state, deps.ctx, Math.max(from, deps.now), to));
  return out;
}

/** The extra runs recorded for occurrences scheduled in [from, to], by scheduled time. */
async function extraRunsByOccurrence(
  store: EventStore,
  project: string,
  id: string,
  from: number,
  to: number,
): Promise<Map<number, ExtraRunJson[]>> {
  const payments = await store.query({
    project,
    debt: id,
    types: ['payment'],
    fromTs: from,
    toTs: to + CLOSE_LAG_MS,
    limit: MAX_EVENTS,
    order: 'asc',
  });
  const byOccurrence = new Map<number, ExtraRunJson[]>();
  for (const e of payments) {
    if (e.type !== 'payment' || (e.kind !== 'success' && e.kind !== 'fail')) continue;
    const { occurrenceAt, isExtraRun } = e.attributes;
    if (isExtraRun !== true || occurrenceAt == null || occurrenceAt < from || occurrenceAt > to) continue;
    const runs = byOccurrence.get(occurrenceAt) ?? [];
    runs.push({
      endedAt: iso(e.ts)!,
      kind: e.kind,
      runId: e.runId || null,
      durationSeconds: e.durationMs === null ? null : e.durationMs / 1000,
    });
    byOccurrence.set(occurrenceAt, runs);
  }
  return byOccurrence;
}

/** The slots the schedule still has in [from, to] after the ones already open. */
function upcoming(state: DebtState, ctx: DebtContext, from: number, to: number): OccurrenceJson[] {
  const { def } = state;
  if (def.paused || !def.schedule || def.schedule.kind === 'every') return [];
  const timeline = ctx.timelineFor(def);
  const lastOpen = state.open.at(-1)?.scheduledAt ?? state.cursorAt ?? state.epochAt;
  const out: OccurrenceJson[] = [];
  let slot = timeline?.after(Math.max(lastOpen, from - 1));
  for (let n = 0; slot && slot.at <= to && n < MAX_UPCOMING; n++) {
    out.push({
      scheduledAt: iso(slot.at)!,
      deadline: iso(deadlineOf(slot.at, def))!,
      businessDate: slot.businessDate,
      outcome: 'upcoming',
      startedAt: null,
      paidAt: null,
      runId: null,
      durationSeconds: null,
      latenessSeconds: null,
      extraRuns: [],
    });
    slot = timeline!.after(slot.at);
  }
  return out;
}
