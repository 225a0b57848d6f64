/**
 * The definitions half of the SLO engine: business calendars and SLO definitions per project,
 * which SLOs include which job, and each SLO's parsed times. It folds `calendar.defined`,
 * `slo.defined` and `slo.deleted`; it decides nothing and writes nothing.
 */
import { cycleProblem } from '../domain/dependency-cycles.js';
import { BusinessCalendar, type CalendarDefinition } from '../domain/time/calendar.js';
import type { CalendarDefinedEvent, SloDefinedEvent, SloDeletedEvent } from '../domain/event.js';
import { DomainError } from '../domain/problems.js';
import { sloCalendarEntry } from '../domain/slos/slo-business-day.js';
import { compileSlo, type CompiledSlo, type RowExpectation } from '../domain/slos/slo-expectations.js';
import type { SloClosedStatus, SloDefinition, SloOutcome } from '../domain/slos/slo.js';
import type { CalendarJson } from './slo-view.js';

export interface CalendarEntry {
  project: string;
  def: CalendarDefinition;
  calendar: BusinessCalendar;
  created: number;
  updated: number;
}

/** A row as its `slo.closed` event recorded it. */
export interface ClosedRow {
  businessDate: string;
  slot: string | null;
  status: SloClosedStatus;
  expectedStart: number | null;
  expectedEnd: number;
  actualStart: number | null;
  actualEnd: number | null;
  latenessMs: number | null;
  closedAt: number;
}

export interface SloState {
  def: SloDefinition;
  created: number;
  updated: number;
  /** Rows whose expectedEnd is before this are not the SLO's (it did not exist yet). */
  startsAt: number;
  /** The first business date with a row; set once the calendar is known. */
  firstDate: string | null;
  /**
   * The first business date of the history the definition found in the job-status log (or its
   * `since`): every row from it on is the SLO's, whenever it was defined. Null: rows start when
   * the SLO was defined.
   */
  historyFrom: string | null;
  /** Id of the `slo.defined` event of the definition the rows belong to; older `slo.closed` events are not its rows. */
  generation: string | null;
  /** The earliest business date that may still have an open row; every row before it is closed. */
  cursor: string | null;
  /** Row key → closed row: every closed row from the cursor on, and the most recent others. */
  closed: Map<string, ClosedRow>;
  /** Closings by outcome; excused rows are no deliveries and are not counted. */
  deliveries: Record<SloOutcome, number>;
  /** Lateness of the latest delivered (met, not excused) row. */
  lastLatenessMs: number | null;
}

/** What a computation about one SLO needs beside its state: its calendar and parsed times. */
export interface SloContext {
  entry: CalendarEntry;
  compiled: CompiledSlo;
  /** Business date → its rows (before the startsAt filter). */
  rows: Map<string, RowExpectation[]>;
}

/** Key of a calendar or an SLO within its project. */
export function keyOf(project: string, id: string): string {
  return `${project}\u0000${id}`;
}

/** Key of a job, which (application, job) names within its project. */
export function jobKeyOf(project: string, application: string, job: string): string {
  return `${project}\u0000${application}\u0000${job}`;
}

/** Key of a row within its SLO: the business date, and the slot for an SLO that repeats within the day. */
export function rowKeyOf(businessDate: string, slot: string | null): string {
  return slot === null ? businessDate : `${businessDate} ${slot}`;
}

/** Zero deliveries of every outcome. */
export function emptyDeliveries(): Record<SloOutcome, number> {
  return { on_time: 0, late: 0, missed: 0, failed: 0 };
}

/** A business date's rows before the startsAt filter, memoized per SLO context. */
export function expectationsOn(ctx: SloContext, date: string): RowExpectation[] {
  let rows = ctx.rows.get(date);
  if (!rows) {
    rows = ctx.compiled.rowsOn(ctx.entry.def.tz, date);
    if (ctx.rows.size >= 1000) ctx.rows.clear();
    ctx.rows.set(date, rows);
  }
  return rows;
}

/** Calendars and SLO definitions as the log defined them, with the indexes the engine reads them by. */
export class SloDefinitions {
  readonly calendars = new Map<string, CalendarEntry>();
  readonly slos = new Map<string, SloState>();
  /** job key → keys of the SLOs that include it. */
  readonly slosByJob = new Map<string, Set<string>>();
  /** SLO key → keys of the SLOs that name it in `after` (defined or not). */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly contexts = new Map<string, SloContext>();

  /** Folds a `calendar.defined` event. */
  applyCalendar(event: CalendarDefinedEvent): void {
    const def = event.attributes.definition;
    const key = keyOf(event.project, def.id);
    const existing = this.calendars.get(key);
    this.calendars.set(key, {
      project: event.project,
      def,
      calendar: new BusinessCalendar(def),
      created: existing?.created ?? event.ts,
      updated: event.ts,
    });
  }

  /** Restores a calendar from a snapshot. */
  restoreCalendar(project: string, def: CalendarDefinition, created: number, updated: number): void {
    this.calendars.set(keyOf(project, def.id), { project, def, calendar: new BusinessCalendar(def), created, updated });
  }

  /**
   * Folds a `slo.defined` event; returns the SLO's state. An event that carries `historyFrom`
   * starts the rows afresh: the `slo.closed` events after it are the recomputed rows.
   */
  applySloDefined(event: SloDefinedEvent): SloState {
    const def = event.attributes.definition;
    const historyFrom = event.attributes.historyFrom;
    const isRecomputed = historyFrom !== undefined;
    const key = keyOf(event.project, def.id);
    let state = this.slos.get(key);
    if (state) {
      this.indexSloJobs(state.def, false);
      this.indexUpstreams(state.def, false);
      state.def = def;
      state.updated = event.ts;
      if (isRecomputed) {
        state.historyFrom = typeof historyFrom === 'string' ? historyFrom : null;
        state.generation = event.eventId;
        state.firstDate = null;
        state.cursor = null;
        state.closed = new Map();
        state.deliveries = emptyDeliveries();
        state.lastLatenessMs = null;
      }
    } else {
      state = {
        def,
        created: event.ts,
        updated: event.ts,
        startsAt: event.ts,
        firstDate: null,
        historyFrom: typeof historyFrom === 'string' ? historyFrom : null,
        generation: isRecomputed ? event.eventId : null,
        cursor: null,
        closed: new Map(),
        deliveries: emptyDeliveries(),
        lastLatenessMs: null,
      };
      this.slos.set(key, state);
    }
    this.indexSloJobs(def, true);
    this.indexUpstreams(def, true);
    return state;
  }

  /** Restores an SLO from a snapshot. */
  restoreSlo(state: SloState): void {
    // Snapshots taken before the history existed lack its fields.
    state.historyFrom ??= null;
    state.generation ??= null;
    this.slos.set(keyOf(state.def.project, state.def.id), state);
    this.indexSloJobs(state.def, true);
    this.indexUpstreams(state.def, true);
  }

  /** Folds a `slo.deleted` event; false when the SLO was not known. */
  applySloDeleted(event: SloDeletedEvent): boolean {
    const key = keyOf(event.project, event.slo);
    const state = this.slos.get(key);
    if (!state) return false;
    this.indexSloJobs(state.def, false);
    this.indexUpstreams(state.def, false);
    this.slos.delete(key);
    this.contexts.delete(key);
    return true;
  }

  /** The SLO's calendar and parsed times, or null while its calendar is missing. */
  contextOf(state: SloState): SloContext | null {
    const found = this.calendars.get(keyOf(state.def.project, state.def.calendar));
    if (!found) return null;
    const entry = sloCalendarEntry(found, state.def.businessDay);
    const key = keyOf(state.def.project, state.def.id);
    let ctx = this.contexts.get(key);
    if (!ctx || ctx.entry !== entry || ctx.compiled.def !== state.def) {
      ctx = { entry, compiled: compileSlo(state.def), rows: new Map() };
      this.contexts.set(key, ctx);
    }
    return ctx;
  }

  /** Keys of the SLOs that include the job. */
  slosOfJob(jobKey: string): Iterable<string> {
    return this.slosByJob.get(jobKey) ?? [];
  }

  /**
   * The SLOs whose rows wait for one of `states` (`after`), directly or down a chain, in the
   * order found and none of `states` themselves: what must be looked at again when those change.
   */
  dependentsOf(states: Iterable<SloState>): SloState[] {
    const seen = new Set<string>();
    const queue: string[] = [];
    for (const state of states) {
      const key = keyOf(state.def.project, state.def.id);
      seen.add(key);
      queue.push(key);
    }
    const out: SloState[] = [];
    while (queue.length > 0) {
      for (const key of this.dependents.get(queue.shift()!) ?? []) {
        if (seen.has(key)) continue;
        seen.add(key);
        queue.push(key);
        const state = this.slos.get(key);
        if (state) out.push(state);
      }
    }
    return out;
  }

  /**
   * A problem naming the cycle when `def`'s upstreams (`after`) lead back to it through the SLOs
   * defined now, else undefined.
   */
  cycleProblem(def: SloDefinition): { path: string; message: string } | undefined {
    return cycleProblem(def.id, (id) => (id === def.id ? (def.after ?? []) : (this.slos.get(keyOf(def.project, id))?.def.after ?? [])));
  }

  /** The calendar, or not_found. */
  requireCalendar(project: string, id: string): CalendarEntry {
    const entry = this.calendars.get(keyOf(project, id));
    if (!entry) throw new DomainError('not_found', `no calendar "${id}"`);
    return entry;
  }

  /** The SLO, or not_found. */
  requireSlo(project: string, id: string): SloState {
    const state = this.slos.get(keyOf(project, id));
    if (!state) throw new DomainError('not_found', `no SLO "${id}"`);
    return state;
  }

  private indexUpstreams(def: SloDefinition, add: boolean): void {
    const sloKey = keyOf(def.project, def.id);
    for (const upstream of def.after ?? []) {
      const key = keyOf(def.project, upstream);
      let set = this.dependents.get(key);
      if (add) {
        if (!set) this.dependents.set(key, (set = new Set()));
        set.add(sloKey);
      } else if (set) {
        set.delete(sloKey);
        if (set.size === 0) this.dependents.delete(key);
      }
    }
  }

  private indexSloJobs(def: SloDefinition, add: boolean): void {
    const sloKey = keyOf(def.project, def.id);
    for (const j of def.jobs) {
      const jobKey = jobKeyOf(def.project, j.application, j.job);
      let set = this.slosByJob.get(jobKey);
      if (add) {
        if (!set) this.slosByJob.set(jobKey, (set = new Set()));
        set.add(sloKey);
      } else if (set) {
        set.delete(sloKey);
        if (set.size === 0) this.slosByJob.delete(jobKey);
      }
    }
  }
}

/** A calendar as the API shows it. */
export function calendarJson(entry: CalendarEntry): CalendarJson {
  return {
    ...entry.def,
    project: entry.project,
    created: new Date(entry.created).toISOString(),
    updated: new Date(entry.updated).toISOString(),
  };
}
