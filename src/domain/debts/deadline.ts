import type { DebtDefinition } from './debt-definition.js';

/**
 * The deadline of an occurrence scheduled at `scheduledAt`: its scheduled time plus the debt's
 * grace, epoch ms. Overdue means strictly after it: a payment exactly at the deadline is on time.
 */
export function deadlineOf(scheduledAt: number, def: Pick<DebtDefinition, 'graceMs'>): number {
  return scheduledAt + def.graceMs;
}
