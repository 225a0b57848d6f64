import type { z } from 'zod';
import { DomainError, type Problem } from '../domain/problems.js';
import { BadRequestError } from './errors.js';

/**
 * The one validation rule of every route (docs/semantics.md, "Validation"):
 * 400 when the request is not in the route's format (not JSON, a wrong JSON type, a missing or
 * unknown field, a value outside its fixed list, a string or array over its length limit, a
 * URL path that does not spell an id); 422 when the format is right but a value is not
 * acceptable (a number out of range, a string that does not denote what it names, a time
 * outside the window). Either answer lists every problem found; a request with both kinds is
 * a 400 listing both.
 */

/** Problems sorted by the rule: `malformed` ones make a 400, `invalid` ones alone a 422. */
export interface SortedProblems {
  malformed: Problem[];
  invalid: Problem[];
}

/** Whether a schema issue is a format problem (400) rather than an unacceptable value (422). */
function isMalformed(issue: z.core.$ZodIssue, where: string): boolean {
  if (where === 'path') return true;
  switch (issue.code) {
    case 'too_big':
    case 'too_small':
      return issue.origin === 'string' || issue.origin === 'array' || issue.origin === 'set';
    case 'invalid_format':
    case 'not_multiple_of':
    case 'custom':
      return false;
    default:
      return true;
  }
}

/** Sorts the issues of a failed parse of `where` (`path`, `query`, or '' for the body) into `into`. */
export function sortIssues(error: z.ZodError, where: string, into: SortedProblems): void {
  for (const issue of error.issues) {
    const base = [where, ...issue.path.map(String)].filter(Boolean).join('.');
    (isMalformed(issue, where) ? into.malformed : into.invalid).push({ path: base, message: issue.message });
  }
}

/** Throws the rule's answer for `problems` (400 or 422, every problem listed), or returns when there are none. */
export function throwIfProblems(problems: SortedProblems, what = 'invalid request'): void {
  const all = [...problems.malformed, ...problems.invalid];
  if (all.length === 0) return;
  const message = `${what}: ${all.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`;
  if (problems.malformed.length) throw new BadRequestError(message, all);
  throw new DomainError('invalid', message, all);
}
