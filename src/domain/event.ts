import type { DebtDefinition } from './debts/debt-definition.js';
import type { ClosedOutcome, DebtStatus, PaymentKind } from './debts/debt-types.js';
import type { JobStatusValue } from './slos/job-status.js';
import type { SloClosedStatus, SloDefinition } from './slos/slo.js';
import type { CalendarDefinition } from './time/calendar.js';
import type { MaintenanceWindow } from './maintenance/maintenance-window.js';

/**
 * One row of the append-only event log (docs/events.md). The log is the source of truth: the
 * in-memory state is a fold of these, and Grafana queries the same rows. Each event type has
 * its own `attributes` shape, so every reader that switches on `type` is checked by the
 * compiler. The shapes describe the JSON as stored: old logs must keep replaying, so a field
 * is only ever added as optional.
 */
export type LogEvent =
  | DebtDefinedEvent
  | DebtDeletedEvent
  | DebtPausedEvent
  | DebtResumedEvent
  | PaymentEvent
  | RunTimedOutEvent
  | OccurrenceOpenedEvent
  | OccurrenceClosedEvent
  | DebtStatusChangedEvent
  | CalendarDefinedEvent
  | JobStatusEvent
  | SloDefinedEvent
  | SloDeletedEvent
  | SloClosedEvent
  | PingKeyGeneratedEvent
  | CompterStartedEvent
  | MaintenanceDefinedEvent
  | MaintenanceDeletedEvent;

export type EventType = LogEvent['type'];

/** The event of one type. */
export type EventOf<T extends EventType> = Extract<LogEvent, { type: T }>;

/** Every event type, for decoding and validating what a store returns. */
export const EVENT_TYPES: readonly EventType[] = [
  'debt.defined',
  'debt.deleted',
  'debt.paused',
  'debt.resumed',
  'payment',
  'run.timed_out',
  'occurrence.opened',
  'occurrence.closed',
  'debt.status_changed',
  'calendar.defined',
  'job.status',
  'slo.defined',
  'slo.deleted',
  'slo.closed',
  'ping_key.generated',
  'compter.started',
  'maintenance.defined',
  'maintenance.deleted',
] satisfies readonly EventType[];

/** The columns every event has; `type` and `attributes` narrow them per event. */
interface EventColumns {
  /** Time-ordered id made by compter (see event-id.ts); a resent event keeps its id. */
  eventId: string;
  project: string;
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
}

type NoAttributes = Record<string, never>;

export interface DebtDefinedEvent extends EventColumns {
  type: 'debt.defined';
  attributes: { definition: DebtDefinition };
}

export interface DebtDeletedEvent extends EventColumns {
  type: 'debt.deleted';
  attributes: NoAttributes;
}

export interface DebtPausedEvent extends EventColumns {
  type: 'debt.paused';
  attributes: NoAttributes;
}

export interface DebtResumedEvent extends EventColumns {
  type: 'debt.resumed';
  attributes: NoAttributes;
}

/** What a payment did, as the debt logic decided it when the payment arrived. */
export interface PaymentAttributes {
  /** Scheduled time of the occurrence it was matched to, or null when none was owed (absent in rows from older versions). */
  occurrenceAt?: number | null;
  stage?: string;
  exitCode?: number;
  message?: string;
  /** The reporter's environment (a Sentry check-in's `environment`). */
  environment?: string;
  /** The run ended (successfully or not) in an occurrence already paid. */
  isExtraRun?: true;
  /** A success in an occurrence that closed with a failure. */
  isRecovery?: true;
  /** A success shorter than the debt's minRuntime. */
  isTooFast?: true;
}

export interface PaymentEvent extends EventColumns {
  type: 'payment';
  kind: PaymentKind;
  attributes: PaymentAttributes;
}

export interface RunTimedOutEvent extends EventColumns {
  type: 'run.timed_out';
  attributes: { startedAt: number; timedOutAt: number; stagesDone: string[] };
}

/** No longer written (opening is derived from the schedule); kept so old logs still decode. */
export interface OccurrenceOpenedEvent extends EventColumns {
  type: 'occurrence.opened';
  attributes: Record<string, unknown>;
}

export interface OccurrenceClosedAttributes {
  scheduledAt: number;
  deadline: number;
  /** When the success that paid it arrived. */
  paidAt?: number;
  isTooFast?: true;
  /** Declared stages the payoff lacked (`incomplete`). */
  missingStages?: string[];
  /** Occurrences this one event closes; 1 when absent. */
  count?: number;
}

export interface OccurrenceClosedEvent extends EventColumns {
  type: 'occurrence.closed';
  status: ClosedOutcome;
  attributes: OccurrenceClosedAttributes;
}

export interface DebtStatusChangedEvent extends EventColumns {
  type: 'debt.status_changed';
  status: DebtStatus;
  /** `blockedBy`: the upstreams blocking it, when the new status is `blocked`. */
  attributes: { from: DebtStatus; blockedBy?: string[] };
}

export interface CalendarDefinedEvent extends EventColumns {
  type: 'calendar.defined';
  attributes: { calendar: string; definition: CalendarDefinition };
}

export interface JobStatusEvent extends EventColumns {
  type: 'job.status';
  status: JobStatusValue;
  /** `expectedEnd`: the earliest expected end among the SLOs the job belongs to, for a success. */
  attributes: { expectedEnd?: number };
}

export interface SloDefinedEvent extends EventColumns {
  type: 'slo.defined';
  /**
   * `historyFrom`: the first business date of the rows recomputed from the job-status log at
   * this definition (null: no job had reported yet); absent on definitions logged before
   * history was computed.
   */
  attributes: { definition: SloDefinition; historyFrom?: string | null };
}

export interface SloDeletedEvent extends EventColumns {
  type: 'slo.deleted';
  attributes: { definition: SloDefinition };
}

/** Every field is written today; rows from older versions may lack any of them. */
export interface SloClosedAttributes {
  /** The intra-day slot key, or '' for a daily SLO. */
  slot?: string;
  expectedStart?: number | null;
  expectedEnd?: number | null;
  actualStart?: number | null;
  actualEnd?: number | null;
}

export interface SloClosedEvent extends EventColumns {
  type: 'slo.closed';
  status: SloClosedStatus;
  attributes: SloClosedAttributes;
}

export interface PingKeyGeneratedEvent extends EventColumns {
  type: 'ping_key.generated';
  attributes: { pingKey: string };
}

/** compter started again; deadlines in (unwatchedFrom, ts] passed while it was not running. */
export interface CompterStartedEvent extends EventColumns {
  type: 'compter.started';
  attributes: { unwatchedFrom: number };
}

export interface MaintenanceDefinedEvent extends EventColumns {
  type: 'maintenance.defined';
  attributes: { window: MaintenanceWindow };
}

export interface MaintenanceDeletedEvent extends EventColumns {
  type: 'maintenance.deleted';
  attributes: { id: string };
}

/** Columns an event type narrows (a payment's `kind`, a closed occurrence's `status`): a draft must fill them. */
type NarrowedColumns<E extends LogEvent> = {
  [K in keyof EventColumns]: EventColumns[K] extends E[K] ? never : K;
}[keyof EventColumns];

type DraftOf<E extends LogEvent> = Pick<E, 'project' | 'type' | 'ts' | 'attributes' | NarrowedColumns<E>> &
  Partial<Omit<E, 'eventId' | 'project' | 'type' | 'ts' | 'attributes' | NarrowedColumns<E>>>;

/** The fields a producer fills, per event type; ids and defaults come from `makeLogEvent`. */
export type EventDraft = { [T in EventType]: DraftOf<EventOf<T>> }[EventType];

/** A draft whose project the caller adds. */
export type ProjectlessEventDraft = { [T in EventType]: Omit<DraftOf<EventOf<T>>, 'project'> }[EventType];

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

/** True when `type` names an event type compter writes (or wrote). */
export function isEventType(type: string): type is EventType {
  return KNOWN_TYPES.has(type);
}

/** A stored row's columns and parsed attributes, before its type is checked. */
export type StoredEventRow = EventColumns & { type: string; attributes: unknown };

/**
 * The log event a stored row holds; throws on a type compter never wrote or attributes that
 * are not a JSON object (a damaged row, or one a newer version wrote), so replay stops with
 * the reason instead of folding an event no reader knows.
 */
export function decodeEvent(row: StoredEventRow): LogEvent {
  if (!isEventType(row.type)) throw new TypeError(`event ${row.eventId}: unknown type "${row.type}"`);
  const { attributes } = row;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))
    throw new TypeError(`event ${row.eventId}: attributes are not a JSON object`);
  // The one place the union is asserted: the typed producers are the log's only writers, and
  // every shape only ever gains optional fields, so old rows still have their type's shape.
  return row as LogEvent;
}
