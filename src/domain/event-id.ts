import { createHash, randomFillSync } from 'node:crypto';

// Crockford base32, as ULID uses: lexicographic order equals time order.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (ch) => ch.charCodeAt(0));

/** Random bytes drawn from the OS at a time, so a fresh millisecond costs no system call. */
const RANDOM_POOL_BYTES = 4096;

/**
 * Makes time-ordered, globally unique event ids (ULID layout: 48-bit ms time, 80 random
 * bits). Within one millisecond the random part is incremented, so ids from one generator
 * are strictly increasing even when the clock stalls or steps back.
 *
 * Every event gets an id, so this is on every payment's path: the 26 characters are written
 * into one reused buffer and read out as one string, the time part is encoded once per
 * millisecond, and randomness comes from a pool refilled 4 KiB at a time.
 */
export class EventIdGenerator {
  private lastMs = -1;
  private readonly rand = new Uint8Array(10);
  /** The id being built: ten time characters, then sixteen random ones (ASCII). */
  private readonly chars = Buffer.alloc(26);
  private readonly pool = Buffer.alloc(RANDOM_POOL_BYTES);
  private poolAt = RANDOM_POOL_BYTES;

  /** Returns a new 26-character id for an event at (about) `ms`. */
  next(ms: number): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.fillRandom();
      // Keep headroom so increments within one ms never overflow the 80 bits.
      this.rand[0] = this.rand[0]! & 0x7f;
      writeTime(this.chars, ms);
    } else {
      incrementBytes(this.rand);
    }
    writeRandom(this.chars, this.rand);
    return this.chars.toString('latin1', 0, 26);
  }

  private fillRandom(): void {
    if (this.poolAt + this.rand.length > RANDOM_POOL_BYTES) {
      randomFillSync(this.pool);
      this.poolAt = 0;
    }
    this.pool.copy(this.rand, 0, this.poolAt, this.poolAt + this.rand.length);
    this.poolAt += this.rand.length;
  }
}

/** The millisecond time an event id was made at (its first 10 characters), or null for a malformed id. */
export function timeOfEventId(id: string): number | null {
  if (id.length < 10) return null;
  let t = 0;
  for (const ch of id.slice(0, 10)) {
    const digit = ALPHABET.indexOf(ch.toUpperCase());
    if (digit < 0) return null;
    t = t * 32 + digit;
  }
  return t;
}

function incrementBytes(bytes: Uint8Array): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] === 0xff) {
      bytes[i] = 0;
    } else {
      bytes[i] = bytes[i]! + 1;
      return;
    }
  }
}

/** Writes `ms` as ten base32 characters at the start of `out`. */
function writeTime(out: Uint8Array, ms: number): void {
  let t = ms;
  for (let i = 9; i >= 0; i--) {
    out[i] = ALPHABET_CODES[t % 32]!;
    t = Math.floor(t / 32);
  }
}

/** Writes 80 random bits as sixteen base32 characters after the time part of `out`. */
function writeRandom(out: Uint8Array, bytes: Uint8Array): void {
  let buffer = 0;
  let bits = 0;
  let at = 10;
  for (let i = 0; i < bytes.length; i++) {
    buffer = (buffer << 8) | bytes[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[at++] = ALPHABET_CODES[(buffer >> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
}

function encodeTime(ms: number): string {
  let out = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits -> 16 base32 characters, 5 bits at a time.
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** The epoch ms encoded in an event id. */
export function eventIdTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!);
  return t;
}

/**
 * The id of a fact every instance derives on its own (an occurrence missed, a run timed out):
 * the ULID layout with `atMs` as its time and a hash of `key` (project, entity, type and the
 * fact's own key) as its random part, so N instances deriving the same fact make the same id
 * and the log, which deduplicates by id, holds it once.
 */
export function derivedEventId(atMs: number, key: readonly string[]): string {
  const digest = createHash('sha256').update(JSON.stringify(key)).digest();
  const rand = new Uint8Array(digest.subarray(0, 10));
  return encodeTime(Math.max(0, Math.floor(atMs))) + encodeRandom(rand);
}

/** The smallest id any event at `ms` can have: scans after it see every event from `ms` on. */
export function eventIdFloor(ms: number): string {
  return encodeTime(Math.max(0, Math.floor(ms))) + '0'.repeat(16);
}
