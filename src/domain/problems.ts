/** One thing wrong with a client's input, located by a dotted path (`schedule.cron`). */
export interface Problem {
  path: string;
  message: string;
}

/** Codes a domain error carries; the HTTP layer maps them to statuses, the domain never does. */
export type DomainErrorCode =
  'invalid' | 'not_found' | 'conflict' | 'gone' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'unavailable' | 'too_large';

/** A refusal with a code and, for invalid input, every problem found. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly problems: Problem[] = [],
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Throws an `invalid` DomainError listing `problems` when there are any. */
export function assertNoProblems(problems: Problem[], what: string): void {
  if (problems.length > 0) {
    throw new DomainError('invalid', `${what}: ${problems.map((p) => `${p.path || '(body)'}: ${p.message}`).join('; ')}`, problems);
  }
}

/** The id rule, shared by debts, SLOs, calendars and projects. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/;
