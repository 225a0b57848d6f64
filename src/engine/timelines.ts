import type { DebtDefinition } from '../domain/debt-definition.js';
import type { DebtContext } from '../domain/debt-state.js';
import type { BusinessDayLookup, Timeline } from '../domain/schedule.js';
import { timelineOf } from '../domain/timeline.js';

/**
 * Builds each definition's timeline once (parsing a cron or rrule is not free) and hands it
 * to the debt logic. Keyed by the definition object: a redefinition gets a fresh timeline.
 */
export class TimelineCache implements DebtContext {
  private readonly cache = new WeakMap<DebtDefinition, Timeline | null>();

  constructor(private readonly isBusinessDay?: BusinessDayLookup) {}

  /** The timeline of a definition's schedule, or null for none or `every`. */
  timelineFor(def: DebtDefinition): Timeline | null {
    const cached = this.cache.get(def);
    if (cached !== undefined) return cached;
    const timeline = def.schedule ? timelineOf(def.schedule, this.isBusinessDay) : null;
    this.cache.set(def, timeline);
    return timeline;
  }
}
