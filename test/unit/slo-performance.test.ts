import { describe, expect, it } from 'vitest';
import { compileSlo, type RowExpectation } from '../../src/domain/slos/slo-expectations.js';
import { attributeRuns, computeRow, nextChangeAt, notScheduledRow, p90, type JobRun } from '../../src/domain/slos/slo-performance.js';
import { normalizeSloInput } from '../../src/domain/slos/slo.js';

const T = (s: string): number => Date.parse(s);
const MIN = 60_000;
const HOUR = 60 * MIN;

// The decision-support load of business date 2026-11-24 (New York, EST): expected 02:00–05:00
// local, i.e. 07:00Z–10:00Z; slack 30 minutes.
const START = T('2026-11-24T07:00:00Z');
const END = T('2026-11-24T10:00:00Z');
const SLACK = 30 * MIN;

function expectation(jobs = ['dss-load']): RowExpectation {
  return {
    businessDate: '2026-11-24',
    slot: null,
    slotAt: null,
    expectedStart: START,
    expectedEnd: END,
    opensAt: START,
    jobs: jobs.map((job) => ({ application: 'deposits', job, expectedStart: START, expectedEnd: END })),
  };
}

function run(runId: string, startedAt: number | null, endedAt: number | null = null, outcome: JobRun['outcome'] = null): JobRun {
  return { runId, startedAt, endedAt, outcome };
}

/** The row of one job with `runs` at `now`, p90 of its durations `p90Ms`. */
function rowAt(now: number, runs: JobRun[], p90Ms: number | null = null) {
  return computeRow({ sloId: 'dss', expectation: expectation(), slackMs: SLACK, jobs: [{ runs, p90DurationMs: p90Ms }], now });
}

describe('computeRow: every row status', () => {
  it('pending: nothing reported yet', () => {
    const row = rowAt(START - HOUR, []);
    expect(row).toMatchObject({
      status: 'pending',
      actualStart: null,
      actualEnd: null,
      latenessMs: null,
      predictedEnd: null,
      isFinal: false,
      hasBegun: false,
    });
  });

  it('running: a run started', () => {
    expect(rowAt(START + 10 * MIN, [run('r1', START + 5 * MIN)])).toMatchObject({
      status: 'running',
      actualStart: START + 5 * MIN,
      isFinal: false,
    });
  });

  it('at_risk: the p90 of recent durations puts the end after expectedEnd', () => {
    // Started 02:30 local; it usually takes up to 3 h: predicted 05:30 > 05:00.
    const started = START + 30 * MIN;
    expect(rowAt(START + 40 * MIN, [run('r1', started)], 3 * HOUR)).toMatchObject({ status: 'at_risk', predictedEnd: started + 3 * HOUR });
    // With a p90 of 2 h the same run is fine.
    expect(rowAt(START + 40 * MIN, [run('r1', started)], 2 * HOUR)).toMatchObject({ status: 'running', predictedEnd: started + 2 * HOUR });
  });

  it('at_risk: a job that has not started cannot make it by its p90 any more', () => {
    // p90 2 h: it must start by 03:00 local (08:00Z).
    expect(rowAt(T('2026-11-24T07:59:00Z'), [], 2 * HOUR)).toMatchObject({ status: 'pending', predictedEnd: T('2026-11-24T09:59:00Z') });
    expect(rowAt(T('2026-11-24T08:01:00Z'), [], 2 * HOUR)).toMatchObject({ status: 'at_risk', predictedEnd: T('2026-11-24T10:01:00Z') });
  });

  it('not at_risk before the row begins, even when its window is shorter than the p90', () => {
    expect(rowAt(START - HOUR, [], 4 * HOUR)).toMatchObject({ status: 'pending', hasBegun: false, predictedEnd: START + 4 * HOUR });
  });

  it('at_risk: a required job failed and was not rerun (before the deadline)', () => {
    expect(rowAt(START + HOUR, [run('r1', START, START + 30 * MIN, 'fail')])).toMatchObject({ status: 'at_risk', isFinal: false });
  });

  it('on_time: met by the deadline; lateness negative when early', () => {
    const row = rowAt(END - 5 * MIN, [run('r1', START, END - 10 * MIN, 'succeed')]);
    expect(row).toMatchObject({
      status: 'on_time',
      actualStart: START,
      actualEnd: END - 10 * MIN,
      latenessMs: -10 * MIN,
      predictedEnd: END - 10 * MIN,
      isFinal: true,
    });
  });

  it('on_time: a success exactly at the deadline', () => {
    expect(rowAt(END, [run('r1', START, END, 'succeed')])).toMatchObject({ status: 'on_time', latenessMs: 0 });
  });

  it('late: the deadline passed and not all jobs succeeded yet (open)', () => {
    expect(rowAt(END + 1, [run('r1', START)])).toMatchObject({ status: 'late', isFinal: false, latenessMs: null });
  });

  it('late: met, but after the deadline (closed)', () => {
    expect(rowAt(END + 20 * MIN, [run('r1', START, END + 20 * MIN, 'succeed')])).toMatchObject({
      status: 'late',
      latenessMs: 20 * MIN,
      isFinal: true,
    });
  });

  it('missed: still unmet when the slack ran out', () => {
    expect(rowAt(END + SLACK, [])).toMatchObject({ status: 'late', isFinal: false });
    expect(rowAt(END + SLACK + 1, [])).toMatchObject({ status: 'missed', isFinal: true, actualEnd: null, latenessMs: null });
  });

  it('missed: a success reported only after the slack ran out does not make it late', () => {
    expect(rowAt(END + SLACK + MIN, [run('r1', START, END + SLACK + MIN, 'succeed')])).toMatchObject({
      status: 'missed',
      isFinal: true,
      latenessMs: SLACK + MIN,
    });
    expect(rowAt(END + SLACK + MIN, [run('r1', START, END + SLACK, 'succeed')])).toMatchObject({ status: 'late', isFinal: true });
  });

  it('failed: the latest run failed and the row is not met; final when the slack ran out', () => {
    const failedRun = run('r1', START, START + HOUR, 'fail');
    expect(rowAt(END + 1, [failedRun])).toMatchObject({ status: 'failed', isFinal: false });
    expect(rowAt(END + SLACK + 1, [failedRun])).toMatchObject({ status: 'failed', isFinal: true });
  });

  it('a rerun with a new run id replaces the failure', () => {
    const failedRun = run('r1', START, START + 30 * MIN, 'fail');
    expect(rowAt(START + 40 * MIN, [failedRun, run('r2', START + 35 * MIN)])).toMatchObject({ status: 'running' });
    const met = rowAt(START + 2 * HOUR, [failedRun, run('r2', START + 35 * MIN, START + 2 * HOUR, 'succeed')]);
    expect(met).toMatchObject({ status: 'on_time', actualStart: START, actualEnd: START + 2 * HOUR, isFinal: true });
  });

  it('not_scheduled: a date that is not a business day', () => {
    expect(notScheduledRow('dss', '2026-11-26')).toEqual({
      sloId: 'dss',
      businessDate: '2026-11-26',
      slot: null,
      expectedStart: null,
      expectedEnd: null,
      actualStart: null,
      actualEnd: null,
      status: 'not_scheduled',
      latenessMs: null,
      predictedEnd: null,
    });
  });

  it('several jobs: met when every one succeeded; actualEnd is the latest success, actualStart the earliest start', () => {
    const exp = expectation(['extract', 'load']);
    const extract = [run('e1', START - 10 * MIN, START + HOUR, 'succeed')];
    const half = computeRow({
      sloId: 's',
      expectation: exp,
      slackMs: SLACK,
      jobs: [
        { runs: extract, p90DurationMs: null },
        { runs: [], p90DurationMs: null },
      ],
      now: START + HOUR,
    });
    expect(half).toMatchObject({ status: 'running', actualStart: START - 10 * MIN, actualEnd: null, predictedEnd: null });
    const both = computeRow({
      sloId: 's',
      expectation: exp,
      slackMs: SLACK,
      jobs: [
        { runs: extract, p90DurationMs: null },
        { runs: [run('l1', START + HOUR, END + MIN, 'succeed')], p90DurationMs: null },
      ],
      now: END + MIN,
    });
    expect(both).toMatchObject({ status: 'late', actualStart: START - 10 * MIN, actualEnd: END + MIN, latenessMs: MIN, isFinal: true });
  });

  it('a run that reported only its success counts from its end', () => {
    expect(rowAt(END, [run('r1', null, END - MIN, 'succeed')])).toMatchObject({
      status: 'on_time',
      actualStart: END - MIN,
      actualEnd: END - MIN,
    });
  });
});

describe('computeRow: maintenance windows and upstream rows', () => {
  const input = (now: number, runs: JobRun[], extra: Record<string, unknown>, p90Ms: number | null = HOUR) => ({
    sloId: 'dss',
    expectation: expectation(),
    slackMs: SLACK,
    jobs: [{ runs, p90DurationMs: p90Ms }],
    now,
    ...extra,
  });

  it('excused replaces at_risk, late, missed and failed; on_time, running and pending stay', () => {
    const excused = (now: number, runs: JobRun[], p90Ms: number | null = HOUR) =>
      computeRow(input(now, runs, { isExcused: true }, p90Ms)).status;
    expect(excused(START - HOUR, [])).toBe('pending');
    expect(excused(START + 10 * MIN, [run('r1', START)])).toBe('running');
    expect(excused(START + 10 * MIN, [run('r1', START + 5 * MIN)], 3 * HOUR)).toBe('excused');
    expect(excused(END + MIN, [run('r1', START)])).toBe('excused');
    expect(excused(END - MIN, [run('r1', START, START + HOUR, 'fail')])).toBe('excused');
    expect(excused(END + SLACK + MIN, [])).toBe('excused');
    expect(excused(END + HOUR, [run('r1', START, END - MIN, 'succeed')])).toBe('on_time');
    const late = computeRow(input(END + 10 * MIN, [run('r1', START, END + 10 * MIN, 'succeed')], { isExcused: true }));
    expect(late).toMatchObject({ status: 'excused', isFinal: true, latenessMs: 10 * MIN, actualEnd: END + 10 * MIN });
  });

  it('a late upstream holds back jobs not started and reruns, not running ones; it makes the row begun', () => {
    const upstream = { lateEndAt: START + 90 * MIN, hasLateBegun: true, blockedBy: [] };
    const before = START - 30 * MIN;
    // Not started: from the upstream's end, not from expectedStart; begun although opensAt is ahead.
    expect(computeRow(input(before, [], { upstream }, 2 * HOUR))).toMatchObject({
      status: 'at_risk',
      hasBegun: true,
      predictedEnd: START + 210 * MIN,
    });
    expect(computeRow(input(before, [], {}, 2 * HOUR))).toMatchObject({ status: 'pending', predictedEnd: START + 2 * HOUR });
    // An upstream that has not begun moves the prediction but does not begin the row.
    expect(computeRow(input(before, [], { upstream: { ...upstream, hasLateBegun: false } }, 2 * HOUR))).toMatchObject({
      status: 'pending',
      hasBegun: false,
      predictedEnd: START + 210 * MIN,
    });
    // A failed job reruns after the upstream's end.
    const failed = [run('r1', START, START + 10 * MIN, 'fail')];
    expect(computeRow(input(START + 20 * MIN, failed, { upstream })).predictedEnd).toBe(START + 150 * MIN);
    // A running job is past waiting.
    expect(computeRow(input(START + 20 * MIN, [run('r1', START)], { upstream })).predictedEnd).toBe(START + HOUR);
  });

  it('blockedBy shows while the row is not met', () => {
    const upstream = { lateEndAt: END, hasLateBegun: true, blockedBy: ['load'] };
    expect(computeRow(input(START, [], { upstream })).blockedBy).toEqual(['load']);
    expect(computeRow(input(END, [run('r1', START, END - MIN, 'succeed')], { upstream })).blockedBy).toBeUndefined();
    expect(computeRow(input(START, [], {})).blockedBy).toBeUndefined();
  });
});

describe('nextChangeAt: when the timer must look again', () => {
  const at = (now: number, runs: JobRun[], p90Ms: number | null = null) =>
    nextChangeAt({ sloId: 'dss', expectation: expectation(), slackMs: SLACK, jobs: [{ runs, p90DurationMs: p90Ms }], now });

  it('at expectedStart, when the p90 says it is too late to start, just after the deadline and after the slack', () => {
    expect(at(START - HOUR, [], 2 * HOUR)).toBe(START);
    expect(at(START, [], 2 * HOUR)).toBe(END - 2 * HOUR + 1);
    expect(at(END - 2 * HOUR + 1, [], 2 * HOUR)).toBe(END + 1);
    expect(at(END + 1, [])).toBe(END + SLACK + 1);
  });

  it('never for a final row', () => {
    expect(at(END, [run('r1', START, END - 1, 'succeed')])).toBeNull();
    expect(at(END + SLACK + 1, [])).toBeNull();
  });
});

describe('attributeRuns: runs of a business date to within slots', () => {
  const { definition } = normalizeSloInput(
    { application: 'a', calendar: 'c', within: { cron: '10,40 6-18 * * *' }, jobs: [{ job: 'summary', expectedEnd: '+0m' }] },
    { id: 's', project: 'p' },
  );
  const rows = compileSlo(definition!).rowsOn('UTC', '2026-11-20');

  it('by start time: up to a slot’s deadline it serves that slot, after it the next one', () => {
    const early = run('a', T('2026-11-20T05:59:00Z'), T('2026-11-20T06:04:00Z'), 'succeed');
    const onTime = run('b', T('2026-11-20T06:30:00Z'), T('2026-11-20T06:38:00Z'), 'succeed');
    const late = run('c', T('2026-11-20T06:41:00Z'), T('2026-11-20T07:15:00Z'), 'succeed');
    const endOnly = run('d', null, T('2026-11-20T19:00:00Z'), 'succeed');
    const split = attributeRuns(rows, [early, onTime, late, endOnly]);
    expect(split[0]).toEqual([early]);
    expect(split[1]).toEqual([onTime]);
    expect(split[2]).toEqual([late]);
    expect(split.at(-1)).toEqual([endOnly]);
    expect(split.slice(3, -1).every((runs) => runs.length === 0)).toBe(true);
  });

  it('with expectedStart offsets a slot’s window opens at its expected start', () => {
    const { definition: withStart } = normalizeSloInput(
      {
        application: 'a',
        calendar: 'c',
        within: { cron: '10,40 6-18 * * *' },
        jobs: [{ job: 'summary', expectedStart: '-10m', expectedEnd: '+0m' }],
      },
      { id: 's', project: 'p' },
    );
    const startRows = compileSlo(withStart!).rowsOn('UTC', '2026-11-20');
    // Starting 06:12 (after the 06:10 deadline) it still belongs to 06:10, whose window is [06:00, 06:30).
    const lateStart = run('x', T('2026-11-20T06:12:00Z'), T('2026-11-20T06:20:00Z'), 'succeed');
    expect(attributeRuns(startRows, [lateStart])[0]).toEqual([lateStart]);
  });
});

describe('p90', () => {
  it('nearest rank over the sample; none with fewer than three durations', () => {
    expect(p90([1, 2])).toBeNull();
    expect(p90([3, 1, 2])).toBe(3);
    expect(p90([10, 20, 30, 40, 50, 60, 70, 80, 90, 100])).toBe(90);
    expect(p90([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110])).toBe(100);
  });
});
