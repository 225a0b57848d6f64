import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { DomainError, type Problem } from '../domain/problems.js';
import { grantsScope, MAX_TOKEN_LENGTH, type Scope, type TokenRecord } from '../domain/tokens.js';
import type { AppEnv, Principal } from './env.js';
import { rulesOf } from './route-rules.js';

/** The project every request acts for when no tokens are configured (README, Configuration). */
export const OPEN_PROJECT = 'default';

const OPEN_PRINCIPAL: Principal = Object.freeze({
  name: 'open',
  project: OPEN_PROJECT,
  scopes: Object.freeze(['admin'] as Scope[]),
  applications: null,
});

/** The configured tokens, by digest. Replaceable at runtime (config reload) without a restart. */
export class TokenRegistry {
  private byDigest = new Map<string, Principal>();

  constructor(tokens: readonly TokenRecord[] = []) {
    this.replace(tokens);
  }

  /** Swaps in a new token list: a removed token stops working with the next request. */
  replace(tokens: readonly TokenRecord[]): void {
    const next = new Map<string, Principal>();
    for (const t of tokens) {
      next.set(
        t.hash.slice('sha256:'.length),
        Object.freeze({
          name: t.name,
          project: t.project,
          scopes: Object.freeze([...t.scopes]),
          applications: t.applications ? new Set(t.applications) : null,
        }),
      );
    }
    this.byDigest = next;
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** True when no tokens are configured: every request acts for `default` with every scope. */
  get isOpen(): boolean {
    return this.byDigest.size === 0;
  }

  /**
   * The token's principal, or null. The secret is hashed first and the map is keyed by the
   * digest, so how long the lookup takes depends on the digest, which an attacker cannot
   * steer towards a stored one: no byte-by-byte comparison of the secret ever happens.
   */
  lookup(token: string): Principal | null {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    return this.byDigest.get(createHash('sha256').update(token, 'utf8').digest('hex')) ?? null;
  }
}

/** Throws `forbidden` unless the request's principal holds `scope` (admin holds all; write holds read). */
export function requireScope(c: Context<AppEnv>, scope: Scope): void {
  const principal = c.get('principal');
  if (!principal) throw new DomainError('unauthorized', 'this route needs a bearer token');
  assertScope(principal, scope);
}

/** Throws `forbidden` unless `principal` holds `scope`. */
function assertScope(principal: Principal, scope: Scope): void {
  if (!grantsScope(principal.scopes, scope)) {
    throw new DomainError(
      'forbidden',
      `token "${principal.name}" has scopes [${principal.scopes.join(', ')}]; this request needs "${scope}"`,
    );
  }
}

/**
 * Throws `forbidden` listing every application in `applications` the request's token may not
 * report job status for (tokens declared with `applications:`). `path` names each item.
 */
export function assertApplicationsAllowed(
  c: Context<AppEnv>,
  applications: readonly string[],
  path: (index: number) => string = (i) => `[${i}].application`,
): void {
  const allowed = c.get('principal')?.applications;
  if (!allowed) return;
  const problems: Problem[] = [];
  applications.forEach((application, index) => {
    if (!allowed.has(application))
      problems.push({ path: path(index), message: `this token may not report for application "${application.slice(0, 128)}"` });
  });
  if (problems.length) {
    throw new DomainError(
      'forbidden',
      `token "${c.get('principal')!.name}" may report only for ${[...allowed].map((a) => `"${a}"`).join(', ')}`,
      problems,
    );
  }
}

/** One application: `assertApplicationsAllowed` for a single job-status report. */
export function assertApplicationAllowed(c: Context<AppEnv>, application: string): void {
  assertApplicationsAllowed(c, [application], () => 'application');
}

/** The bearer token of an Authorization header, or null when there is none or it is malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Middleware: authenticates the bearer token, sets `project` and `principal`, and checks the
 * scope the route needs. Another project's ids need no check here: every route passes
 * `c.get('project')` to the engine, which looks ids up within that project only, so they
 * answer 404 and do not reveal that they exist.
 */
export function authenticate(tokens: TokenRegistry): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { scope } = rulesOf(c);
    if (scope === 'none') {
      c.set('principal', null);
      c.set('project', OPEN_PROJECT);
      return next();
    }
    let principal: Principal;
    try {
      principal = principalFor(tokens, c.req.header('authorization'), scope);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'unauthorized') c.header(...WWW_AUTHENTICATE);
      throw err;
    }
    c.set('principal', principal);
    c.set('project', principal.project);
    return next();
  };
}

/** The header a 401 for a missing or unknown token carries. */
export const WWW_AUTHENTICATE = ['WWW-Authenticate', 'Bearer realm="compter"'] as const;

/**
 * Who a request with this Authorization header acts as on a route that needs `scope`: everyone
 * (project `default`) when compter runs open, else the token's principal. Throws `unauthorized`
 * for a missing or unknown token (answer with WWW_AUTHENTICATE) and `forbidden` for a scope the
 * token lacks.
 */
export function principalFor(tokens: TokenRegistry, authorization: string | undefined, scope: Scope): Principal {
  if (tokens.isOpen) return OPEN_PRINCIPAL;
  const token = bearerToken(authorization);
  const principal = token === null ? null : tokens.lookup(token);
  if (!principal) {
    throw new DomainError(
      'unauthorized',
      token === null ? 'missing bearer token (Authorization: Bearer <token>)' : 'unknown or revoked token',
    );
  }
  assertScope(principal, scope);
  return principal;
}

/** How compter may listen, given its address and whether tokens are configured (README, API). */
export type BindDecision =
  { mode: 'tokens' } | { mode: 'open'; message: string } | { mode: 'open-warned'; message: string } | { mode: 'refuse'; message: string };

/** True for addresses only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return isIPv4(mapped[1]!) && mapped[1]!.startsWith('127.');
    return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || h === '::1';
  }
  return false;
}

/**
 * The secure default: with tokens, listen anywhere; without, only on loopback, unless the
 * operator says COMPTER_ALLOW_OPEN=1 (then with a warning).
 */
export function bindPolicy(host: string, tokenCount: number, allowOpen: boolean): BindDecision {
  if (tokenCount > 0) return { mode: 'tokens' };
  if (isLoopbackHost(host)) {
    return {
      mode: 'open',
      message:
        `no tokens are configured: every request acts for project "${OPEN_PROJECT}" with every scope; ` +
        `serving on loopback address ${host} only`,
    };
  }
  if (allowOpen) {
    return {
      mode: 'open-warned',
      message:
        `no tokens are configured and COMPTER_ALLOW_OPEN is set: anyone who can reach ${host} ` +
        `can read, write and delete every debt of project "${OPEN_PROJECT}"`,
    };
  }
  return {
    mode: 'refuse',
    message:
      `refusing to listen on ${host} without tokens: anyone who can reach it could read and change every debt. ` +
      'Declare tokens in compter.yaml (compter token new --project <p> --scopes ping,read), ' +
      'listen on a loopback address (COMPTER_HOST=127.0.0.1), or set COMPTER_ALLOW_OPEN=1 to run open anyway',
  };
}
