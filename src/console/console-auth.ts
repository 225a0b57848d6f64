import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { grantsScope, type Scope } from '../domain/tokens.js';
import type { TokenRegistry } from '../http/auth.js';
import type { Principal } from '../http/env.js';
import { OPEN_PROJECT } from '../http/auth.js';

/** The cookie that carries the console's token: HttpOnly (no script reads it), SameSite=Strict. */
export const SESSION_COOKIE = 'compter_console';

/** Who is looking at the console, and the CSRF value their forms must carry. */
export interface ConsoleSession {
  principal: Principal;
  csrf: string;
  /** False when compter runs open (no tokens): there is nothing to log out of. */
  isLoggedIn: boolean;
}

const OPEN_CONSOLE_PRINCIPAL: Principal = Object.freeze({
  name: 'open',
  project: OPEN_PROJECT,
  scopes: ['admin'] as Scope[],
  applications: null,
});

/**
 * Sessions from the cookie. Forms carry a CSRF value derived from the session's token, so a page
 * on another site, which can neither read the cookie nor the page, cannot forge a pause; running
 * open there is no token, and the value comes from a secret this process drew at start.
 */
export class ConsoleAuth {
  private readonly openSecret = randomBytes(32);

  constructor(private readonly tokens: TokenRegistry) {}

  /** True when tokens are configured and the console asks for one. */
  get needsLogin(): boolean {
    return !this.tokens.isOpen;
  }

  /** The request's session, or null when a token is needed and the cookie has none that works. */
  session(c: Context): ConsoleSession | null {
    if (this.tokens.isOpen) {
      return {
        principal: OPEN_CONSOLE_PRINCIPAL,
        csrf: createHmac('sha256', this.openSecret).update('open').digest('base64url'),
        isLoggedIn: false,
      };
    }
    const token = getCookie(c, SESSION_COOKIE);
    const principal = token ? this.tokens.lookup(token) : null;
    if (!token || !principal) return null;
    return { principal, csrf: csrfOfToken(token), isLoggedIn: true };
  }

  /** The principal a token names, or null; used by the login form. */
  lookup(token: string): Principal | null {
    return this.tokens.lookup(token);
  }

  /** Stores the token in the session cookie. */
  logIn(c: Context, token: string): void {
    setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/', secure: isHttps(c) });
  }

  /** Clears the session cookie. */
  logOut(c: Context): void {
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
  }
}

function csrfOfToken(token: string): string {
  return createHash('sha256').update('compter-console-csrf\0', 'utf8').update(token, 'utf8').digest('base64url');
}

function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

/** True when the session may do what `scope` allows. */
export function sessionGrants(session: ConsoleSession, scope: Scope): boolean {
  return grantsScope(session.principal.scopes, scope);
}

/**
 * True when a form post is the console's own: the CSRF value matches and the browser does not
 * say it came from another site (Origin / Sec-Fetch-Site, when it sends them).
 */
export function isSameSiteForm(c: Context, session: ConsoleSession, sentCsrf: unknown): boolean {
  if (c.req.header('sec-fetch-site') === 'cross-site') return false;
  const origin = c.req.header('origin');
  if (origin && origin !== 'null') {
    const host = c.req.header('host');
    try {
      if (host && new URL(origin).host !== host) return false;
    } catch {
      return false;
    }
  }
  if (typeof sentCsrf !== 'string') return false;
  const a = Buffer.from(sentCsrf);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
