import type { DebtDefinition } from '../domain/debts/debt-definition.js';
import type { DebtContext } from '../domain/debts/debt-state.js';
import type { Problem } from '../domain/problems.js';
import type { Timeline } from '../domain/time/schedule.js';
import { timelineOf } from '../domain/time/timeline.js';

/** Business calendars by project (the SLO engine holds them). */
export interface ProjectCalendars {
  isBusinessDay(project: string, calendarId: string, date: string): boolean;
  hasCalendar(project: string, calendarId: string): boolean;
}

/**
 * Builds each definition's timeline once (parsing a cron or rrule is not free) and hands it
 * to the debt logic. Keyed by the definition object: a redefinition gets a fresh timeline.
 */
export class TimelineCache implements DebtContext {
  private readonly cache = new WeakMap<DebtDefinition, Timeline | null>();

  constructor(private readonly calendars?: ProjectCalendars) {}

  /** The timeline of a definition's schedule, or null for none or `every`. */
  timelineFor(def: DebtDefinition): Timeline | null {
    const cached = this.cache.get(def);
    if (cached !== undefined) return cached;
    // Calendars are per project: the lookup closes over the debt's.
    const calendars = this.calendars;
    const lookup = calendars && ((calendarId: string, date: string) => calendars.isBusinessDay(def.project, calendarId, date));
    const timeline = def.schedule ? timelineOf(def.schedule, lookup) : null;
    this.cache.set(def, timeline);
    return timeline;
  }

  /** A problem when the definition's schedule names a calendar its project does not have. */
  calendarProblems(def: DebtDefinition): Problem[] {
    const calendar = def.schedule?.kind === 'rrule' || def.schedule?.kind === 'businessDay' ? def.schedule.calendar : undefined;
    if (calendar === undefined || !this.calendars || this.calendars.hasCalendar(def.project, calendar)) return [];
    return [
      { path: 'schedule.calendar', message: `no calendar "${calendar}" in this project; define it first (PUT /v1/calendars/${calendar})` },
    ];
  }
}
