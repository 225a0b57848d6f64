/** The words of docs/semantics.md (statuses, outcomes, payment kinds), shared by the domain, the engine, the API and the metrics. */
export const DEBT_STATUSES = [
  'new',
  'up',
  'running',
  'late',
  'overdue',
  'failed',
  'timed_out',
  'paused',
  'maintenance',
  'blocked',
] as const;
export type DebtStatus = (typeof DEBT_STATUSES)[number];

/** An upstream in one of these blocks the debts that run after it (blocked passes down a chain). */
export const BLOCKING_STATUSES: ReadonlySet<DebtStatus> = new Set<DebtStatus>(['overdue', 'failed', 'timed_out', 'blocked']);

export const OUTCOMES = [
  'upcoming',
  'pending',
  'running',
  'paid',
  'paid_late',
  'missed',
  'failed',
  'incomplete',
  'timed_out',
  'excused',
  'unknown',
] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** Outcomes an occurrence can close with. */
export type ClosedOutcome = Extract<
  Outcome,
  'paid' | 'paid_late' | 'missed' | 'failed' | 'incomplete' | 'timed_out' | 'excused' | 'unknown'
>;

export const PAYMENT_KINDS = ['start', 'stage', 'success', 'fail', 'log'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

/** What the metrics exposition needs to know about one debt. */
export interface DebtMetricsView {
  project: string;
  debt: string;
  /** Deadline of the earliest occurrence still owed, epoch ms. */
  deadlineAt: number | null;
  lastSuccessAt: number | null;
  isOverdue: boolean;
  /** An upstream it runs after is overdue, failed or timed out (docs/semantics.md, dependencies). */
  isBlocked: boolean;
  status: DebtStatus;
  lastDurationMs: number | null;
  paymentsByKind: Partial<Record<PaymentKind, number>>;
  extraRuns: number;
  occurrencesByOutcome: Partial<Record<ClosedOutcome, number>>;
}
