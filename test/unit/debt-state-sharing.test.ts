import { describe, expect, it } from 'vitest';
import { applyDebtEvent } from '../../src/domain/debts/debt-apply.js';
import { compactDefinition } from '../../src/domain/debts/debt-definition.js';
import { compactState, everyOccurrence, newDebtState } from '../../src/domain/debts/debt-state.js';
import type { LogEvent } from '../../src/domain/event.js';
import { DebtHarness, debtDef, t } from '../support/debt-builders.js';

const hourly = () => debtDef({ schedule: { kind: 'cron', cron: '0 * * * *', tz: 'UTC' } });
const started = (fromAt: number, ts: number) =>
  ({ eventId: `e-${ts}`, project: 'p', type: 'compter.started', ts, attributes: { unwatchedFrom: fromAt } }) as unknown as Extract<
    LogEvent,
    { type: 'compter.started' }
  >;

describe('debt state shares what most debts hold alike', () => {
  it('an `every` occurrence is dated by the UTC day it falls on, before 1970 and far ahead too', () => {
    const def = debtDef({ schedule: { kind: 'every', everyMs: 3_600_000 } });
    for (const iso of ['2026-12-05T23:30:00Z', '2026-12-31T23:00:00Z', '1969-12-31T23:30:00Z', '9999-12-31T22:00:00Z']) {
      const anchor = t(iso);
      const due = new Date(anchor + 3_600_000).toISOString().slice(0, 10);
      expect(everyOccurrence(def, 3_600_000, anchor).businessDate).toBe(due);
    }
  });

  it('debts that lived through the same outages hold one frozen list of them', () => {
    const a = new DebtHarness(hourly(), t('2026-11-20T00:00:00Z'));
    const b = new DebtHarness(hourly(), t('2026-11-20T00:00:00Z'));
    const outage = started(t('2026-11-20T01:00:00Z'), t('2026-11-20T03:00:00Z'));
    applyDebtEvent(a.state, outage, a.ctx);
    applyDebtEvent(b.state, outage, b.ctx);
    expect(a.state.unwatched).toEqual([{ fromAt: outage.attributes.unwatchedFrom, toAt: outage.ts }]);
    expect(a.state.unwatched).toBe(b.state.unwatched);
    expect(Object.isFrozen(a.state.unwatched)).toBe(true);
  });

  it('a payment gives the debt its own counts and runs, leaving the shared empties empty', () => {
    const a = new DebtHarness(hourly(), t('2026-11-20T00:00:00Z'));
    const b = new DebtHarness(hourly(), t('2026-11-20T00:00:00Z'));
    expect(a.state.paymentsByKind).toBe(b.state.paymentsByKind);
    a.pay({ kind: 'start', at: t('2026-11-20T01:00:30Z') });
    a.pay({ kind: 'success', at: t('2026-11-20T01:01:00Z') });
    expect(a.state.paymentsByKind).toEqual({ start: 1, success: 1 });
    expect(a.state.occurrencesByOutcome).toEqual({ paid: 1 });
    expect(b.state.paymentsByKind).toEqual({});
    expect(b.state.occurrencesByOutcome).toEqual({});
    expect(b.state.runs).toEqual([]);
    expect(b.state.recent).toEqual([]);
  });

  it('a restored state and definition point at the shared empties and stay writable through the apply path', () => {
    const def = compactDefinition(JSON.parse(JSON.stringify(hourly())));
    const other = compactDefinition(JSON.parse(JSON.stringify(hourly())));
    expect(def.labels).toBe(other.labels);
    expect(def.after).toBe(other.after);
    const restored = compactState(JSON.parse(JSON.stringify(newDebtState(def, t('2026-11-20T00:00:00Z')))));
    const fresh = newDebtState(other, t('2026-11-20T00:00:00Z'));
    expect(restored.open).toBe(fresh.open);
    expect(restored.paymentsByKind).toBe(fresh.paymentsByKind);
    const h = new DebtHarness(def, t('2026-11-20T00:00:00Z'));
    Object.assign(h.state, restored);
    h.pay({ kind: 'success', at: t('2026-11-20T01:01:00Z') });
    expect(h.state.paymentsByKind).toEqual({ success: 1 });
    expect(fresh.paymentsByKind).toEqual({});
  });

  it('compacting a definition keeps every field it has and adds none it lacks', () => {
    const full = debtDef({
      schedule: { kind: 'cron', cron: '0 * * * *', tz: 'UTC' },
      name: 'Nightly load',
      startWithinMs: 60_000,
      maxRuntimeMs: 3_600_000,
      minRuntimeMs: 1_000,
      stages: ['extract', 'load'],
      failuresBeforeAlert: 3,
      successesBeforeRecovery: 2,
      labels: { team: 'dw' },
      paused: true,
      after: ['upstream'],
    });
    expect(compactDefinition(JSON.parse(JSON.stringify(full)))).toStrictEqual(full);
    const plain = hourly();
    delete plain.successesBeforeRecovery;
    const compact = compactDefinition(JSON.parse(JSON.stringify(plain)));
    expect(compact).not.toHaveProperty('successesBeforeRecovery');
    expect(compact).toEqual(plain);
  });
});
