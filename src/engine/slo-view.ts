import type { CalendarDefinition } from '../domain/time/calendar.js';
import type { PerformanceRow } from '../domain/slos/slo-performance.js';
import type { SloDefinition, SloOutcome, SloStatus } from '../domain/slos/slo.js';
import { iso } from './debt-view.js';

/** A performance row as the API shows it (SPEC §4): instants ISO 8601 UTC, lateness in seconds. */
export interface PerformanceRowJson {
  sloId: string;
  businessDate: string;
  slot: string | null;
  expectedStart: string | null;
  expectedEnd: string | null;
  actualStart: string | null;
  actualEnd: string | null;
  status: SloStatus;
  latenessSeconds: number | null;
  predictedEnd: string | null;
}

/** An SLO as the API shows it: its definition, the row it is on now, and its deliveries so far. */
export interface SloJson {
  id: string;
  name: string;
  project: string;
  application: string;
  calendar: string;
  jobs: { application: string; job: string; expectedStart: string | null; expectedEnd: string }[];
  /** Seconds. */
  slack: number;
  within: { cron: string } | null;
  /** Due only on this business day of each month; absent: every business day. */
  businessDay?: number;
  since: string | null;
  created: string;
  updated: string;
  status: SloStatus;
  current: PerformanceRowJson | null;
  deliveries: Record<SloOutcome, number>;
}

/** A calendar as the API shows it: the normalized definition with its project and times. */
export type CalendarJson = CalendarDefinition & { project: string; created: string; updated: string };

/** The JSON of a row. */
export function rowJson(row: PerformanceRow): PerformanceRowJson {
  return {
    sloId: row.sloId,
    businessDate: row.businessDate,
    slot: row.slot,
    expectedStart: iso(row.expectedStart),
    expectedEnd: iso(row.expectedEnd),
    actualStart: iso(row.actualStart),
    actualEnd: iso(row.actualEnd),
    status: row.status,
    latenessSeconds: row.latenessMs === null ? null : row.latenessMs / 1000,
    predictedEnd: iso(row.predictedEnd),
  };
}

/** The JSON of an SLO. */
export function sloJson(
  def: SloDefinition,
  times: { created: number; updated: number },
  current: PerformanceRow | null,
  deliveries: Record<SloOutcome, number>,
): SloJson {
  return {
    id: def.id,
    name: def.name,
    project: def.project,
    application: def.application,
    calendar: def.calendar,
    jobs: def.jobs.map((j) => ({ ...j })),
    slack: def.slackMs / 1000,
    within: def.within ? { ...def.within } : null,
    ...(def.businessDay === undefined ? {} : { businessDay: def.businessDay }),
    since: def.since ?? null,
    created: iso(times.created)!,
    updated: iso(times.updated)!,
    status: current?.status ?? 'pending',
    current: current ? rowJson(current) : null,
    deliveries: { ...deliveries },
  };
}
