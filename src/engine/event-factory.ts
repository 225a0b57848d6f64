import type { EventIdGenerator } from '../domain/event-id.js';
import type { EventDraft, LogEvent } from '../domain/event.js';
import type { LogPosition } from './rebuild.js';

/**
 * Makes a log event from a draft: a fresh time-ordered id, receipt time, and empty entity and
 * typed columns where the draft is silent. Every projection makes its events here, so ids stay
 * strictly increasing across them and the log position always knows the newest. `eventId`
 * is given for facts every instance derives alike (domain/event-id.ts `derivedEventId`).
 */
export function makeLogEvent(ids: EventIdGenerator, position: LogPosition, draft: EventDraft, now: number, eventId?: string): LogEvent {
  // A draft fills its type, attributes and every column its type narrows, so over the
  // defaults it is that type's event.
  const event: LogEvent = {
    eventId: eventId ?? ids.next(now),
    debt: '',
    application: '',
    job: '',
    slo: '',
    ingestedAt: now,
    kind: '',
    status: '',
    runId: '',
    host: '',
    businessDate: '',
    durationMs: null,
    latenessMs: null,
    ...draft,
  };
  position.noteMade(event.eventId);
  return event;
}
