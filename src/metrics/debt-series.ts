/**
 * The per-debt series of docs/metrics.md, kept incrementally: the engine calls `update` when a debt's
 * metrics view changes and `remove` when the debt is deleted; a scrape hands out cached bytes.
 */
import { DEBT_STATUSES, OUTCOMES, PAYMENT_KINDS, type DebtMetricsView } from '../domain/debts/debt-types.js';
import { debtKey } from '../domain/debts/debt-key.js';
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

/** The debt families, in the order `renderDebtSeries` returns their lines. */
export const DEBT_FAMILIES: readonly EntityFamily[] = [
  {
    name: METRIC.debtDeadline,
    type: 'gauge',
    help: 'Deadline of the earliest occurrence still owed (scheduled time + grace), Unix seconds.',
  },
  { name: METRIC.debtLastSuccess, type: 'gauge', help: 'Time of the last successful payment, Unix seconds.' },
  { name: METRIC.debtOverdue, type: 'gauge', help: '1 when an occurrence is past its deadline and unpaid, else 0.' },
  { name: METRIC.debtStatus, type: 'gauge', help: 'Current status of the debt: 1 for the current status, 0 for the others.' },
  { name: METRIC.debtLastDuration, type: 'gauge', help: 'Duration of the last completed run, seconds.' },
  { name: METRIC.paymentsTotal, type: 'counter', help: 'Payments received, by kind.' },
  {
    name: METRIC.debtExtraRunsTotal,
    type: 'counter',
    help: 'Runs that ended, successful or failed, in an occurrence already paid (the job runs too often, or failed after it was paid).',
  },
  { name: METRIC.occurrencesTotal, type: 'counter', help: 'Occurrences closed, by outcome.' },
  {
    name: METRIC.debtBlocked,
    type: 'gauge',
    help: '1 while an upstream the debt runs after is overdue, failed, timed out or blocked, else 0.',
  },
];

// Closed outcomes in the contract's order; the view's record may hold only these.
const CLOSED_OUTCOMES = OUTCOMES.filter(
  (o) => o !== 'upcoming' && o !== 'pending' && o !== 'running',
) as readonly (keyof DebtMetricsView['occurrencesByOutcome'])[];

/**
 * The sample lines of one debt, one string per entry of `DEBT_FAMILIES` ('' when the family
 * has no sample for it). Absent values (no deadline, never succeeded, no run duration) omit
 * the series rather than exporting a made-up 0.
 */
export function renderDebtSeries(view: DebtMetricsView): string[] {
  const labels = `{project="${escapeLabelValue(view.project)}",debt="${escapeLabelValue(view.debt)}"`;
  const gauge = (name: string, value: number): string => `${name}${labels}} ${formatSampleValue(value)}\n`;

  let status = '';
  for (const s of DEBT_STATUSES) {
    status += `${METRIC.debtStatus}${labels},status="${s}"} ${s === view.status ? 1 : 0}\n`;
  }

  // Counters with labels emit only the label values seen (count > 0), as prom-client and the
  // Go client do for a child that was never incremented; a never-seen kind has no series and
  // rate()/increase() treat its first appearance as a counter start.
  let payments = '';
  for (const kind of PAYMENT_KINDS) {
    const n = view.paymentsByKind[kind];
    if (n !== undefined && n > 0) payments += `${METRIC.paymentsTotal}${labels},kind="${kind}"} ${n}\n`;
  }
  let occurrences = '';
  for (const outcome of CLOSED_OUTCOMES) {
    const n = view.occurrencesByOutcome[outcome];
    if (n !== undefined && n > 0) occurrences += `${METRIC.occurrencesTotal}${labels},outcome="${outcome}"} ${n}\n`;
  }

  return [
    view.deadlineAt === null ? '' : gauge(METRIC.debtDeadline, view.deadlineAt / 1000),
    view.lastSuccessAt === null ? '' : gauge(METRIC.debtLastSuccess, view.lastSuccessAt / 1000),
    gauge(METRIC.debtOverdue, view.isOverdue ? 1 : 0),
    status,
    view.lastDurationMs === null ? '' : gauge(METRIC.debtLastDuration, view.lastDurationMs / 1000),
    payments,
    // Unlabelled per-debt counter: present from the debt's creation, so it starts at 0.
    gauge(METRIC.debtExtraRunsTotal, view.extraRuns),
    occurrences,
    gauge(METRIC.debtBlocked, view.isBlocked ? 1 : 0),
  ];
}

export interface DebtSeriesOptions extends EntityExpositionOptions {
  /** Longest an update waits before it is written, ms (a scrape writes pending ones first). */
  flushDelayMs?: number;
  /** Pending updates that force a write at once, bounding the memory they hold. */
  maxPending?: number;
}

/**
 * The series of all debts. Updates are coalesced: the latest view per debt is kept and
 * written at the next scrape, after `flushDelayMs`, or once `maxPending` debts wait —
 * so a ping costs a map insert, and a debt paid many times between scrapes is rendered once.
 */
export class DebtSeries implements ExpositionSource {
  readonly families = DEBT_FAMILIES;
  readonly exposition: EntityExposition;
  private readonly pending = new Map<string, DebtMetricsView>();
  private readonly flushDelayMs: number;
  private readonly maxPending: number;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: DebtSeriesOptions = {}) {
    this.exposition = new EntityExposition(DEBT_FAMILIES, options);
    this.flushDelayMs = options.flushDelayMs ?? 250;
    this.maxPending = options.maxPending ?? 10_000;
  }

  /** Number of debts exported (pending updates included). */
  get size(): number {
    let added = 0;
    for (const key of this.pending.keys()) if (!this.exposition.has(key)) added++;
    return this.exposition.size + added;
  }

  /**
   * Sets (creates or replaces) one debt's series from its current view, kept as given until it
   * is written: pass a fresh view each time (`debtMetricsView` makes one). Its count records may
   * be the debt's own live ones; every change to them comes with an update, so what is written is
   * the debt as of its latest update. `key` is the debt's key when the caller has it already.
   */
  update(view: DebtMetricsView, key: string = debtKey(view.project, view.debt)): void {
    this.pending.delete(key); // re-insert: the map stays in update order
    this.pending.set(key, view);
    if (this.pending.size >= this.maxPending) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushDelayMs).unref();
  }

  /** Drops one debt's series (debt deleted); returns whether it was exported or pending. */
  remove(project: string, debt: string): boolean {
    const key = debtKey(project, debt);
    const wasPending = this.pending.delete(key);
    return this.exposition.remove(key) || wasPending;
  }

  /** Writes every pending update into the exposition. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const [key, view] of this.pending) this.exposition.upsert(key, renderDebtSeries(view));
    this.pending.clear();
  }

  /** The debt families for a scrape, with every update so far applied. */
  render(): ExpositionRender {
    this.flush();
    return this.exposition.render();
  }
}
