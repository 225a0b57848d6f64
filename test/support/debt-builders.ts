import { applyDebtEvent } from '../../src/domain/debts/debt-apply.js';
import { advanceDebt, deriveStatus, payDebt, updateStatus, type DebtEventDraft } from '../../src/domain/debts/debt-decide.js';
import { DEFAULT_GRACE_MS, type DebtDefinition } from '../../src/domain/debts/debt-definition.js';
import { newDebtState, openThrough, type DebtState } from '../../src/domain/debts/debt-state.js';
import type { Payment } from '../../src/domain/debts/payment.js';
import { TimelineCache } from '../../src/engine/timelines.js';

/** A debt definition with sensible test defaults. */
export function debtDef(overrides: Partial<DebtDefinition> = {}): DebtDefinition {
  return {
    id: 'job',
    project: 'test',
    name: 'job',
    pingId: '00000000-0000-4000-8000-000000000000',
    schedule: null,
    graceMs: DEFAULT_GRACE_MS,
    startWithinMs: null,
    maxRuntimeMs: null,
    minRuntimeMs: null,
    stages: [],
    failuresBeforeAlert: 1,
    labels: {},
    paused: false,
    after: [],
    ...overrides,
  };
}

/** Epoch ms of an ISO instant. */
export const t = (iso: string): number => Date.parse(iso);

/**
 * Drives one debt through the pure domain functions as the engine does (advance, decide,
 * status), keeping every event so tests can replay them.
 */
export class DebtHarness {
  readonly ctx = new TimelineCache();
  readonly state: DebtState;
  readonly events: DebtEventDraft[] = [];

  constructor(
    readonly def: DebtDefinition,
    readonly createdAt: number,
  ) {
    this.state = newDebtState(def, createdAt);
  }

  /** Moves time to `now` and returns the events it caused. */
  advance(now: number): DebtEventDraft[] {
    const out = [...advanceDebt(this.state, now, this.ctx), ...updateStatus(this.state, now, this.ctx)];
    this.events.push(...out);
    return out;
  }

  /** Advances to `now` (default: the payment's time) and records a payment. */
  pay(payment: Partial<Payment> & { at: number }, now = payment.at): DebtEventDraft[] {
    const out = [
      ...advanceDebt(this.state, now, this.ctx),
      ...payDebt(this.state, { kind: 'success', ...payment }, this.ctx),
      ...updateStatus(this.state, now, this.ctx),
    ];
    this.events.push(...out);
    return out;
  }

  status(now: number): string {
    return deriveStatus(this.state, now, this.ctx);
  }

  /** Closed events' outcomes in order. */
  outcomes(): string[] {
    return this.events.filter((e) => e.type === 'occurrence.closed').map((e) => e.status);
  }

  /** A fresh state built by folding `events` (replay), opened through `now`. */
  replay(events: DebtEventDraft[], now: number): DebtState {
    const state = newDebtState(this.def, this.createdAt);
    for (const e of events) applyDebtEvent(state, e, this.ctx);
    openThrough(state, now, this.ctx);
    return state;
  }
}
