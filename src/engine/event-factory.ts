import type { EventIdGenerator } from '../domain/event-id.js';
import type { EventDraft, LogEvent, ProjectlessEventDraft } from '../domain/event.js';
import type { LogPosition } from './rebuild.js';

/**
 * Makes a log event from a draft: a fresh time-ordered id, receipt time, and empty entity and
 * typed columns where the draft is silent. Every projection makes its events here, so ids stay
 * strictly increasing across them and the log position always knows the newest. `eventId`
 * is given for facts every instance derives alike (domain/event-id.ts `derivedEventId`).
 */
export function makeLogEvent(ids: EventIdGenerator, position: LogPosition, draft: EventDraft, now: number, eventId?: string): LogEvent {
  return makeEntityEvent(ids, position, draft, draft.project, draft.debt ?? '', now, eventId);
}

/**
 * makeLogEvent for a draft that names its project and debt apart (the debt engine's drafts).
 * Every column is written out in one order, so every event has one object shape: spreading the
 * draft over defaults cost more than deciding the payment did.
 */
export function makeEntityEvent(
  ids: EventIdGenerator,
  position: LogPosition,
  draft: ProjectlessEventDraft,
  project: string,
  debt: string,
  now: number,
  eventId?: string,
): LogEvent {
  // A draft fills its type, attributes and every column its type narrows, so over the
  // defaults it is that type's event.
  const d = draft as Partial<LogEvent> & Pick<LogEvent, 'type' | 'ts' | 'attributes'>;
  const event = {
    eventId: eventId ?? ids.next(now),
    project,
    debt,
    application: d.application ?? '',
    job: d.job ?? '',
    slo: d.slo ?? '',
    type: d.type,
    ts: d.ts,
    ingestedAt: d.ingestedAt ?? now,
    kind: d.kind ?? '',
    status: d.status ?? '',
    runId: d.runId ?? '',
    host: d.host ?? '',
    businessDate: d.businessDate ?? '',
    durationMs: d.durationMs ?? null,
    latenessMs: d.latenessMs ?? null,
    attributes: d.attributes,
  } as LogEvent;
  position.noteMade(event.eventId);
  return event;
}
