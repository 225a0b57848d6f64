/**
 * The per-SLO series of docs/metrics.md (labels project, slo, application), kept incrementally: the SLO
 * engine calls `update` whenever an SLO's current row or deliveries change, and a scrape hands
 * out cached bytes. SLOs are few, so an update is written at once.
 */
import { SLO_OUTCOMES, SLO_STATUSES, type SloMetricsView } from '../domain/slos/slo.js';
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

/** The SLO families, in the order `renderSloSeries` returns their lines. */
export const SLO_FAMILIES: readonly EntityFamily[] = [
  {
    name: METRIC.sloDeadline,
    type: 'gauge',
    help: 'expectedEnd of the SLO row on show (the first open row that has begun, else the latest closed one), Unix seconds.',
  },
  {
    name: METRIC.sloLateness,
    type: 'gauge',
    help: 'Signed lateness of the latest delivered row (actualEnd - expectedEnd; negative when early), seconds.',
  },
  { name: METRIC.sloStatus, type: 'gauge', help: 'Status of the SLO row on show: 1 for the current status, 0 for the others.' },
  {
    name: METRIC.sloPredictedEnd,
    type: 'gauge',
    help: 'Predicted end of the SLO row on show (p90 of recent job durations), Unix seconds.',
  },
  { name: METRIC.sloDeliveriesTotal, type: 'counter', help: 'SLO rows closed, by outcome (on_time, late, missed, failed).' },
];

/**
 * The sample lines of one SLO, one string per entry of `SLO_FAMILIES`. Absent values (no row,
 * nothing delivered yet, no prediction) omit the series; every status and every outcome is
 * always present, so `increase()` sees a delivery's first count and alerts see a 0 before a 1.
 */
export function renderSloSeries(view: SloMetricsView): string[] {
  const labels =
    `{project="${escapeLabelValue(view.project)}",slo="${escapeLabelValue(view.slo)}",` +
    `application="${escapeLabelValue(view.application)}"`;
  const gauge = (name: string, value: number): string => `${name}${labels}} ${formatSampleValue(value)}\n`;
  let status = '';
  for (const s of SLO_STATUSES) status += `${METRIC.sloStatus}${labels},status="${s}"} ${s === view.status ? 1 : 0}\n`;
  let deliveries = '';
  for (const o of SLO_OUTCOMES) deliveries += `${METRIC.sloDeliveriesTotal}${labels},outcome="${o}"} ${view.deliveries[o] ?? 0}\n`;
  return [
    view.deadlineAt === null ? '' : gauge(METRIC.sloDeadline, view.deadlineAt / 1000),
    view.latenessMs === null ? '' : gauge(METRIC.sloLateness, view.latenessMs / 1000),
    status,
    view.predictedEndAt === null ? '' : gauge(METRIC.sloPredictedEnd, view.predictedEndAt / 1000),
    deliveries,
  ];
}

/** The series of all SLOs. */
export class SloSeries implements ExpositionSource {
  readonly families = SLO_FAMILIES;
  readonly exposition: EntityExposition;

  constructor(options: EntityExpositionOptions = {}) {
    this.exposition = new EntityExposition(SLO_FAMILIES, options);
  }

  /** Sets (creates or replaces) one SLO's series. */
  update(view: SloMetricsView): void {
    this.exposition.upsert(seriesKey(view.project, view.slo), renderSloSeries(view));
  }

  /** Drops one SLO's series (SLO deleted). */
  remove(project: string, slo: string): void {
    this.exposition.remove(seriesKey(project, slo));
  }

  render(): ExpositionRender {
    return this.exposition.render();
  }
}

// NUL never occurs in a project or SLO id, so the pair maps to one key unambiguously.
function seriesKey(project: string, slo: string): string {
  return `${project}\u0000${slo}`;
}
