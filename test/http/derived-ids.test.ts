import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { derivedEventId, eventIdTime } from '../../src/domain/event-id.js';
import type { LogEvent } from '../../src/domain/event.js';

/*
 * Facts the timer derives carry the same id on every instance (docs/semantics.md, "Several
 * instances"), so N instances writing them to one log store each once.
 */

const open: TestCompter[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.cleanup();
});

/** What the timer wrote from `since` on: closings, time-outs and the status changes they caused. */
async function timerFacts(c: TestCompter, since: number): Promise<LogEvent[]> {
  const types = new Set(['occurrence.closed', 'run.timed_out', 'debt.status_changed']);
  for (let i = 0; i < 100; i++) {
    const events = await c.store.query({ project: 'default', debt: 'hourly', limit: 100, order: 'asc' });
    const facts = events.filter((e) => types.has(e.type) && e.ts >= since);
    if (facts.some((e) => e.type === 'debt.status_changed') && facts.length >= 4) return facts;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the timer derived no facts');
}

describe('derived event ids', () => {
  it('two instances deriving the same missed occurrences, timed-out run and status change make the same ids', async () => {
    const [a, b] = [await startTestCompter(), await startTestCompter()];
    open.push(a, b);
    for (const c of [a, b]) {
      expect((await c.json('PUT', '/v1/debts/hourly', { schedule: { every: '1h' }, maxRuntime: '10m' })).status).toBe(201);
    }
    // The run is started on each (a start another instance relays has the same run id).
    for (const c of [a, b]) expect((await c.json('POST', '/v1/debts/hourly/payments', { kind: 'start', runId: 'r-1' })).status).toBe(200);
    // A different moment on each: the ids still agree.
    const since = a.clock.now() + 3 * 3_600_000;
    a.clock.advance(3 * 3_600_000);
    b.clock.advance(3 * 3_600_000 + 1234);
    await a.engine.tick();
    await b.engine.tick();
    const [onA, onB] = [await timerFacts(a, since), await timerFacts(b, since)];
    expect(onA.map((e) => `${e.type}:${e.status}`)).toContain('run.timed_out:');
    expect(onA.map((e) => `${e.type}:${e.status}`)).toContain('debt.status_changed:timed_out');
    expect(onA.map((e) => e.eventId)).toEqual(onB.map((e) => e.eventId));
    for (const e of onA) expect(eventIdTime(e.eventId)).toBeLessThanOrEqual(e.ts);
  });

  it('derives ids from the key alone and encodes the given time', () => {
    const id = derivedEventId(Date.UTC(2026, 11, 3), ['default', 'd', 'occurrence.closed', '1', 'missed']);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(eventIdTime(id)).toBe(Date.UTC(2026, 11, 3));
    expect(derivedEventId(Date.UTC(2026, 11, 3), ['default', 'd', 'occurrence.closed', '1', 'missed'])).toBe(id);
    expect(derivedEventId(Date.UTC(2026, 11, 3), ['default', 'd', 'occurrence.closed', '2', 'missed'])).not.toBe(id);
  });
});
