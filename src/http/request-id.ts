/** Request ids: the client's `X-Request-Id` when it sends one, else this process's own counter. */

let requestCounter = 0;
const requestPrefix = process.pid.toString(36);

/** The id error bodies and logs carry for a request with this `X-Request-Id` header (cut to 128 characters). */
export function requestIdOf(header: string | undefined): string {
  return header?.slice(0, 128) ?? `${requestPrefix}-${(++requestCounter).toString(36)}`;
}
