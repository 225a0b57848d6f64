import { truncateUtf8 } from '../domain/debts/payment.js';

/** A ping body as kept: its first bytes, and whether the whole body was over the hard cap. */
export interface PingBody {
  /** The first `keepBytes` of the body as text, cut on a character boundary; '' for none. */
  text: string;
  /** The body was larger than the hard cap: the rest was not read (close the connection). */
  isOverCap: boolean;
}

// A UTF-8 character is at most 4 bytes: keeping this many more lets the cut land on a
// character boundary inside the kept part.
const CHARACTER_SLACK_BYTES = 4;

/**
 * Reads a ping body keeping only its first `keepBytes` (healthchecks' Ping-Body-Limit): a job
 * that posts its whole log still counts. Stops reading past `capBytes`, so memory stays bounded
 * by the kept part whatever the client sends.
 */
export async function readPingBody(request: Request, keepBytes: number, capBytes: number): Promise<PingBody> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > capBytes) return { text: '', isOverCap: true };
  if (!request.body) return { text: '', isOverCap: false };
  const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  let totalBytes = 0;
  let isOverCap = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    totalBytes += value.byteLength;
    if (keptBytes < keepBytes + CHARACTER_SLACK_BYTES) {
      const part = value.subarray(0, keepBytes + CHARACTER_SLACK_BYTES - keptBytes);
      kept.push(part);
      keptBytes += part.byteLength;
    }
    if (totalBytes > capBytes) {
      isOverCap = true;
      await reader.cancel();
      break;
    }
  }
  const text = Buffer.concat(kept).toString('utf8');
  return { text: truncateUtf8(text, keepBytes), isOverCap };
}
