/**
 * Sentry's envelope format, as the official SDKs and sentry-cli send it: a JSON header line,
 * then item header + payload pairs. An item header may give the payload's `length` in bytes
 * (then the payload may hold newlines); without it the payload runs to the next newline.
 * Parsing works on bytes, not characters, because `length` counts UTF-8 bytes.
 */

/** One item of an envelope: its type, its header and its raw payload. */
export interface EnvelopeItem {
  type: string;
  header: Record<string, unknown>;
  payload: Uint8Array;
}

/** A parsed envelope. */
export interface Envelope {
  header: Record<string, unknown>;
  items: EnvelopeItem[];
}

/** The parse result: the envelope, or why the bytes are not one (a client error). */
export type EnvelopeParse = { ok: true; envelope: Envelope } | { ok: false; path: string; message: string };

/** More items than any SDK puts in one envelope: a bound on work per request. */
export const MAX_ENVELOPE_ITEMS = 1000;

const NEWLINE = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: true });

function jsonObjectAt(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The end of the line starting at `from` (index of its newline, or the end of the body). */
function lineEnd(body: Uint8Array, from: number): number {
  const i = body.indexOf(NEWLINE, from);
  return i < 0 ? body.length : i;
}

/** Parses an envelope body (already decompressed); never throws. */
export function parseEnvelope(body: Uint8Array, maxItems = MAX_ENVELOPE_ITEMS): EnvelopeParse {
  const headerEnd = lineEnd(body, 0);
  const header = jsonObjectAt(body.subarray(0, headerEnd));
  if (header === null) return { ok: false, path: 'envelope', message: 'the first line must be the envelope header, a JSON object' };
  const items: EnvelopeItem[] = [];
  let pos = headerEnd + 1;
  while (pos < body.length) {
    const index = items.length;
    const end = lineEnd(body, pos);
    // Blank lines between items (a trailing newline, CRLF-free padding) carry nothing.
    if (end === pos) {
      pos += 1;
      continue;
    }
    if (index >= maxItems) return { ok: false, path: 'envelope', message: `more than ${maxItems} items in one envelope` };
    const itemHeader = jsonObjectAt(body.subarray(pos, end));
    if (itemHeader === null) return { ok: false, path: `items[${index}]`, message: 'item header is not a JSON object' };
    const type = itemHeader.type;
    if (typeof type !== 'string' || type === '')
      return { ok: false, path: `items[${index}].type`, message: 'item header needs a "type" string' };
    const payloadStart = end + 1;
    let payloadEnd: number;
    const length = itemHeader.length;
    if (length !== undefined && length !== null) {
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
        return { ok: false, path: `items[${index}].length`, message: 'must be a non-negative integer (bytes)' };
      payloadEnd = payloadStart + length;
      if (payloadEnd > body.length)
        return { ok: false, path: `items[${index}].length`, message: `says ${length} bytes but the body ends first (truncated?)` };
      // A payload of the stated length must end at a newline or the end of the body; anything
      // else means the length lies, and guessing where the next item starts would misread it.
      if (payloadEnd < body.length && body[payloadEnd] !== NEWLINE)
        return { ok: false, path: `items[${index}].length`, message: `says ${length} bytes but no newline follows the payload` };
    } else {
      payloadEnd = payloadStart > body.length ? body.length : lineEnd(body, payloadStart);
    }
    items.push({ type, header: itemHeader, payload: body.subarray(Math.min(payloadStart, body.length), payloadEnd) });
    pos = payloadEnd + 1;
  }
  return { ok: true, envelope: { header, items } };
}

/** The JSON payload of an item as an object, or null when it is not one. */
export function itemJson(item: EnvelopeItem): Record<string, unknown> | null {
  return jsonObjectAt(item.payload);
}

/**
 * The public key an `X-Sentry-Auth` header carries (`Sentry sentry_key=..., sentry_version=7`),
 * or undefined.
 */
export function sentryKeyOfAuthHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /(?:^|[\s,])sentry_key\s*=\s*([^,\s]+)/.exec(header);
  return match?.[1];
}

/** The public key of a DSN (`http://{key}@{host}/{projectId}`), or undefined. */
export function publicKeyOfDsn(dsn: unknown): string | undefined {
  if (typeof dsn !== 'string') return undefined;
  const match = /^[a-z]+:\/\/([^:@/]+)(?::[^@/]*)?@/i.exec(dsn);
  return match?.[1];
}
