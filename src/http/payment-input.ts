import type { ScheduleInput } from '../domain/debts/debt-definition.js';
import { normalizePayment, type Payment, type PaymentInput } from '../domain/debts/payment.js';
import { assertNoProblems } from '../domain/problems.js';
import type { Vivify } from '../engine/debt-engine.js';

/** Schedule parameters from a query string (`?every=1h`, `?cron=...&tz=...`, `?grace=`). */
export interface VivifyParams {
  every?: string | undefined;
  cron?: string | undefined;
  tz?: string | undefined;
  grace?: string | undefined;
}

/** The vivify instruction carried by a payment's query or body, if any. */
export function vivifyFrom(query: VivifyParams, body?: Pick<PaymentInput, 'schedule' | 'grace'>): Vivify | undefined {
  let schedule: ScheduleInput | undefined = body?.schedule;
  if (!schedule && (query.every !== undefined || query.cron !== undefined)) {
    schedule = {};
    if (query.every !== undefined) schedule.every = query.every;
    if (query.cron !== undefined) schedule.cron = query.cron;
    if (query.tz !== undefined) schedule.tz = query.tz;
  }
  if (!schedule) return undefined;
  const grace = body?.grace ?? query.grace;
  return grace === undefined ? { schedule } : { schedule, grace };
}

/** Validates a payment body at `now`, throwing an `invalid` error that lists every problem. */
export function paymentFrom(input: Omit<PaymentInput, 'schedule' | 'grace'>, now: number): Payment {
  const { payment, problems } = normalizePayment(input, now);
  assertNoProblems(problems, 'invalid payment');
  return payment!;
}
