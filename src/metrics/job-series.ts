/**
 * The per-job series of docs/metrics.md (labels project, application, job) that come from job status
 * reports: runs by status and the last run's duration. The trend gauges of the same section
 * (duration slope, projected breach) come from the trend queries, not from here.
 */
import type { JobMetricsView } from '../domain/slos/job-status.js';
import {
  EntityExposition,
  escapeLabelValue,
  formatSampleValue,
  type EntityExpositionOptions,
  type EntityFamily,
  type ExpositionRender,
  type ExpositionSource,
} from './entity-exposition.js';
import { METRIC } from './names.js';

/** The job families, in the order `renderJobSeries` returns their lines. */
export const JOB_FAMILIES: readonly EntityFamily[] = [
  { name: METRIC.jobRunsTotal, type: 'counter', help: 'Job runs that ended, by status (succeed, fail).' },
  { name: METRIC.jobLastDuration, type: 'gauge', help: 'Duration of the job run that ended last (its start known), seconds.' },
];

/** The sample lines of one job; both statuses are always present (jobs are few, increase() needs the 0). */
export function renderJobSeries(view: JobMetricsView): string[] {
  const labels =
    `{project="${escapeLabelValue(view.project)}",application="${escapeLabelValue(view.application)}",` +
    `job="${escapeLabelValue(view.job)}"`;
  return [
    `${METRIC.jobRunsTotal}${labels},status="succeed"} ${view.succeeded}\n${METRIC.jobRunsTotal}${labels},status="fail"} ${view.failed}\n`,
    view.lastDurationMs === null ? '' : `${METRIC.jobLastDuration}${labels}} ${formatSampleValue(view.lastDurationMs / 1000)}\n`,
  ];
}

/** The series of all jobs that reported a status. */
export class JobSeries implements ExpositionSource {
  readonly families = JOB_FAMILIES;
  readonly exposition: EntityExposition;

  constructor(options: EntityExpositionOptions = {}) {
    this.exposition = new EntityExposition(JOB_FAMILIES, options);
  }

  /** Sets (creates or replaces) one job's series. */
  update(view: JobMetricsView): void {
    // NUL never occurs in the names (no control characters), so the triple maps to one key.
    this.exposition.upsert(`${view.project}\u0000${view.application}\u0000${view.job}`, renderJobSeries(view));
  }

  render(): ExpositionRender {
    return this.exposition.render();
  }
}
