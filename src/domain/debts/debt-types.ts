/** The words of SPEC §2, shared by the domain, the engine, the API and the metrics. */
export const DEBT_STATUSES = ['new', 'up', 'running', 'late', 'overdue', 'failed', 'timed_out', 'paused'] as const;
export type DebtStatus = (typeof DEBT_STATUSES)[number];

export const OUTCOMES = ['upcoming', 'pending', 'running', 'paid', 'paid_late', 'missed', 'failed', 'incomplete', 'timed_out'] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** Outcomes an occurrence can close with. */
export type ClosedOutcome = Extract<Outcome, 'paid' | 'paid_late' | 'missed' | 'failed' | 'incomplete' | 'timed_out'>;

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
  status: DebtStatus;
  lastDurationMs: number | null;
  paymentsByKind: Partial<Record<PaymentKind, number>>;
  extraRuns: number;
  occurrencesByOutcome: Partial<Record<ClosedOutcome, number>>;
}
