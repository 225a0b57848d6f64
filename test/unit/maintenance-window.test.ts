import { describe, expect, it } from 'vitest';
import { coversDebt, isActiveAt, nextChangeAfter, normalizeMaintenanceInput } from '../../src/domain/maintenance/maintenance-window.js';
import { cronTimeline } from '../../src/domain/time/cron-schedule.js';

const t = (iso: string) => Date.parse(iso);

describe('maintenance windows', () => {
  const sunday = normalizeMaintenanceInput(
    { match: { labels: { team: 'billing' } }, cron: '0 3 * * 0', tz: 'Europe/Copenhagen', duration: '2h' },
    { id: 'sunday', project: 'p' },
  ).window!;
  const timeline = cronTimeline('0 3 * * 0', 'Europe/Copenhagen');

  it('a recurring window applies from each cron time for its duration, in its zone across DST', () => {
    // 2027-03-28: Copenhagen moves to CEST at 02:00, so 03:00 local is 01:00Z.
    expect(isActiveAt(sunday, t('2027-03-28T00:59:59Z'), timeline)).toBe(false);
    expect(isActiveAt(sunday, t('2027-03-28T01:00:00Z'), timeline)).toBe(true);
    expect(isActiveAt(sunday, t('2027-03-28T02:59:59Z'), timeline)).toBe(true);
    expect(isActiveAt(sunday, t('2027-03-28T03:00:00Z'), timeline)).toBe(false);
    // The week before, still CET: 03:00 local is 02:00Z.
    expect(isActiveAt(sunday, t('2027-03-21T01:30:00Z'), timeline)).toBe(false);
    expect(isActiveAt(sunday, t('2027-03-21T02:30:00Z'), timeline)).toBe(true);
  });

  it('says when it next starts or ends, so the timer wakes then', () => {
    expect(nextChangeAfter(sunday, t('2027-03-28T00:00:00Z'), timeline)).toBe(t('2027-03-28T01:00:00Z'));
    expect(nextChangeAfter(sunday, t('2027-03-28T01:30:00Z'), timeline)).toBe(t('2027-03-28T03:00:00Z'));
    const range = normalizeMaintenanceInput(
      { match: { debts: ['a'] }, from: '2026-12-01T00:00:00Z', to: '2026-12-01T02:00:00Z' },
      { id: 'r', project: 'p' },
    ).window!;
    expect(nextChangeAfter(range, t('2026-11-30T00:00:00Z'), null)).toBe(t('2026-12-01T00:00:00Z'));
    expect(nextChangeAfter(range, t('2026-12-01T01:00:00Z'), null)).toBe(t('2026-12-01T02:00:00Z'));
    expect(nextChangeAfter(range, t('2026-12-01T02:00:00Z'), null)).toBeNull();
    expect(isActiveAt(range, t('2026-12-01T02:00:00Z'), null)).toBe(false);
  });

  it('covers a debt by id or by every label it names', () => {
    expect(coversDebt(sunday, 'ledger', { team: 'billing', tier: '1' })).toBe(true);
    expect(coversDebt(sunday, 'ledger', { team: 'web' })).toBe(false);
    expect(coversDebt(sunday, 'ledger', {})).toBe(false);
  });
});
