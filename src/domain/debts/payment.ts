import { z } from 'zod';
import { PAYMENT_KINDS, type PaymentKind } from './debt-types.js';
import type { Problem } from '../problems.js';
import { scheduleInputSchema } from './debt-definition.js';

/** A payment after validation: what the debt logic consumes. */
export interface Payment {
  kind: PaymentKind;
  stage?: string;
  runId?: string;
  exitCode?: number;
  host?: string;
  message?: string;
  /** Run length the client measured; it wins over the time between the start and the end as received. */
  durationMs?: number;
  /** The reporter's environment (Sentry's `environment`), kept on the payment event. */
  environment?: string;
  /** When it happened, epoch ms (receipt time unless the client said). */
  at: number;
  businessDate?: string;
}

/** Messages are kept up to this many bytes (docs/semantics.md); longer ones are truncated, not refused. */
export const MESSAGE_LIMIT_BYTES = 10 * 1024;
/** How far a client's `at` may lie in the past: late reports from a retrying job are normal. */
export const MAX_PAST_SKEW_MS = 7 * 24 * 3600_000;
/** How far in the future a client's `at` may lie: clock skew only. */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

const RUN_ID = /^[\x21-\x7e]{1,128}$/;
export const BUSINESS_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** The JSON body of POST /v1/debts/{id}/payments (schedule fields vivify an unknown debt). */
export const paymentInputSchema = z
  .object({
    kind: z.enum(PAYMENT_KINDS).optional(),
    stage: z.string().min(1).max(128).optional(),
    runId: z.string().max(128).optional(),
    exitCode: z.number().int().optional(),
    host: z.string().max(256).optional(),
    // Any length up to the route's body cap: it is cut to MESSAGE_LIMIT_BYTES, never refused.
    message: z
      .string()
      .max(2 ** 30)
      .optional(),
    at: z.string().max(64).optional(),
    durationSeconds: z
      .number()
      .min(0)
      .max(MAX_PAST_SKEW_MS / 1000)
      .optional(),
    businessDate: z.string().max(10).optional(),
    schedule: scheduleInputSchema.optional(),
    grace: z.union([z.string().max(64), z.number()]).optional(),
  })
  .strict();

export type PaymentInput = z.infer<typeof paymentInputSchema>;

/** Validates a payment's fields against each other and the clock; lists every problem. */
export function normalizePayment(input: Omit<PaymentInput, 'schedule' | 'grace'>, now: number): { payment?: Payment; problems: Problem[] } {
  const problems: Problem[] = [];
  let kind: PaymentKind = input.kind ?? 'success';
  if (input.exitCode !== undefined) {
    if (input.exitCode < 0 || input.exitCode > 255) problems.push({ path: 'exitCode', message: 'must be 0–255' });
    else if (kind === 'success' && input.exitCode !== 0) kind = 'fail';
    else if (kind === 'fail' && input.exitCode === 0)
      problems.push({ path: 'exitCode', message: 'a fail payment cannot have exit code 0' });
  }
  if (kind === 'stage' && !input.stage) problems.push({ path: 'stage', message: 'required when kind is "stage"' });
  if (kind !== 'stage' && input.stage !== undefined) problems.push({ path: 'stage', message: 'only allowed when kind is "stage"' });
  if (input.runId !== undefined && !RUN_ID.test(input.runId))
    problems.push({ path: 'runId', message: 'must be 1–128 printable ASCII characters without spaces' });
  if (input.durationSeconds !== undefined && kind !== 'success' && kind !== 'fail')
    problems.push({ path: 'durationSeconds', message: 'only allowed on a success or fail payment' });
  if (input.businessDate !== undefined && !isRealDate(input.businessDate))
    problems.push({ path: 'businessDate', message: 'must be a date YYYY-MM-DD' });
  let at = now;
  if (input.at !== undefined) {
    const parsed = parseInstant(input.at);
    if (parsed === null) problems.push({ path: 'at', message: 'must be an ISO 8601 instant with a zone offset' });
    else if (parsed > now + MAX_FUTURE_SKEW_MS)
      problems.push({ path: 'at', message: 'is in the future beyond the allowed clock skew (5m)' });
    else if (parsed < now - MAX_PAST_SKEW_MS) problems.push({ path: 'at', message: 'is more than 7 days in the past' });
    else at = parsed;
  }
  if (problems.length) return { problems };
  const payment: Payment = { kind, at };
  if (input.stage !== undefined) payment.stage = input.stage;
  if (input.runId !== undefined) payment.runId = input.runId;
  if (input.exitCode !== undefined) payment.exitCode = input.exitCode;
  if (input.host !== undefined) payment.host = input.host;
  if (input.message !== undefined) payment.message = truncateUtf8(input.message, MESSAGE_LIMIT_BYTES);
  if (input.durationSeconds !== undefined) payment.durationMs = Math.round(input.durationSeconds * 1000);
  if (input.businessDate !== undefined) payment.businessDate = input.businessDate;
  return { payment, problems };
}

/** Parses an ISO 8601 instant that carries a zone (Z or ±HH:MM); null otherwise. */
export function parseInstant(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** True for a real calendar date in YYYY-MM-DD form (rejects 2026-02-30). */
export function isRealDate(value: string): boolean {
  if (!BUSINESS_DATE.test(value)) return false;
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Cuts a string to at most `limit` UTF-8 bytes without splitting a character. */
export function truncateUtf8(value: string, limit: number): string {
  if (value.length * 3 <= limit) return value;
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= limit) return value;
  let end = limit;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a character boundary.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
