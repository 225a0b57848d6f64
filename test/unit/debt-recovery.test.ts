import { describe, expect, it } from 'vitest';
import { applyDebtEvent } from '../../src/domain/debts/debt-apply.js';
import { normalizeDebtInput, scheduleToJson } from '../../src/domain/debts/debt-definition.js';
import { newDebtState } from '../../src/domain/debts/debt-state.js';
import { addUtcMonths } from '../../src/domain/time/schedule.js';
import { describeSchedule } from '../../src/domain/time/schedule-words.js';
import { DebtHarness, debtDef, t } from '../support/debt-builders.js';

const daily = (overrides = {}) => debtDef({ schedule: { kind: 'cron', cron: '0 2 * * *', tz: 'UTC' }, ...overrides });
const day = (n: number, hh = '02:01') => t(`2026-11-${String(20 + n).padStart(2, '0')}T${hh}:00Z`);

describe('successesBeforeRecovery (Sentry recovery_threshold)', () => {
  it('a failed debt stays failed until that many successes in a row', () => {
    const h = new DebtHarness(daily({ successesBeforeRecovery: 3 }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'fail', at: day(1) });
    expect(h.state.status).toBe('failed');
    h.pay({ kind: 'success', at: day(2) });
    expect(h.state.status).toBe('failed');
    h.pay({ kind: 'success', at: day(3) });
    expect(h.state.status).toBe('failed');
    h.pay({ kind: 'success', at: day(4) });
    expect(h.state.status).toBe('up');
  });

  it('a failure between the successes starts the count again', () => {
    const h = new DebtHarness(daily({ successesBeforeRecovery: 2 }), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'fail', at: day(1) });
    h.pay({ kind: 'success', at: day(2) });
    h.pay({ kind: 'fail', at: day(3) });
    h.pay({ kind: 'success', at: day(4) });
    expect(h.state.status).toBe('failed');
    h.pay({ kind: 'success', at: day(5) });
    expect(h.state.status).toBe('up');
  });

  it('the default (1) recovers on the first success, and replaying the log gives the same state', () => {
    const h = new DebtHarness(daily(), t('2026-11-20T12:00:00Z'));
    h.pay({ kind: 'fail', at: day(1) });
    h.pay({ kind: 'success', at: day(2) });
    expect(h.state.status).toBe('up');
    const slow = new DebtHarness(daily({ successesBeforeRecovery: 2 }), t('2026-11-20T12:00:00Z'));
    slow.pay({ kind: 'fail', at: day(1) });
    slow.pay({ kind: 'success', at: day(2) });
    const replayed = newDebtState(slow.def, slow.createdAt);
    for (const e of slow.events) applyDebtEvent(replayed, e, slow.ctx);
    expect(replayed.recovery).toEqual(slow.state.recovery);
    expect(replayed.status).toBe('failed');
  });

  it('is left out of the definition at its default, so older logged definitions compare equal', () => {
    const identity = { id: 'x', project: 'p', pingId: 'id' };
    expect(normalizeDebtInput({ successesBeforeRecovery: 1 }, identity).definition).not.toHaveProperty('successesBeforeRecovery');
    expect(normalizeDebtInput({ successesBeforeRecovery: 4 }, identity).definition?.successesBeforeRecovery).toBe(4);
  });
});

describe('calendar-month intervals (Sentry month and year intervals)', () => {
  it('adds calendar months in UTC, clamping to the last day of a shorter month', () => {
    expect(new Date(addUtcMonths(t('2026-01-31T06:00:00Z'), 1)).toISOString()).toBe('2026-02-28T06:00:00.000Z');
    expect(new Date(addUtcMonths(t('2028-01-31T06:00:00Z'), 1)).toISOString()).toBe('2028-02-29T06:00:00.000Z');
    expect(new Date(addUtcMonths(t('2026-11-20T12:00:00Z'), 14)).toISOString()).toBe('2028-01-20T12:00:00.000Z');
  });

  it('"every": "2mo" is due two calendar months after the last success, and reads back as written', () => {
    const { definition } = normalizeDebtInput({ schedule: { every: '2mo' }, grace: 0 }, { id: 'x', project: 'p', pingId: 'id' });
    expect(scheduleToJson(definition!.schedule)).toEqual({ every: '2mo' });
    expect(describeSchedule(definition!.schedule!)).toBe('every 2 months after the last success');
    const h = new DebtHarness(definition!, t('2026-12-31T00:00:00Z'));
    h.pay({ kind: 'success', at: t('2026-12-31T08:00:00Z') });
    h.advance(t('2027-02-27T00:00:00Z'));
    expect(h.state.open[0]?.scheduledAt).toBe(t('2027-02-28T08:00:00Z'));
    expect(h.status(t('2027-02-28T07:59:00Z'))).toBe('up');
    expect(h.status(t('2027-02-28T08:00:01Z'))).toBe('overdue');
  });

  it('months out of range are a problem on the schedule', () => {
    const { problems } = normalizeDebtInput({ schedule: { every: '121mo' } }, { id: 'x', project: 'p', pingId: 'id' });
    expect(problems).toEqual([{ path: 'schedule.every', message: 'months must be 1–120' }]);
  });
});
