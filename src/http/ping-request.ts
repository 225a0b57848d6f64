import type { Clock } from '../domain/time/clock.js';
import { MESSAGE_LIMIT_BYTES, type Payment } from '../domain/debts/payment.js';
import { isUuid } from '../domain/debts/ping-key.js';
import { DomainError, ID_PATTERN } from '../domain/problems.js';
import type { DebtEngine, Vivify } from '../engine/debt-engine.js';
import { BadRequestError } from './errors.js';
import type { PingBody } from './ping-body.js';
import { vivifyFrom } from './payment-input.js';

/*
 * What a healthchecks-style ping URL asks for, and recording it (README, "Pings and
 * `compter exec`"):
 *
 *   /ping/{pingId}[/start|/fail|/log|/{exit 0-255}]
 *   /ping/{pingKey}/{debtId}[/start|/fail|/log|/{exit 0-255}]   (?create=1 vivifies)
 *
 * One path behind both ways a ping arrives: the app's ping routes (ping-routes.ts) and the ping
 * lane that answers the same URLs straight from Node's request (ping-lane.ts).
 */

/** Pings answer with this header (healthchecks' name) so clients know how much body is kept. */
export const PING_BODY_LIMIT_HEADER = 'Ping-Body-Limit';
export const PING_BODY_LIMIT_VALUE = String(MESSAGE_LIMIT_BYTES);

/** The route patterns of the ping URLs, by segment count (the `route` label of the HTTP metrics). */
export const PING_ROUTE_PATHS = ['/ping/:first', '/ping/:first/:second', '/ping/:first/:second/:third'] as const;

/** Finds the project a ping key belongs to (PingKeys). */
export interface PingKeyLookup {
  resolve(pingKey: string): string | undefined;
}

/** What the last path segment asks for. */
export interface PingAction {
  kind: Payment['kind'];
  exitCode?: number;
}

/** The debt a ping URL pays, what it records, and whether `?create=1` may create the debt. */
export interface PingTarget {
  project: string;
  debtId: string;
  action: PingAction;
  canCreate: boolean;
}

/** The parts of a ping request besides its path. */
export interface PingRequest {
  /** GET, HEAD or POST; only a POST's body is read. */
  method: string;
  /** A query parameter's first value, decoded ('' when present without a value). */
  query(name: string): string | undefined;
  readBody(): Promise<PingBody>;
  /** Counts the request against the project's rate limits; throws `rate_limited` when over. */
  charge(project: string): void;
}

/** What recording a ping did. */
export interface PingOutcome {
  /** `?create=1` created the debt (answer 201). */
  isCreated: boolean;
  /** The body was over the hard cap and not read to its end (answer 413, close the connection). */
  isOverCap: boolean;
}

const SUCCESS: PingAction = { kind: 'success' };
const ACTIONS: Record<string, PingAction> = { start: { kind: 'start' }, fail: { kind: 'fail' }, log: { kind: 'log' } };
const DIGITS = /^\d+$/;
/** Our payments' run id rule: 1–128 printable ASCII characters, no spaces. */
const RUN_ID = /^[\x21-\x7e]{1,128}$/;
const CREATE_VALUES = new Set(['1', 'true']);
/** What `?create=1` without schedule parameters creates: healthchecks' defaults (period 1 day, grace 1 hour). */
const DEFAULT_VIVIFY: Vivify = { schedule: { every: '1d' }, grace: '1h' };

/** The action a segment names, or null when it names none (404). Exit codes over 255 are a 400. */
function parseAction(segment: string): PingAction | null {
  const named = ACTIONS[segment];
  if (named) return named;
  if (!DIGITS.test(segment)) return null;
  const code = segment.length > 3 ? 256 : Number(segment);
  if (code > 255)
    throw new BadRequestError(`exit code ${segment.slice(0, 16)} is out of range: it must be 0–255`, [
      { path: 'path.exitCode', message: 'must be 0–255' },
    ]);
  return code === 0 ? { kind: 'success', exitCode: 0 } : { kind: 'fail', exitCode: code };
}

function actionOf(segment: string): PingAction {
  const action = parseAction(segment);
  if (!action) throw new DomainError('not_found', `no ping action "${segment.slice(0, 32)}": use start, fail, log or an exit code 0–255`);
  return action;
}

/**
 * A run id from `?rid=`: a UUID (healthchecks' rule; lower-cased so either case pairs start and
 * end) or, like our payments' runId, 1–128 printable ASCII characters. Anything else is a 400.
 */
export function parseRunId(rid: string): string {
  if (isUuid(rid)) return rid.toLowerCase();
  if (RUN_ID.test(rid)) return rid;
  throw new BadRequestError('rid must be a UUID or 1–128 printable ASCII characters without spaces', [
    { path: 'query.rid', message: 'must be a UUID or 1–128 printable ASCII characters without spaces' },
  ]);
}

function byPingId(engine: DebtEngine, pingId: string, action: PingAction): PingTarget {
  const target = engine.resolvePingId(pingId) ?? (isUuid(pingId) ? engine.resolvePingId(pingId.toLowerCase()) : undefined);
  if (!target) throw new DomainError('not_found', 'no debt has this ping id');
  return { project: target.project, debtId: target.id, action, canCreate: false };
}

function byPingKey(pingKeys: PingKeyLookup, pingKey: string, debtId: string, action: PingAction): PingTarget {
  const project = pingKeys.resolve(pingKey);
  if (project === undefined) throw new DomainError('not_found', 'no project has this ping key');
  if (!ID_PATTERN.test(debtId))
    throw new BadRequestError('the debt id in a ping URL must match ^[a-z0-9][a-z0-9._-]{0,127}$', [
      { path: 'path.debtId', message: 'must match ^[a-z0-9][a-z0-9._-]{0,127}$' },
    ]);
  return { project, debtId, action, canCreate: true };
}

/**
 * The target of a ping URL from its path segments after `/ping/` (one to three, decoded).
 * A ping id is a UUID and a ping key never looks like one, so the first segment says which form
 * it is. Throws `not_found` for what names no debt or action, a 400 for a malformed one.
 */
export function pingTarget(engine: DebtEngine, pingKeys: PingKeyLookup, segments: readonly string[]): PingTarget {
  const [first = '', second, third] = segments;
  if (third !== undefined) {
    if (isUuid(first)) throw new DomainError('not_found', 'no such ping URL: a ping id takes one action segment (/ping/{pingId}/start)');
    return byPingKey(pingKeys, first, second!, actionOf(third));
  }
  if (second !== undefined) return isUuid(first) ? byPingId(engine, first, actionOf(second)) : byPingKey(pingKeys, first, second, SUCCESS);
  if (!isUuid(first)) throw new DomainError('not_found', 'no debt has this ping id');
  return byPingId(engine, first, SUCCESS);
}

/**
 * Records the ping: charges the project, reads a POST's body as the message (its first
 * Ping-Body-Limit bytes), and pays the debt, creating it when `?create=1` asks and the URL may.
 * Resolves once the payment is durable.
 */
export async function recordPing(engine: DebtEngine, clock: Clock, target: PingTarget, request: PingRequest): Promise<PingOutcome> {
  const { project, debtId, action, canCreate } = target;
  request.charge(project);
  const payment: Payment = { kind: action.kind, at: clock.now() };
  if (action.exitCode !== undefined) payment.exitCode = action.exitCode;
  const rid = request.query('rid');
  if (rid !== undefined) payment.runId = parseRunId(rid);
  let isOverCap = false;
  if (request.method === 'POST') {
    const body = await request.readBody();
    if (body.text !== '') payment.message = body.text;
    isOverCap = body.isOverCap;
  }
  const create = canCreate ? request.query('create') : undefined;
  const isCreate = create !== undefined && CREATE_VALUES.has(create);
  try {
    const { created } = await engine.payQuietly(project, debtId, payment, isCreate ? vivifyFromQuery(request) : undefined);
    return { isCreated: created, isOverCap };
  } catch (err) {
    if (err instanceof DomainError && err.code === 'not_found' && canCreate) {
      throw new DomainError(
        'not_found',
        `no debt "${debtId}"; add ?create=1 to create it from this ping ` +
          '(with a schedule: &every=1h, or &cron=0+2+*+*+*&tz=UTC, and &grace=15m; without one: every 1 day, grace 1 hour)',
      );
    }
    throw err;
  }
}

/** `?create=1` with schedule parameters, or healthchecks' defaults when there are none. */
function vivifyFromQuery(request: PingRequest): Vivify {
  const q = (name: string) => request.query(name);
  const grace = q('grace');
  return (
    vivifyFrom({ every: q('every'), cron: q('cron'), tz: q('tz'), grace }) ??
    (grace === undefined ? DEFAULT_VIVIFY : { ...DEFAULT_VIVIFY, grace })
  );
}
