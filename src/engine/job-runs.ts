/**
 * The job-run index of the SLO engine: each job's runs by business date (the most recent
 * RUN_DATES_PER_JOB dates), which job and date a run id belongs to, counts for the job metrics
 * and the p90 of recent durations. It folds `job.status` events and checks a batch of reports
 * against what it holds; it writes nothing.
 */
import type { BusinessCalendar } from '../domain/time/calendar.js';
import type { LogEvent } from '../domain/event.js';
import type { JobMetricsView, JobStatusReport } from '../domain/slos/job-status.js';
import type { Problem } from '../domain/problems.js';
import { p90, type JobRun } from '../domain/slos/slo-performance.js';
import { jobKeyOf, keyOf } from './slo-definitions.js';

/** Business dates of runs kept per job: enough for trends' windows and the p90 of durations. */
export const RUN_DATES_PER_JOB = 60;
/** Most recent successful durations a p90 is taken over. */
const P90_SAMPLE = 50;

/** One run of a job on one business date, with the reports already seen (for idempotent resends). */
export interface RunState extends JobRun {
  host: string;
  /** `${status}@${epoch ms}` of every report folded in. */
  seen: string[];
}

export interface JobState {
  project: string;
  application: string;
  job: string;
  /** Business date → runs, the most recent RUN_DATES_PER_JOB dates. */
  dates: Map<string, RunState[]>;
  succeeded: number;
  failed: number;
  lastDurationMs: number | null;
  lastEndedAt: number | null;
  /** Bumped on every change; keys the p90 cache. */
  version: number;
}

/** A report that passed the checks, with the job and business date it belongs to. */
export interface PlannedReport {
  report: JobStatusReport;
  jobKey: string;
  businessDate: string;
  identity: string;
  isDuplicate: boolean;
}

/**
 * Folds one `job.status` event into the runs of its business date: a start opens (or reopens)
 * the run, an end closes it with its outcome unless a later end is already known.
 */
export function foldRun(runs: RunState[], event: LogEvent): RunState {
  const at = event.ts;
  let run = runs.find((r) => r.runId === event.runId);
  if (!run) {
    run = { runId: event.runId, startedAt: null, endedAt: null, outcome: null, host: event.host, seen: [] };
    runs.push(run);
  }
  run.seen.push(`${event.status}@${at}`);
  if (event.host) run.host = event.host;
  if (event.status === 'start') {
    if (run.endedAt !== null && at > run.endedAt) {
      // A new attempt under the same run id (an anonymous run rerun after it ended).
      run.startedAt = at;
      run.endedAt = null;
      run.outcome = null;
    } else if (run.startedAt === null || at < run.startedAt) {
      run.startedAt = at;
    }
  } else if (event.status === 'succeed' || event.status === 'fail') {
    if (run.endedAt === null || at >= run.endedAt) {
      run.endedAt = at;
      run.outcome = event.status;
    }
  }
  return run;
}

/** The job's counters as the metrics show them. */
export function jobMetricsView(job: JobState): JobMetricsView {
  return {
    project: job.project,
    application: job.application,
    job: job.job,
    succeeded: job.succeeded,
    failed: job.failed,
    lastDurationMs: job.lastDurationMs,
  };
}

/** Every job's recent runs, indexed by job and by run id. */
export class JobRuns {
  readonly jobs = new Map<string, JobState>();
  /** project + runId → the job and business date it was last seen with. */
  private readonly runIndex = new Map<string, { jobKey: string; businessDate: string }>();
  private readonly p90Cache = new Map<string, { version: number; calendar: BusinessCalendar; value: number | null }>();

  /** The runs of a job on a business date (empty when none are kept). */
  runsOn(jobKey: string, businessDate: string): RunState[] {
    return this.jobs.get(jobKey)?.dates.get(businessDate) ?? [];
  }

  /**
   * True when the runs held for the job on that date are all it ever had: the job never had a
   * date evicted, or the date is not older than the oldest one kept.
   */
  holdsDate(jobKey: string, businessDate: string): boolean {
    const job = this.jobs.get(jobKey);
    if (!job || job.dates.size < RUN_DATES_PER_JOB) return true;
    for (const date of job.dates.keys()) if (date < businessDate) return true;
    return job.dates.has(businessDate);
  }

  /** The oldest business date held for the job, or null. */
  oldestDate(jobKey: string): string | null {
    let oldest: string | null = null;
    for (const date of this.jobs.get(jobKey)?.dates.keys() ?? []) if (oldest === null || date < oldest) oldest = date;
    return oldest;
  }

  /** The run of a job on a business date with that run id, if kept. */
  findRun(jobKey: string, businessDate: string, runId: string): RunState | undefined {
    return this.jobs
      .get(jobKey)
      ?.dates.get(businessDate)
      ?.find((r) => r.runId === runId);
  }

  /**
   * Checks a batch of reports against the runs held: a runId already used by another job (in
   * the log or earlier in the batch) and a business date that cannot be derived are problems;
   * a report identical to one already recorded or earlier in the batch is a duplicate.
   */
  plan(
    project: string,
    reports: readonly JobStatusReport[],
    deriveBusinessDate: (jobKey: string, at: number) => string | null,
  ): { planned: PlannedReport[]; problems: Problem[] } {
    const problems: Problem[] = [];
    const planned: PlannedReport[] = [];
    const owners = new Map<string, string>();
    const batchDates = new Map<string, string>();
    const seenInBatch = new Set<string>();
    for (const report of reports) {
      const jobKey = jobKeyOf(project, report.application, report.job);
      const runKey = report.runId ? keyOf(project, report.runId) : null;
      const indexed = runKey ? this.runIndex.get(runKey) : undefined;
      const owner = runKey ? (owners.get(runKey) ?? indexed?.jobKey) : undefined;
      if (runKey && owner !== undefined && owner !== jobKey) {
        const [, application, job] = owner.split('\u0000');
        problems.push({
          path: `${report.pathPrefix}runId`,
          message: `run "${report.runId}" already belongs to job ${application}/${job}; a rerun needs a new runId`,
        });
        continue;
      }
      const knownDate = runKey ? (batchDates.get(runKey) ?? (indexed?.jobKey === jobKey ? indexed.businessDate : undefined)) : undefined;
      const businessDate = report.businessDate ?? knownDate ?? deriveBusinessDate(jobKey, report.at);
      if (businessDate === null) {
        problems.push({
          path: `${report.pathPrefix}businessDate`,
          message: `required: no SLO includes ${report.application}/${report.job}, so its business date cannot be derived`,
        });
        continue;
      }
      if (runKey) {
        owners.set(runKey, jobKey);
        batchDates.set(runKey, businessDate);
      }
      const seenKey = `${report.status}@${report.at}`;
      const identity = `${jobKey}\u0000${businessDate}\u0000${report.runId}\u0000${seenKey}`;
      const run = this.findRun(jobKey, businessDate, report.runId);
      const isDuplicate = seenInBatch.has(identity) || (run?.seen.includes(seenKey) ?? false);
      seenInBatch.add(identity);
      planned.push({ report, jobKey, businessDate, identity, isDuplicate });
    }
    return { planned, problems };
  }

  /** Forgets that a report was seen, so a retry after a failed write is written, not taken for a resend. */
  unsee(item: PlannedReport): void {
    const seen = this.findRun(item.jobKey, item.businessDate, item.report.runId)?.seen;
    const at = seen?.lastIndexOf(`${item.report.status}@${item.report.at}`) ?? -1;
    if (at >= 0) seen!.splice(at, 1);
  }

  /** Folds a `job.status` event; returns the job's key. */
  apply(event: LogEvent): string {
    const jobKey = jobKeyOf(event.project, event.application, event.job);
    let job = this.jobs.get(jobKey);
    if (!job) {
      job = {
        project: event.project,
        application: event.application,
        job: event.job,
        dates: new Map(),
        succeeded: 0,
        failed: 0,
        lastDurationMs: null,
        lastEndedAt: null,
        version: 0,
      };
      this.jobs.set(jobKey, job);
    }
    const at = event.ts;
    let runs = job.dates.get(event.businessDate);
    if (!runs) {
      runs = [];
      job.dates.set(event.businessDate, runs);
      this.evictOldDates(job, jobKey);
    }
    foldRun(runs, event);
    if (event.status === 'succeed' || event.status === 'fail') {
      if (event.status === 'succeed') job.succeeded++;
      else job.failed++;
      if (event.durationMs !== null && (job.lastEndedAt === null || at >= job.lastEndedAt)) {
        job.lastDurationMs = event.durationMs;
        job.lastEndedAt = at;
      }
    }
    // A date older than every kept one is evicted at once; its runs are not indexed then.
    if (event.runId && job.dates.get(event.businessDate) === runs)
      this.runIndex.set(keyOf(event.project, event.runId), { jobKey, businessDate: event.businessDate });
    job.version++;
    return jobKey;
  }

  /** Restores a job from a snapshot. */
  restore(job: JobState): void {
    const jobKey = jobKeyOf(job.project, job.application, job.job);
    this.jobs.set(jobKey, job);
    for (const [businessDate, runs] of job.dates) {
      for (const run of runs) if (run.runId) this.runIndex.set(keyOf(job.project, run.runId), { jobKey, businessDate });
    }
  }

  /** p90 of a job's recent successful durations on business dates of `calendar`. */
  p90Of(jobKey: string, calendar: BusinessCalendar): number | null {
    const job = this.jobs.get(jobKey);
    if (!job) return null;
    const cacheKey = `${jobKey}\u0000${calendar.definition.id}`;
    const cached = this.p90Cache.get(cacheKey);
    if (cached && cached.version === job.version && cached.calendar === calendar) return cached.value;
    const durations: number[] = [];
    const dates = [...job.dates.keys()].sort();
    for (const date of dates) {
      if (!calendar.isBusinessDay(date)) continue;
      for (const run of job.dates.get(date)!) {
        if (run.outcome === 'succeed' && run.startedAt !== null && run.endedAt !== null && run.endedAt >= run.startedAt)
          durations.push(run.endedAt - run.startedAt);
      }
    }
    const value = p90(durations.slice(-P90_SAMPLE));
    this.p90Cache.set(cacheKey, { version: job.version, calendar, value });
    return value;
  }

  private evictOldDates(job: JobState, jobKey: string): void {
    if (job.dates.size <= RUN_DATES_PER_JOB) return;
    const oldest = [...job.dates.keys()].sort()[0]!;
    for (const run of job.dates.get(oldest)!) {
      const runKey = keyOf(job.project, run.runId);
      const indexed = this.runIndex.get(runKey);
      if (run.runId && indexed?.jobKey === jobKey && indexed.businessDate === oldest) this.runIndex.delete(runKey);
    }
    job.dates.delete(oldest);
  }
}
