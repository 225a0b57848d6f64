/**
 * Job status reports (docs/semantics.md, "Job status"): `POST /v1/job-status` with one report or an
 * array of up to 1000. Reading a body separates what is malformed (not an object, wrong types,
 * unknown fields: 400) from what is well-formed but fails a data-quality rule (unknown status,
 * a time without offset or in the future, a business date that is no date: 422); both list
 * every problem with the item's index (`[3].time`). The rules that need state (a runId that
 * already belongs to another job, a business date that cannot be derived) are the engine's.
 */
import { z } from 'zod';
import { isRealDate, MAX_FUTURE_SKEW_MS, parseInstant } from '../debts/payment.js';
import type { Problem } from '../problems.js';
import { JOB_NAME_PATTERN } from './slo.js';

export const JOB_STATUS_VALUES = ['start', 'succeed', 'fail'] as const;
export type JobStatusValue = (typeof JOB_STATUS_VALUES)[number];

/** Most reports one request may carry. */
export const MAX_JOB_STATUS_BATCH = 1000;

const RUN_ID = /^[\x21-\x7e]{1,128}$/;
/** A business date further than this from the report's time is a typo (2062 for 2026), not a late run. */
const MAX_BUSINESS_DATE_DISTANCE_DAYS = 92;
const MAX_BUSINESS_DATE_DISTANCE_MS = MAX_BUSINESS_DATE_DISTANCE_DAYS * 86_400_000;
/** Reports before this are typos (a year 0026), not history. */
const EARLIEST_TIME_MS = Date.UTC(2000, 0, 1);

/** One report as sent (structural: the data-quality rules run on top of it). */
export const jobStatusItemSchema = z.strictObject({
  application: z.string().max(128),
  job: z.string().max(128),
  status: z.string().max(32).describe('start | succeed | fail'),
  time: z.string().max(64).optional().describe('ISO 8601 with offset; receipt time when absent'),
  businessDate: z.string().max(32).optional().describe('YYYY-MM-DD; derived from an SLO calendar when absent'),
  runId: z.string().max(128).optional(),
  host: z.string().max(256).optional(),
});

export type JobStatusItem = z.infer<typeof jobStatusItemSchema>;

/** A report that passed every stateless rule. */
export interface JobStatusReport {
  /** Position in the request (0 for a single object), for problem paths. */
  index: number;
  /** Problem path prefix: `[3].` in a batch, '' for a single object. */
  pathPrefix: string;
  application: string;
  job: string;
  status: JobStatusValue;
  /** The job's reported time, epoch ms. */
  at: number;
  /** As sent; null when the engine must derive it. */
  businessDate: string | null;
  /** '' when the job sent none: then the job has one anonymous run per business date. */
  runId: string;
  host: string;
}

/** What a body holds: the valid reports, and problems that make it malformed (400) or invalid (422). */
export interface ParsedJobStatusBody {
  reports: JobStatusReport[];
  malformed: Problem[];
  invalid: Problem[];
}

/** What the metrics exposition needs to know about one job. */
export interface JobMetricsView {
  project: string;
  application: string;
  job: string;
  succeeded: number;
  failed: number;
  lastDurationMs: number | null;
}

/** Reads a job-status body (one report or an array) and checks every stateless rule. */
export function parseJobStatusBody(body: unknown, now: number): ParsedJobStatusBody {
  const out: ParsedJobStatusBody = { reports: [], malformed: [], invalid: [] };
  if (body === undefined || body === null) {
    out.malformed.push({ path: '', message: 'a job status (an object) or an array of them is required' });
    return out;
  }
  const isBatch = Array.isArray(body);
  const items: unknown[] = isBatch ? body : [body];
  if (isBatch && items.length === 0) out.malformed.push({ path: '', message: 'the array is empty' });
  if (items.length > MAX_JOB_STATUS_BATCH) {
    out.malformed.push({ path: '', message: `at most ${MAX_JOB_STATUS_BATCH} job statuses per request (got ${items.length})` });
    return out;
  }
  items.forEach((item, index) => {
    const prefix = isBatch ? `[${index}].` : '';
    const parsed = jobStatusItemSchema.safeParse(item);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys) out.malformed.push({ path: `${prefix}${key}`, message: 'unknown field' });
        } else {
          const field = issue.path.map(String).join('.');
          out.malformed.push({ path: field ? `${prefix}${field}` : prefix.replace(/\.$/, '') || '', message: issue.message });
        }
      }
      // Quality rules still run on the fields that have the right type, so one answer lists all.
      if (typeof item === 'object' && item !== null && !Array.isArray(item))
        qualityProblems(item as Record<string, unknown>, prefix, now, out.invalid);
      return;
    }
    const report = checkItem(parsed.data, index, prefix, now, out.invalid);
    if (report) out.reports.push(report);
  });
  return out;
}

function checkItem(item: JobStatusItem, index: number, prefix: string, now: number, problems: Problem[]): JobStatusReport | null {
  const before = problems.length;
  const at = qualityProblems(item, prefix, now, problems);
  if (problems.length > before || at === null) return null;
  return {
    index,
    pathPrefix: prefix,
    application: item.application,
    job: item.job,
    status: item.status as JobStatusValue,
    at,
    businessDate: item.businessDate ?? null,
    runId: item.runId ?? '',
    host: item.host ?? '',
  };
}

/** Pushes every data-quality problem of one item; returns its time (receipt time when absent), or null when bad. */
function qualityProblems(item: Record<string, unknown>, prefix: string, now: number, problems: Problem[]): number | null {
  const { application, job, status, time, businessDate, runId } = item;
  if (typeof application === 'string' && !JOB_NAME_PATTERN.test(application)) {
    problems.push({ path: `${prefix}application`, message: 'must be 1–128 characters without spaces or control characters' });
  }
  if (typeof job === 'string' && !JOB_NAME_PATTERN.test(job)) {
    problems.push({ path: `${prefix}job`, message: 'must be 1–128 characters without spaces or control characters' });
  }
  if (typeof status === 'string' && !(JOB_STATUS_VALUES as readonly string[]).includes(status)) {
    problems.push({ path: `${prefix}status`, message: `unknown status "${status.slice(0, 32)}": use start, succeed or fail` });
  }
  let at: number | null = now;
  if (typeof time === 'string') {
    at = parseInstant(time);
    if (at === null) {
      problems.push({ path: `${prefix}time`, message: 'must be an ISO 8601 instant with a zone offset, e.g. 2026-11-20T03:05:00+01:00' });
    } else if (at > now + MAX_FUTURE_SKEW_MS) {
      problems.push({ path: `${prefix}time`, message: 'is in the future beyond the allowed clock skew (5m)' });
      at = null;
    } else if (at < EARLIEST_TIME_MS) {
      problems.push({ path: `${prefix}time`, message: 'is before the year 2000' });
      at = null;
    }
  }
  if (typeof businessDate === 'string') {
    if (!isRealDate(businessDate)) {
      problems.push({ path: `${prefix}businessDate`, message: `"${businessDate.slice(0, 32)}" is not a date YYYY-MM-DD` });
    } else if (at !== null && Math.abs(Date.parse(`${businessDate}T12:00:00Z`) - at) > MAX_BUSINESS_DATE_DISTANCE_MS) {
      problems.push({
        path: `${prefix}businessDate`,
        message: `${businessDate} is more than ${MAX_BUSINESS_DATE_DISTANCE_DAYS} days from the report's time`,
      });
    }
  }
  if (typeof runId === 'string' && !RUN_ID.test(runId)) {
    problems.push({ path: `${prefix}runId`, message: 'must be 1–128 printable ASCII characters without spaces' });
  }
  return at;
}
