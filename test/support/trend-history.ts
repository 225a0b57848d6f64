/**
 * Generated job and SLO histories whose trends are known in advance, shaped exactly as
 * docs/events.md describes `job.status` and `slo.closed` rows. Shared by the trend tests of
 * both event stores, so both must give the same answers.
 */
import { randomUUID } from 'node:crypto';
import { BusinessCalendar } from '../../src/domain/time/calendar.js';
import { addDays } from '../../src/domain/time/civil-date.js';
import { decodeEvent, type StoredEventRow, type LogEvent } from '../../src/domain/event.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { businessDateWindow, type IndexedDate } from '../../src/domain/slos/trends.js';
import { wallToInstant } from '../../src/domain/time/zoned-time.js';
import type { TrendInputs, TrendSlo } from '../../src/engine/trend-service.js';
import type { JobKey } from '../../src/store/trend-queries.js';

export const TZ = 'America/New_York';
export const US_CALENDAR = new BusinessCalendar({
  id: 'us-business',
  tz: TZ,
  weekdays: [1, 2, 3, 4, 5],
  holidays: { country: 'US', types: ['public'] },
  extraDates: [],
  excludeDates: [],
  newDayAt: '00:00',
});
/** "Now" for the trend service: Friday 2026-12-11, 15:00 in New York. */
export const NOW = wallToInstant(TZ, '2026-12-11', 15, 0);
export const LAST_DATE = '2026-12-11';
export const WINDOW_SIZE = 30;
/** 30 business dates ending 2026-12-11: back across Thanksgiving (11-26) and the DST change (11-01). */
export const WINDOW: IndexedDate[] = businessDateWindow(US_CALENDAR, LAST_DATE, WINDOW_SIZE);

export const APP = 'deposits';
const MIN = 60_000;

/** `HH:MM+1d` in New York for business date `date`: the instant of that expected end. */
export function nextDayAt(date: string, hour: number, minute = 0): number {
  return wallToInstant(TZ, addDays(date, 1), hour, minute);
}

/** The SLOs of the generated history and each one's deadline rule. */
export const SLO_DEFS: { id: string; expectedEnd: string; hour: number; jobs: string[] }[] = [
  { id: 'overnight', expectedEnd: '03:00+1d', hour: 3, jobs: ['overdraft-calc', 'flat-job', 'already-late', 'new-job', 'partial-job'] },
  { id: 'settlement', expectedEnd: '06:00+1d', hour: 6, jobs: ['settle'] },
  { id: 'early-close', expectedEnd: '07:00+1d', hour: 7, jobs: ['close'] },
  { id: 'flaky', expectedEnd: '08:00+1d', hour: 8, jobs: ['flaky-job'] },
  { id: 'no-data', expectedEnd: '09:00+1d', hour: 9, jobs: ['ghost'] },
];

/** The SLO lateness values of the generated history, seconds (null: never met). */
export const SETTLEMENT_LATENESS: number[] = WINDOW.map((d) => (d.index % 10 === 0 ? -120 : 480 + ((d.index * 37) % 241)));
export const EARLY_CLOSE_LATENESS: number[] = WINDOW.map((d) => -1800 + ((d.index * 13) % 61) - 30);
export const FLAKY_LATENESS: (number | null)[] = [300, 300, null, 300, -60, 300, null, 300, -60, 300];

/** Everything one generated history holds and what its trends must be. */
export class TrendHistory {
  readonly project = `trends-${randomUUID().slice(0, 8)}`;
  readonly events: LogEvent[] = [];
  private readonly ids = new EventIdGenerator();
  private runs = 0;

  constructor() {
    this.build();
  }

  /** The stub of what the SLO engine provides, for the generated SLOs. */
  inputs(): TrendInputs {
    const slos: TrendSlo[] = SLO_DEFS.map((s) => ({
      id: s.id,
      calendar: US_CALENDAR,
      expectedEnd: s.expectedEnd,
      jobs: s.jobs.map((job) => ({ application: APP, job })),
    }));
    return {
      projects: () => [this.project],
      slos: (project) => (project === this.project ? slos : []),
      expectedEndAt: (_project: string, sloId: string, _job: JobKey, date: string) => {
        const def = SLO_DEFS.find((s) => s.id === sloId);
        return def && US_CALENDAR.isBusinessDay(date) ? nextDayAt(date, def.hour) : null;
      },
      defaultCalendar: () => US_CALENDAR,
    };
  }

  private build(): void {
    for (const d of WINDOW) {
      const i = d.index;
      const overnight = nextDayAt(d.date, 3);
      // 60 s slower every business day, ending 50 min before 03:00 on the first: on time
      // exactly at index 50, late from 51 (2027-01-14, past Christmas and New Year).
      const slowDuration = 30 * MIN + i * MIN;
      if (i % 7 === 3) {
        // A run that succeeded with other values earlier the same business date: the later
        // rerun is the one that counts.
        this.run('overdraft-calc', d.date, overnight - 60 * MIN, 5 * 60 * MIN, overnight);
        this.failedRun('overdraft-calc', d.date, overnight - 55 * MIN, 2 * 60 * MIN);
      }
      this.run('overdraft-calc', d.date, overnight - 50 * MIN + i * MIN, slowDuration, overnight);
      // Flat: ±30 s around 20 min, ending two hours early.
      const wobble = (i % 2 === 0 ? -30 : 30) * 1000;
      this.run('flat-job', d.date, overnight - 120 * MIN + wobble, 20 * MIN + wobble, overnight);
      // On time until index 10, late from 11 on: a breach inside the window.
      this.run('already-late', d.date, overnight - 10 * MIN + i * MIN, 40 * MIN + i * MIN, overnight);
      // Only the last five business dates: too little history.
      if (i >= WINDOW_SIZE - 5) this.run('new-job', d.date, overnight - 60 * MIN + i * 5 * MIN, 10 * MIN + i * 5 * MIN, overnight);
      // Twelve dates; on one the latest success has no known duration.
      if (i < 12) {
        if (i === 5) {
          this.run('partial-job', d.date, overnight - 90 * MIN, 7 * MIN, overnight);
          this.run('partial-job', d.date, overnight - 80 * MIN, null, overnight);
        } else {
          this.run('partial-job', d.date, overnight - 90 * MIN, (10 + i) * MIN, overnight);
        }
      }
      // Settlement's job: late 8-12 minutes on 27 of 30 dates.
      const settle = nextDayAt(d.date, 6);
      this.run('settle', d.date, settle + SETTLEMENT_LATENESS[i]! * 1000, 45 * MIN, settle);
      if (i === 0) this.sloClosed('settlement', d.date, 'failed', null, settle + 60 * MIN);
      const settlementLateness = SETTLEMENT_LATENESS[i]!;
      this.sloClosed('settlement', d.date, settlementLateness > 0 ? 'late' : 'on_time', settlementLateness, settle + 90 * MIN);
      const close = nextDayAt(d.date, 7);
      this.sloClosed('early-close', d.date, 'on_time', EARLY_CLOSE_LATENESS[i]!, close);
      if (i < FLAKY_LATENESS.length) {
        const lateness = FLAKY_LATENESS[i]!;
        this.sloClosed('flaky', d.date, lateness === null ? 'missed' : lateness > 0 ? 'late' : 'on_time', lateness, nextDayAt(d.date, 9));
      }
      if (i < 20) this.maintainedRows(d.date, i);
      // An SLO repeating within the day: two slots per business date, both met early.
      for (const slot of ['10:10', '10:40']) {
        this.sloClosed('slotted', d.date, 'on_time', -30, wallToInstant(TZ, d.date, 11, 0), slot);
      }
    }
    this.noise();
  }

  /**
   * `maintained`: 20 dates, 5 of them excused by a maintenance window (the latest closing of
   * each decides: date 0 closed late, then excused; date 5 excused, then on time). Of the 15
   * left, 12 are on time 60 s early and 3 late by 120 s: ratio 0.8, median -60 s, early share
   * 0.8. Counting the excused rows would give ratio 0.6.
   */
  private maintainedRows(date: string, i: number): void {
    const due = nextDayAt(date, 5);
    if (i === 0) this.sloClosed('maintained', date, 'late', 600, due + 10 * MIN);
    if (i === 5) this.sloClosed('maintained', date, 'excused', 3600, due + 60 * MIN);
    if (i % 4 === 0) this.sloClosed('maintained', date, 'excused', 3600, due + 61 * MIN);
    else if (i <= 3) this.sloClosed('maintained', date, 'late', 120, due + 2 * MIN);
    else this.sloClosed('maintained', date, 'on_time', -60, due + 62 * MIN);
  }

  /** Rows every trend query must ignore. */
  private noise(): void {
    const before = US_CALENDAR.previousBusinessDay(WINDOW[0]!.date)!;
    // Before the window: a huge run and a late close that would skew every answer.
    this.run('overdraft-calc', before, nextDayAt(before, 9), 20 * 60 * MIN, nextDayAt(before, 3));
    this.sloClosed('settlement', before, 'late', 99_999, nextDayAt(before, 9));
    for (const d of WINDOW.slice(-3)) {
      const ts = nextDayAt(d.date, 4);
      // Other statuses and other event types with durations.
      this.push({ type: 'job.status', application: APP, job: 'overdraft-calc', status: 'start', businessDate: d.date, ts });
      this.push({
        type: 'job.status',
        application: APP,
        job: 'overdraft-calc',
        status: 'fail',
        businessDate: d.date,
        ts,
        durationMs: 9 * 60 * MIN,
      });
      this.push({
        type: 'payment',
        debt: 'nightly',
        kind: 'success',
        businessDate: d.date,
        ts,
        durationMs: 9 * 60 * MIN,
        latenessMs: 9 * 60 * MIN,
      });
      this.push({
        type: 'occurrence.closed',
        debt: 'nightly',
        status: 'paid_late',
        businessDate: d.date,
        ts,
        durationMs: 1,
        latenessMs: 9 * 60 * MIN,
      });
    }
  }

  /** A start and a succeed of one run, as the job-status feed reports them. */
  private run(job: string, date: string, endMs: number, durationMs: number | null, deadlineMs: number): void {
    const runId = `r-${++this.runs}`;
    if (durationMs !== null)
      this.push({ type: 'job.status', application: APP, job, status: 'start', runId, businessDate: date, ts: endMs - durationMs });
    this.push({
      type: 'job.status',
      application: APP,
      job,
      status: 'succeed',
      runId,
      host: 'batch-07',
      businessDate: date,
      ts: endMs,
      durationMs,
      latenessMs: endMs - deadlineMs,
      attributes: { expectedEnd: deadlineMs },
    });
  }

  private failedRun(job: string, date: string, endMs: number, durationMs: number): void {
    const runId = `r-${++this.runs}`;
    this.push({ type: 'job.status', application: APP, job, status: 'start', runId, businessDate: date, ts: endMs - durationMs });
    this.push({ type: 'job.status', application: APP, job, status: 'fail', runId, businessDate: date, ts: endMs, durationMs });
  }

  private sloClosed(slo: string, date: string, status: string, latenessSeconds: number | null, closedAt: number, slot = ''): void {
    this.push({
      type: 'slo.closed',
      slo,
      application: APP,
      status,
      businessDate: date,
      ts: closedAt,
      latenessMs: latenessSeconds === null ? null : latenessSeconds * 1000,
      attributes: { slot, expectedStart: null, expectedEnd: null, actualStart: null, actualEnd: null },
    });
  }

  private push(fields: Partial<StoredEventRow> & Pick<StoredEventRow, 'type' | 'ts'>): void {
    this.events.push(
      decodeEvent({
        eventId: this.ids.next(fields.ts),
        project: this.project,
        debt: '',
        application: '',
        job: '',
        slo: '',
        ingestedAt: fields.ts,
        kind: '',
        status: '',
        runId: '',
        host: '',
        businessDate: '',
        durationMs: null,
        latenessMs: null,
        attributes: {},
        ...fields,
      }),
    );
  }
}

/** Linear-interpolation percentile, written out here so the tests do not reuse the code under test. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}
