import { describe, expect, it } from 'vitest';
import { nextDeadline, nextWakeAt } from '../../src/domain/debts/debt-decide.js';
import { DomainError } from '../../src/domain/problems.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { DebtHarness, debtDef, t } from '../support/debt-builders.js';
import { seededRandom, shuffled } from '../support/seed.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const daily = (overrides = {}) => debtDef({ schedule: { kind: 'cron', cron: '0 2 * * *', tz: 'UTC' }, graceMs: 15 * MIN, ...overrides });

describe('cron debt occurrences and outcomes', () => {
  it('is new, then late at the scheduled time, overdue after the deadline, missed when the window ends', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    expect(h.advance(t('2026-11-21T01:00:00Z'))).toEqual([]);
    expect(h.state.status).toBe('new');
    h.advance(t('2026-11-21T02:00:00Z'));
    expect(h.state.status).toBe('late');
    h.advance(t('2026-11-21T02:15:00Z'));
    expect(h.state.status).toBe('late'); // exactly at the deadline is still on time
    h.advance(t('2026-11-21T02:15:00.001Z'));
    expect(h.state.status).toBe('overdue');
    h.advance(t('2026-11-22T02:00:00Z'));
    expect(h.outcomes()).toEqual(['missed']);
    expect(h.state.status).toBe('overdue'); // stays overdue until a success
    h.pay({ at: t('2026-11-22T02:05:00Z') });
    expect(h.outcomes()).toEqual(['missed', 'paid']);
    expect(h.state.status).toBe('up');
  });

  it('pays on time within grace and late after the deadline, by the time partition', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ at: t('2026-11-21T02:10:00Z') });
    h.pay({ at: t('2026-11-22T03:05:00Z') }); // a lone ping at 03:05 pays the 02:00 occurrence, late
    const closed = h.events.filter((e) => e.type === 'occurrence.closed');
    expect(closed.map((e) => [e.status, e.attributes.scheduledAt])).toEqual([
      ['paid', t('2026-11-21T02:00:00Z')],
      ['paid_late', t('2026-11-22T02:00:00Z')],
    ]);
    expect(closed[1]!.latenessMs).toBe(50 * MIN);
  });

  it('matches a run that started for 02:00 and finished at 03:05 to the 02:00 occurrence (hourly schedule)', () => {
    const h = new DebtHarness(
      debtDef({ schedule: { kind: 'cron', cron: '0 * * * *', tz: 'UTC' }, graceMs: 10 * MIN }),
      t('2026-11-21T01:30:00Z'),
    );
    h.pay({ kind: 'start', runId: 'r1', at: t('2026-11-21T02:01:00Z') });
    expect(h.state.status).toBe('running');
    h.pay({ kind: 'success', runId: 'r1', at: t('2026-11-21T03:05:00Z') });
    const closed = h.events.filter((e) => e.type === 'occurrence.closed');
    expect(closed.map((e) => [e.status, e.attributes.scheduledAt])).toEqual([['paid_late', t('2026-11-21T02:00:00Z')]]);
    const payment = h.events.find((e) => e.type === 'payment' && e.kind === 'success')!;
    expect(payment.durationMs).toBe(64 * MIN);
    expect(h.state.lastDurationMs).toBe(64 * MIN);
    // 03:00 is still owed: the run belonged to 02:00.
    expect(h.state.open.map((o) => o.scheduledAt)).toEqual([t('2026-11-21T03:00:00Z')]);
  });

  it('matches an anonymous start to its success', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'success', at: t('2026-11-21T02:30:00Z') });
    expect(h.outcomes()).toEqual(['paid_late']);
    expect(h.state.lastDurationMs).toBe(30 * MIN);
    expect(h.state.runs).toEqual([]);
  });

  it('matches by business date before run and time', () => {
    const h = new DebtHarness(daily({ graceMs: 2 * HOUR }), t('2026-11-19T12:00:00Z'));
    h.advance(t('2026-11-21T01:00:00Z'));
    // Paid on the 21st at 01:00, but it names the 20th's occurrence (due 02:00 on the 20th).
    h.pay({ at: t('2026-11-21T01:00:00Z'), businessDate: '2026-11-20' });
    const closed = h.events.find((e) => e.type === 'occurrence.closed')!;
    expect(closed.attributes.scheduledAt).toBe(t('2026-11-20T02:00:00Z'));
    expect(closed.status).toBe('paid_late');
  });

  it('refuses a business date the schedule has no occurrence on', () => {
    const h = new DebtHarness(debtDef({ schedule: { kind: 'cron', cron: '0 2 * * 1-5', tz: 'UTC' } }), t('2026-11-19T12:00:00Z'));
    expect(() => h.pay({ at: t('2026-11-23T03:00:00Z'), businessDate: '2026-11-22' })).toThrow(DomainError);
  });

  it('counts a second success in one occurrence as an extra run', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ at: t('2026-11-21T02:01:00Z') });
    h.pay({ at: t('2026-11-21T09:00:00Z') });
    expect(h.state.extraRuns).toBe(1);
    expect(h.outcomes()).toEqual(['paid']);
  });

  it('attributes a success just before the next slot to it when the current one is settled (clock skew)', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ at: t('2026-11-21T02:01:00Z') });
    h.pay({ at: t('2026-11-22T01:59:30Z') });
    expect(h.state.extraRuns).toBe(0);
    expect(h.outcomes()).toEqual(['paid', 'paid']);
  });

  it('closes as failed on a fail payment and reports failed; a rerun success recovers', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', runId: 'a', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'fail', runId: 'a', exitCode: 3, at: t('2026-11-21T02:03:00Z') });
    expect(h.outcomes()).toEqual(['failed']);
    expect(h.state.status).toBe('failed');
    h.pay({ kind: 'success', runId: 'b', at: t('2026-11-21T02:20:00Z') });
    expect(h.state.status).toBe('up');
    const rerun = h.events.filter((e) => e.type === 'payment').at(-1)!;
    expect(rerun.attributes.isRecovery).toBe(true);
  });

  it('a fail after the occurrence was paid counts: failed extra run, outcome kept, failed until a success; replay agrees', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'success', at: t('2026-11-21T02:01:00Z') });
    h.pay({ kind: 'fail', exitCode: 3, at: t('2026-11-21T02:02:00Z') });
    expect(h.outcomes()).toEqual(['paid']);
    expect(h.state).toMatchObject({ status: 'failed', extraRuns: 1, consecutiveFailures: 1, occurrencesByOutcome: { paid: 1 } });
    expect(h.events.filter((e) => e.type === 'payment').at(-1)!.attributes).toMatchObject({ isExtraRun: true });
    expect(h.replay(h.events, t('2026-11-21T02:02:00Z'))).toEqual(h.state);
    h.pay({ kind: 'success', at: t('2026-11-21T02:30:00Z') });
    expect(h.state).toMatchObject({ status: 'up', extraRuns: 2, consecutiveFailures: 0 });
  });

  it('failuresBeforeAlert counts failed runs: two fails in one window reach 2', () => {
    const h = new DebtHarness(daily({ failuresBeforeAlert: 2 }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'fail', at: t('2026-11-21T02:01:00Z') });
    expect(h.state.status).toBe('up');
    h.pay({ kind: 'fail', at: t('2026-11-21T02:05:00Z') });
    expect(h.outcomes()).toEqual(['failed']);
    expect(h.state).toMatchObject({ status: 'failed', consecutiveFailures: 2, extraRuns: 0 });
  });

  it('tolerates failures below failuresBeforeAlert', () => {
    const h = new DebtHarness(daily({ failuresBeforeAlert: 2 }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'fail', at: t('2026-11-21T02:01:00Z') });
    expect(h.state.status).toBe('up');
    h.pay({ kind: 'fail', at: t('2026-11-22T02:01:00Z') });
    expect(h.state.status).toBe('failed');
    expect(h.state.consecutiveFailures).toBe(2);
  });

  it('closes incomplete when a payoff lacks stages; complete stages pay', () => {
    const h = new DebtHarness(daily({ stages: ['fetched', 'charged'] }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', runId: 'r', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'stage', stage: 'fetched', runId: 'r', at: t('2026-11-21T02:01:00Z') });
    h.pay({ kind: 'success', runId: 'r', at: t('2026-11-21T02:02:00Z') });
    expect(h.outcomes()).toEqual(['incomplete']);
    const closed = h.events.find((e) => e.type === 'occurrence.closed')!;
    expect(closed.attributes.missingStages).toEqual(['charged']);
    h.pay({ kind: 'start', runId: 's', at: t('2026-11-22T02:00:00Z') });
    h.pay({ kind: 'stage', stage: 'fetched', runId: 's', at: t('2026-11-22T02:01:00Z') });
    h.pay({ kind: 'stage', stage: 'charged', runId: 's', at: t('2026-11-22T02:02:00Z') });
    h.pay({ kind: 'success', runId: 's', at: t('2026-11-22T02:03:00Z') });
    expect(h.outcomes()).toEqual(['incomplete', 'paid']);
  });

  it('times out a run past maxRuntime, clears its stages and reports timed_out', () => {
    const h = new DebtHarness(daily({ maxRuntimeMs: 10 * MIN, stages: ['a'] }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', runId: 'r', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'stage', stage: 'a', runId: 'r', at: t('2026-11-21T02:01:00Z') });
    expect(nextWakeAt(h.state, t('2026-11-21T02:01:00Z'), h.ctx)).toBe(t('2026-11-21T02:10:00Z'));
    h.advance(t('2026-11-21T02:10:00Z'));
    expect(h.events.map((e) => e.type)).toContain('run.timed_out');
    expect(h.outcomes()).toEqual(['timed_out']);
    expect(h.state.runs).toEqual([]);
    expect(h.state.status).toBe('timed_out');
  });

  it('flags a success shorter than minRuntime as too fast', () => {
    const h = new DebtHarness(daily({ minRuntimeMs: 30_000 }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'start', runId: 'r', at: t('2026-11-21T02:00:00Z') });
    h.pay({ kind: 'success', runId: 'r', at: t('2026-11-21T02:00:05Z') });
    const closed = h.events.find((e) => e.type === 'occurrence.closed')!;
    expect(closed.attributes.isTooFast).toBe(true);
    expect(closed.status).toBe('paid');
  });

  it('goes overdue when no start arrives within startWithin, even inside grace', () => {
    const h = new DebtHarness(daily({ startWithinMs: 5 * MIN, graceMs: HOUR }), t('2026-11-20T12:00:00Z'));
    h.advance(t('2026-11-21T02:05:00Z'));
    expect(h.state.status).toBe('late');
    h.advance(t('2026-11-21T02:05:01Z'));
    expect(h.state.status).toBe('overdue');
    h.pay({ kind: 'start', at: t('2026-11-21T02:06:00Z') });
    expect(h.state.status).toBe('running');
  });

  it('does nothing while paused', () => {
    const h = new DebtHarness(daily({ paused: true }), t('2026-11-20T12:00:00Z'));
    h.advance(t('2026-11-25T12:00:00Z'));
    expect(h.outcomes()).toEqual([]);
    expect(h.state.status).toBe('paused');
    expect(nextDeadline(h.state, h.ctx)).toBeNull();
  });
});

describe('every and one-off debts', () => {
  it('falls due every period after the last success, and after creation when never paid', () => {
    const h = new DebtHarness(debtDef({ schedule: { kind: 'every', everyMs: HOUR }, graceMs: 5 * MIN }), t('2026-11-21T00:00:00Z'));
    h.advance(t('2026-11-21T00:00:00Z'));
    expect(nextDeadline(h.state, h.ctx)).toBe(t('2026-11-21T01:05:00Z'));
    h.pay({ at: t('2026-11-21T00:40:00Z') });
    expect(h.outcomes()).toEqual(['paid']);
    expect(nextDeadline(h.state, h.ctx)).toBe(t('2026-11-21T01:45:00Z'));
    h.advance(t('2026-11-21T01:45:01Z'));
    expect(h.state.status).toBe('overdue');
    h.advance(t('2026-11-21T02:40:00Z'));
    expect(h.outcomes()).toEqual(['paid', 'missed']);
  });

  it('a one-off deadline stays overdue until paid, then closes paid_late', () => {
    const h = new DebtHarness(
      debtDef({ schedule: { kind: 'deadline', at: t('2026-12-01T06:00:00Z') }, graceMs: 0 }),
      t('2026-11-21T00:00:00Z'),
    );
    h.advance(t('2026-12-05T00:00:00Z'));
    expect(h.state.status).toBe('overdue');
    expect(h.outcomes()).toEqual([]);
    h.pay({ at: t('2026-12-05T00:00:00Z') });
    expect(h.outcomes()).toEqual(['paid_late']);
    expect(h.state.status).toBe('up');
  });

  it('a debt without a schedule only counts payments and never falls due', () => {
    const h = new DebtHarness(debtDef(), t('2026-11-21T00:00:00Z'));
    h.pay({ at: t('2026-11-21T01:00:00Z') });
    h.advance(t('2027-11-21T00:00:00Z'));
    expect(h.state.payments).toBe(1);
    expect(h.state.status).toBe('up');
    expect(nextWakeAt(h.state, t('2027-11-21T00:00:00Z'), h.ctx)).toBeNull();
  });
});

describe('replay', () => {
  function scenario(): { h: DebtHarness; now: number } {
    const h = new DebtHarness(daily({ maxRuntimeMs: HOUR, stages: ['x'] }), t('2026-11-10T12:00:00Z'));
    h.pay({ kind: 'start', runId: 'a', at: t('2026-11-11T02:00:00Z') });
    h.pay({ kind: 'stage', stage: 'x', runId: 'a', at: t('2026-11-11T02:01:00Z') });
    h.pay({ kind: 'success', runId: 'a', at: t('2026-11-11T02:02:00Z') });
    h.advance(t('2026-11-13T12:00:00Z'));
    h.pay({ kind: 'fail', at: t('2026-11-14T02:03:00Z') });
    h.pay({ kind: 'success', at: t('2026-11-14T05:00:00Z') });
    h.pay({ kind: 'start', runId: 'b', at: t('2026-11-15T02:00:00Z') });
    h.advance(t('2026-11-15T04:00:00Z'));
    return { h, now: t('2026-11-15T04:00:00Z') };
  }

  it('replaying the events gives the same state', () => {
    const { h, now } = scenario();
    expect(h.replay(h.events, now)).toEqual(h.state);
  });

  it('replaying the same events in another order, sorted as the log is read, gives the same state', () => {
    const { h, now } = scenario();
    // The engine stamps each event with an id as it emits it; the log is read back ordered by that
    // id whatever order the events were stored in (concurrent flushes, a drained journal).
    const ids = new EventIdGenerator();
    const logged = h.events.map((e) => ({ e, eventId: ids.next(e.ts) }));
    const { random, note } = seededRandom('debt replay in shuffled order');
    for (let round = 0; round < 8; round++) {
      const stored = shuffled(logged, random);
      expect(stored, `${note} round ${round}: a real permutation`).not.toEqual(logged);
      const read = [...stored].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0)).map((x) => x.e);
      expect(h.replay(read, now), `${note} round ${round}`).toEqual(h.state);
    }
    // The fold depends on order, so reading the log in id order is what makes the state the same.
    expect(h.replay([...h.events].reverse(), now)).not.toEqual(h.state);
    expect(h.state.occurrencesByOutcome).toEqual({ paid: 1, missed: 2, failed: 1, timed_out: 1 });
  });
});
