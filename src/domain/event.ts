/**
 * One row of the append-only event log (SPEC §5). The log is the source of truth: the
 * in-memory state is a fold of these, and Grafana queries the same rows.
 */
export type EventType =
  | 'debt.defined'
  | 'debt.deleted'
  | 'debt.paused'
  | 'debt.resumed'
  | 'payment'
  | 'run.timed_out'
  | 'occurrence.opened'
  | 'occurrence.closed'
  | 'debt.status_changed'
  | 'calendar.defined'
  | 'job.status'
  | 'slo.defined'
  | 'slo.deleted'
  | 'slo.closed'
  | 'ping_key.generated';

export interface LogEvent {
  /** Time-ordered id made by compter (see event-id.ts); a resent event keeps its id. */
  eventId: string;
  project: string;
  type: EventType;
  /** Entity columns; empty string when not relevant. */
  debt: string;
  application: string;
  job: string;
  slo: string;
  /** Event time, epoch ms. */
  ts: number;
  /** When compter received it, epoch ms. */
  ingestedAt: number;
  /** Typed columns the trend queries read; empty string / null when not relevant. */
  kind: string;
  status: string;
  runId: string;
  host: string;
  /** `YYYY-MM-DD` or empty. */
  businessDate: string;
  durationMs: number | null;
  latenessMs: number | null;
  /** Everything else, stored as a JSON string. */
  attributes: Record<string, unknown>;
}

/** The fields a producer fills; ids and defaults come from `makeEvent`. */
export type EventDraft = Pick<LogEvent, 'project' | 'type' | 'ts'> & Partial<Omit<LogEvent, 'eventId' | 'project' | 'type' | 'ts'>>;
