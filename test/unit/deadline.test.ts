import { describe, expect, it } from 'vitest';
import { deadlineOf } from '../../src/domain/debts/deadline.js';
import { nextDeadline } from '../../src/domain/debts/debt-decide.js';
import { DebtHarness, debtDef, t } from '../support/debt-builders.js';

describe('deadlineOf', () => {
  it('is the scheduled time plus grace; a grace of 0 makes the deadline the scheduled time', () => {
    expect(deadlineOf(t('2026-11-21T02:00:00Z'), { graceMs: 15 * 60_000 })).toBe(t('2026-11-21T02:15:00Z'));
    expect(deadlineOf(t('2026-11-21T02:00:00Z'), { graceMs: 0 })).toBe(t('2026-11-21T02:00:00Z'));
  });

  it('is the deadline every part of the debt logic uses: the next deadline, an open occurrence, a missed one', () => {
    const def = debtDef({ schedule: { kind: 'cron', cron: '0 2 * * *', tz: 'UTC' }, graceMs: 7 * 60_000 });
    const h = new DebtHarness(def, t('2026-11-20T12:00:00Z'));
    expect(nextDeadline(h.state, h.ctx)).toBe(deadlineOf(t('2026-11-21T02:00:00Z'), def));
    h.advance(t('2026-11-21T02:00:00Z'));
    expect(h.state.open.map((o) => o.deadline)).toEqual([deadlineOf(t('2026-11-21T02:00:00Z'), def)]);
    h.advance(t('2026-11-22T02:00:00Z'));
    expect(h.state.missedDeadlineAt).toBe(deadlineOf(t('2026-11-21T02:00:00Z'), def));
  });
});
