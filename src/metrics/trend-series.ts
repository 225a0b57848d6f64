/**
 * The per-job trend gauges of docs/metrics.md, replaced project by project each time the trend
 * service refreshes (engine/trend-service.ts): a job without a slope or a projected breach
 * has no series rather than a made-up 0.
 */
import { METRIC } from './names.js';
import {
  EntityExposition,
  escapeLabelValue,
  formatSampleValue,
  type EntityExpositionOptions,
  type EntityFamily,
  type ExpositionRender,
  type ExpositionSource,
} from './entity-exposition.js';

export const TREND_FAMILIES: readonly EntityFamily[] = [
  {
    name: METRIC.jobDurationTrend,
    type: 'gauge',
    help: 'Slope of the job run duration against the business-day index over the trend window, seconds per business day.',
  },
  {
    name: METRIC.jobProjectedBreach,
    type: 'gauge',
    help: 'Deadline of the first business date on which the job p90 end is projected to be after it, Unix seconds.',
  },
];

/** One job's trend values as the gauges export them. */
export interface JobTrendGauges {
  application: string;
  job: string;
  durationSlopeSecondsPerDay: number | null;
  /** Epoch ms; null when no breach is projected. */
  projectedBreachAt: number | null;
}

/** The sample lines of one job, one string per entry of TREND_FAMILIES. */
export function renderTrendSeries(project: string, gauges: JobTrendGauges): string[] {
  const labels =
    `{project="${escapeLabelValue(project)}",application="${escapeLabelValue(gauges.application)}",` +
    `job="${escapeLabelValue(gauges.job)}"}`;
  return [
    gauges.durationSlopeSecondsPerDay === null
      ? ''
      : `${METRIC.jobDurationTrend}${labels} ${formatSampleValue(gauges.durationSlopeSecondsPerDay)}\n`,
    gauges.projectedBreachAt === null
      ? ''
      : `${METRIC.jobProjectedBreach}${labels} ${formatSampleValue(gauges.projectedBreachAt / 1000)}\n`,
  ];
}

/** Every project's job trend gauges; plug into the registry with `addExposition`. */
export class TrendSeries implements ExpositionSource {
  readonly families = TREND_FAMILIES;
  readonly exposition: EntityExposition;
  private readonly keysByProject = new Map<string, Set<string>>();

  constructor(options: EntityExpositionOptions = {}) {
    this.exposition = new EntityExposition(TREND_FAMILIES, options);
  }

  /** Jobs exported, all projects together. */
  get size(): number {
    return this.exposition.size;
  }

  /** Sets a project's gauges to exactly `jobs`: jobs missing from it lose their series. */
  replaceProject(project: string, jobs: readonly JobTrendGauges[]): void {
    const next = new Set<string>();
    for (const gauges of jobs) {
      if (gauges.durationSlopeSecondsPerDay === null && gauges.projectedBreachAt === null) continue;
      const key = jobKey(project, gauges.application, gauges.job);
      next.add(key);
      this.exposition.upsert(key, renderTrendSeries(project, gauges));
    }
    for (const key of this.keysByProject.get(project) ?? []) if (!next.has(key)) this.exposition.remove(key);
    if (next.size > 0) this.keysByProject.set(project, next);
    else this.keysByProject.delete(project);
  }

  render(): ExpositionRender {
    return this.exposition.render();
  }
}

// JSON keeps the three parts apart whatever characters a job name holds.
function jobKey(project: string, application: string, job: string): string {
  return JSON.stringify([project, application, job]);
}
