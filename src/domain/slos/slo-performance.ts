/**
 * One SLO performance row (docs/semantics.md) from its expectations, its jobs' runs and "now". Pure: the
 * engine feeds the runs it holds, the timer feeds the time.
 *
 * Status, in the order it is decided:
 * - met (every job has a successful run): `on_time` when the last of those successes came at or
 *   before expectedEnd, `late` when within the slack after it, else `missed`. The row closes.
 * - past expectedEnd + slack: `failed` when a job's latest run failed, else `missed`. The row closes.
 * - past expectedEnd: `failed` when a job's latest run failed, else `late`.
 * - before the deadline: `at_risk` when a job's latest run failed (it was not rerun yet), or when
 *   the row has begun and the predicted end is after expectedEnd; `running` once any job reported
 *   a run; `pending` otherwise.
 * A row has begun once a job reported a run for it or its `opensAt` (expectedStart, else the
 * start of its day or slot window) has come: an SLO whose jobs usually take longer than its
 * window is not flagged days ahead.
 *
 * Honest pages: a row whose deadline falls inside a maintenance window over the SLO (`isExcused`)
 * is `excused` wherever it would be at_risk, late, missed or failed, and closes so; met on time it
 * stays `on_time`. A row that waits for upstream SLOs (`after`) whose rows end after their own
 * expected end cannot start its jobs before they end: that moves its predicted end, and a late
 * upstream row that has begun makes this row begun too.
 */
import type { RowExpectation } from './slo-expectations.js';
import type { SloClosedStatus, SloStatus } from './slo.js';

/** One run of a job as the SLO logic sees it (one `runId` on one business date). */
export interface JobRun {
  runId: string;
  startedAt: number | null;
  endedAt: number | null;
  outcome: 'succeed' | 'fail' | null;
}

/** A row as the API shows it, instants in epoch ms. */
export interface PerformanceRow {
  sloId: string;
  businessDate: string;
  slot: string | null;
  expectedStart: number | null;
  expectedEnd: number | null;
  actualStart: number | null;
  actualEnd: number | null;
  status: SloStatus;
  latenessMs: number | null;
  predictedEnd: number | null;
  /** Upstream SLOs (`after`) whose row of the date is past its deadline and not met, while this row is not met either. */
  blockedBy?: string[];
}

/** What the rows a row waits for (`after`) tell it; the engine computes them from the upstream SLOs. */
export interface UpstreamRows {
  /** The latest end (actual, else predicted) of the upstream rows that end after their own expectedEnd; null when none does. */
  lateEndAt: number | null;
  /** True when one of those late upstream rows has begun. */
  hasLateBegun: boolean;
  /** Upstream SLO ids whose row is past its deadline and not met (late, missed, failed, or excused so). */
  blockedBy: string[];
}

/** A computed row, whether it has begun, and whether it is final (met, or past its slack): then it closes. */
export interface RowVerdict extends PerformanceRow {
  hasBegun: boolean;
  isFinal: boolean;
}

/** What one row is computed from; `jobs[i]` belongs to `expectation.jobs[i]`. */
export interface RowInput {
  sloId: string;
  expectation: RowExpectation;
  slackMs: number;
  jobs: { runs: readonly JobRun[]; p90DurationMs: number | null }[];
  now: number;
  /** True when the row's deadline falls inside a maintenance window that covers the SLO. */
  isExcused?: boolean;
  /** The upstream rows, for an SLO with `after`. */
  upstream?: UpstreamRows | null;
}

/** Statuses a maintenance window over the row's deadline turns into `excused`. */
const EXCUSABLE: ReadonlySet<SloStatus> = new Set(['at_risk', 'late', 'missed', 'failed']);

/** Fewer recent durations than this give no prediction: one odd run is not a p90. */
export const MIN_DURATIONS_FOR_P90 = 3;

interface JobProgress {
  successAt: number | null;
  firstAt: number | null;
  latest: JobRun | null;
  isFailed: boolean;
  isRunning: boolean;
}

/** Computes one row's status, actuals, lateness and prediction at `now`. */
export function computeRow(input: RowInput): RowVerdict {
  const { expectation: exp, now } = input;
  const deadline = exp.expectedEnd;
  const closeAt = deadline + input.slackMs;
  const progress = input.jobs.map((j) => progressOf(j.runs));
  const isMet = progress.every((p) => p.successAt !== null);
  let actualStart: number | null = null;
  for (const p of progress) if (p.firstAt !== null && (actualStart === null || p.firstAt < actualStart)) actualStart = p.firstAt;
  const actualEnd = isMet ? Math.max(...progress.map((p) => p.successAt!)) : null;
  const predictedEnd = isMet ? actualEnd : predict(input, progress);
  const anyFailed = progress.some((p) => p.isFailed);
  const hasRuns = input.jobs.some((j) => j.runs.length > 0);
  const upstream = input.upstream ?? null;
  const hasBegun = hasRuns || now >= exp.opensAt || (upstream !== null && upstream.lateEndAt !== null && upstream.hasLateBegun);

  let status: SloStatus;
  // A success that came only after the slack ran out (the timer had not closed the row yet) was
  // still missing when it mattered.
  if (isMet) status = actualEnd! <= deadline ? 'on_time' : actualEnd! <= closeAt ? 'late' : 'missed';
  else if (now > deadline) status = anyFailed ? 'failed' : now > closeAt ? 'missed' : 'late';
  else if (anyFailed || (hasBegun && predictedEnd !== null && predictedEnd > deadline)) status = 'at_risk';
  else status = hasRuns ? 'running' : 'pending';
  if (input.isExcused && EXCUSABLE.has(status)) status = 'excused';
  const blockedBy = !isMet && upstream !== null && upstream.blockedBy.length > 0 ? { blockedBy: [...upstream.blockedBy] } : {};

  return {
    sloId: input.sloId,
    businessDate: exp.businessDate,
    slot: exp.slot,
    expectedStart: exp.expectedStart,
    expectedEnd: deadline,
    actualStart,
    actualEnd,
    status,
    latenessMs: actualEnd === null ? null : actualEnd - deadline,
    predictedEnd,
    ...blockedBy,
    hasBegun,
    isFinal: isMet || now > closeAt,
  };
}

/** The row of a date that is not a business day of the SLO's calendar. */
export function notScheduledRow(sloId: string, businessDate: string): PerformanceRow {
  return {
    sloId,
    businessDate,
    slot: null,
    expectedStart: null,
    expectedEnd: null,
    actualStart: null,
    actualEnd: null,
    status: 'not_scheduled',
    latenessMs: null,
    predictedEnd: null,
  };
}

/** The status a final row closes with: on_time, late, missed, failed or excused. */
export function outcomeOf(row: RowVerdict): SloClosedStatus {
  if (!row.isFinal) throw new Error(`row ${row.businessDate} ${row.slot ?? ''} is not final`);
  return row.status as SloClosedStatus;
}

/**
 * The next instant after `now` at which the row's status can change with no new report: its
 * expectedStart, the moment a job that has not started can no longer make it by its p90, the
 * deadline, the end of the slack. Null for a final row.
 */
export function nextChangeAt(input: RowInput): number | null {
  const verdict = computeRow(input);
  if (verdict.isFinal) return null;
  const { expectation: exp, now } = input;
  const candidates = [exp.expectedEnd + 1, exp.expectedEnd + input.slackMs + 1];
  candidates.push(exp.opensAt);
  input.jobs.forEach((j) => {
    const p = progressOf(j.runs);
    if (p.successAt === null && !p.isRunning && j.p90DurationMs !== null) candidates.push(exp.expectedEnd - j.p90DurationMs + 1);
  });
  let next: number | null = null;
  for (const at of candidates) if (at > now && (next === null || at < next)) next = at;
  return next;
}

/**
 * Splits one job's runs of a business date over the rows (slots) of that date. A run belongs
 * to the slot whose window holds its start (its end when no start was reported). Slot k's
 * window opens at its `opensAt` (its expectedStart when the SLO gives one, else just after slot
 * k−1's expectedEnd); the first slot also takes earlier runs, the last one later runs.
 */
export function attributeRuns(rows: readonly RowExpectation[], runs: readonly JobRun[]): JobRun[][] {
  const out: JobRun[][] = rows.map(() => []);
  if (rows.length === 0) return out;
  const opens: number[] = [];
  rows.forEach((row, k) => opens.push(k === 0 ? -Infinity : Math.max(row.opensAt, opens[k - 1]!)));
  for (const run of runs) {
    const at = run.startedAt ?? run.endedAt;
    if (at === null) continue;
    let k = rows.length - 1;
    while (k > 0 && at < opens[k]!) k--;
    out[k]!.push(run);
  }
  return out;
}

/** The 90th percentile (nearest rank) of durations, or null with fewer than MIN_DURATIONS_FOR_P90. */
export function p90(durationsMs: readonly number[]): number | null {
  if (durationsMs.length < MIN_DURATIONS_FOR_P90) return null;
  const sorted = [...durationsMs].sort((a, b) => a - b);
  return sorted[Math.ceil(0.9 * sorted.length) - 1]!;
}

function progressOf(runs: readonly JobRun[]): JobProgress {
  let successAt: number | null = null;
  let firstAt: number | null = null;
  let latest: JobRun | null = null;
  let latestAt = -Infinity;
  for (const run of runs) {
    if (run.outcome === 'succeed' && run.endedAt !== null && (successAt === null || run.endedAt < successAt)) successAt = run.endedAt;
    // A run that reported only its end started no later than that.
    const first = run.startedAt ?? run.endedAt;
    if (first !== null && (firstAt === null || first < firstAt)) firstAt = first;
    const activity = Math.max(run.startedAt ?? -Infinity, run.endedAt ?? -Infinity);
    if (activity >= latestAt) {
      latest = run;
      latestAt = activity;
    }
  }
  const isOpen = successAt === null && latest !== null;
  return {
    successAt,
    firstAt,
    latest,
    isFailed: isOpen && latest!.outcome === 'fail',
    isRunning: isOpen && latest!.endedAt === null && latest!.startedAt !== null,
  };
}

/**
 * The predicted end of an unmet row: the latest of its jobs' ends, where a job that succeeded
 * ended then, a running job ends p90 after its start (or now, if it overran), a failed job is
 * rerun now, and a job that has not started starts at its expectedStart (or now, if later).
 * A late upstream row holds back the jobs that have not started or must rerun: they start no
 * earlier than its end. Null when an unfinished job has no p90 yet.
 */
function predict(input: RowInput, progress: JobProgress[]): number | null {
  const { now } = input;
  const upstreamEnd = input.upstream?.lateEndAt ?? -Infinity;
  let end = -Infinity;
  for (let i = 0; i < progress.length; i++) {
    const p = progress[i]!;
    let jobEnd: number;
    if (p.successAt !== null) {
      jobEnd = p.successAt;
    } else {
      const p90Ms = input.jobs[i]!.p90DurationMs;
      if (p90Ms === null) return null;
      if (p.isRunning) jobEnd = Math.max(now, p.latest!.startedAt! + p90Ms);
      else if (p.isFailed) jobEnd = Math.max(now, upstreamEnd) + p90Ms;
      else jobEnd = Math.max(now, input.expectation.jobs[i]!.expectedStart ?? now, upstreamEnd) + p90Ms;
    }
    if (jobEnd > end) end = jobEnd;
  }
  return end;
}
