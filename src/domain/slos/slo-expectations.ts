/**
 * When an SLO expects its jobs, as instants, for one business date (and slot). Wall times go
 * through the zone database once per row: "03:00+1d" is 03:00 on the calendar day after the
 * business date in the calendar's zone — never the business date's instant plus 86,400 s, which
 * is an hour off across a DST change. A nonexistent local time resolves to the end of the gap, an
 * ambiguous one to its first instance (`wallToInstant`).
 */
import { addDays } from '../time/civil-date.js';
import { parseSlotOffset, withinSlotTimes, type SloDefinition, type WithinSlotTime } from './slo.js';
import { parseDayOffsetTime, wallToInstant, type DayOffsetTime } from '../time/zoned-time.js';

/** One job's expected start (null when the SLO gives none) and end, epoch ms. */
export interface JobExpectation {
  application: string;
  job: string;
  expectedStart: number | null;
  expectedEnd: number;
}

/** One performance row's expectations: the earliest start and the latest end over its jobs. */
export interface RowExpectation {
  businessDate: string;
  /** `HH:MM` of the slot for `within` SLOs, null for whole-day ones. */
  slot: string | null;
  /** The slot's own instant (`within`), or null. */
  slotAt: number | null;
  expectedStart: number | null;
  expectedEnd: number;
  /**
   * When the row begins: its expectedStart; without one, midnight of the business date (whole
   * day, first slot) or just after the previous slot's expectedEnd. Runs of a `within` SLO are
   * attributed to slots by these instants (see `attributeRuns`).
   */
  opensAt: number;
  jobs: JobExpectation[];
}

/** An SLO's times parsed once; `rowsOn` is called for every date a question touches. */
export interface CompiledSlo {
  readonly def: SloDefinition;
  /** The rows of a business date in slot order (one for a whole-day SLO). */
  rowsOn(tz: string, businessDate: string): RowExpectation[];
}

/** Parses an SLO's times (the definition must be valid: `normalizeSloInput` accepted it). */
export function compileSlo(def: SloDefinition): CompiledSlo {
  if (def.within) {
    const slots = withinSlotTimes(def.within.cron);
    const offsets = def.jobs.map((j) => ({
      startMs: j.expectedStart === null ? null : parseSlotOffset(j.expectedStart),
      endMs: parseSlotOffset(j.expectedEnd),
    }));
    return { def, rowsOn: (tz, date) => withinRows(def, slots, offsets, tz, date) };
  }
  const times: { start: DayOffsetTime | null; end: DayOffsetTime }[] = def.jobs.map((j) => ({
    start: j.expectedStart === null ? null : parseDayOffsetTime(j.expectedStart),
    end: parseDayOffsetTime(j.expectedEnd),
  }));
  return {
    def,
    rowsOn(tz, date) {
      const jobs = def.jobs.map((j, i) => {
        const t = times[i]!;
        return {
          application: j.application,
          job: j.job,
          expectedStart: t.start === null ? null : dayOffsetInstant(tz, date, t.start),
          expectedEnd: dayOffsetInstant(tz, date, t.end),
        };
      });
      return [rowOf(date, null, null, jobs, wallToInstant(tz, date, 0, 0))];
    },
  };
}

/** The instant of `HH:MM+Nd` for a business date in zone `tz`: the wall time N calendar days later. */
export function dayOffsetInstant(tz: string, businessDate: string, time: DayOffsetTime): number {
  return wallToInstant(tz, addDays(businessDate, time.dayOffset), time.hour, time.minute);
}

function withinRows(
  def: SloDefinition,
  slots: WithinSlotTime[],
  offsets: { startMs: number | null; endMs: number }[],
  tz: string,
  date: string,
): RowExpectation[] {
  const rows: RowExpectation[] = [];
  let previousAt = -Infinity;
  let previousEnd: number | null = null;
  for (const slot of slots) {
    const at = wallToInstant(tz, date, slot.hour, slot.minute, slot.second);
    // Several wall times in a spring-forward gap resolve to the same instant: like a cron
    // slot, it falls due once (under the first of them).
    if (at === previousAt) continue;
    previousAt = at;
    const jobs = def.jobs.map((j, i) => ({
      application: j.application,
      job: j.job,
      expectedStart: offsets[i]!.startMs === null ? null : at + offsets[i]!.startMs,
      expectedEnd: at + offsets[i]!.endMs,
    }));
    const row = rowOf(date, slot.label, at, jobs, previousEnd === null ? wallToInstant(tz, date, 0, 0) : previousEnd + 1);
    rows.push(row);
    previousEnd = row.expectedEnd;
  }
  return rows;
}

function rowOf(
  businessDate: string,
  slot: string | null,
  slotAt: number | null,
  jobs: JobExpectation[],
  defaultOpensAt: number,
): RowExpectation {
  let expectedStart: number | null = null;
  let expectedEnd = -Infinity;
  for (const j of jobs) {
    if (j.expectedStart !== null && (expectedStart === null || j.expectedStart < expectedStart)) expectedStart = j.expectedStart;
    if (j.expectedEnd > expectedEnd) expectedEnd = j.expectedEnd;
  }
  return { businessDate, slot, slotAt, expectedStart, expectedEnd, opensAt: expectedStart ?? defaultOpensAt, jobs };
}
