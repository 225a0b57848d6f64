/**
 * Incremental Prometheus text exposition (format 0.0.4) for series that belong to entities —
 * debts, SLOs, jobs. An entity's sample lines are rendered once, when the entity changes, and
 * written straight into the bytes a scrape sends; a scrape renders nothing, it hands out the
 * cached Buffers (a few thousand at 100k debts) behind each family's HELP/TYPE header.
 *
 * Layout: every entity owns one *slot*; slots are grouped into chunks of `chunkSize`. For each
 * (chunk, family) pair one Buffer holds that family's lines for the chunk's entities back to
 * back. A slot has a little room to spare, filled with '\n' — the format ignores empty lines —
 * so an update whose text still fits (the usual case: a timestamp moves on, a 0 becomes a 1, a
 * counter grows by one) is a single in-place write of that entity's bytes, with no allocation.
 * Only when a slot's text outgrows its room, or leaves much of it unused (a removal), are the
 * chunk's later slots shifted.
 *
 * Why not rebuild changed chunks at scrape time: with 1% of 100k debts changing between
 * scrapes, almost half the chunks are dirty at any chunk size worth having, and re-allocating
 * tens of MB of Buffers per scrape costs more in allocation and GC than the copying itself.
 * Holding the bytes once (no per-entity strings beside them) also keeps memory near the
 * ≈1.3 KB per debt the exposition itself takes (target ≤ 2 KiB per debt, docs/performance.md).
 *
 * In-flight responses: Buffers handed out by `render()` may still be queued on a socket. Until
 * the caller `release()`s a render, a write to one of its Buffers copies it first (copy on
 * write), so a response never changes under the writer. A render never released stays safe
 * for five minutes (far beyond any scrape timeout) but makes writes meanwhile copy: callers
 * should release.
 */

/** One metric family whose samples are contributed by entities. */
export interface EntityFamily {
  /** Metric name, e.g. `compter_debt_overdue`; a counter's name includes `_total`. */
  name: string;
  help: string;
  type: 'gauge' | 'counter';
}

export interface EntityExpositionOptions {
  /**
   * Entities per chunk: more means fewer Buffers per scrape, but more bytes moved when a slot
   * is resized and copied when a leased chunk is written.
   */
  chunkSize?: number;
}

/** Anything whose families the registry appends to a scrape. */
export interface ExpositionSource {
  readonly families: readonly EntityFamily[];
  render(): ExpositionRender;
}

/** The result of `render()`: write `chunks` in order, then call `release()` exactly once. */
export interface ExpositionRender {
  chunks: Buffer[];
  byteLength: number;
  /** The chunks are no longer needed (written to the socket or copied); idempotent. */
  release(): void;
}

const DEFAULT_CHUNK_SIZE = 128;
/**
 * Room a slot gets beyond its text: a counter's next digit or a longer fraction fits in place.
 * Costs ≈ 2.5% of the body in blank lines; a slot that outgrows it is shifted (a memmove).
 */
const SLOT_SLACK = 4;
/** More unused room than this (say, after a removal) and the slot is shrunk. */
const MAX_SLOT_SLACK = 32;
/** A render not released within this long is taken as done (see `render`). */
const LEASE_TIMEOUT_MS = 5 * 60_000;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** Escapes a label value: backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return NEEDS_LABEL_ESCAPE.test(value) ? value.replace(LABEL_ESCAPES, escapeChar) : value;
}

const NEEDS_LABEL_ESCAPE = /[\\"\n]/;
const LABEL_ESCAPES = /[\\"\n]/g;
function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : `\\${c}`;
}

/** Escapes HELP text: backslash and line feed only (quotes are literal there). */
function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Formats a sample value the way Prometheus parses it (Go ParseFloat syntax). */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** One family's bytes within one chunk: slot i spans starts[i] .. starts[i + 1] (or used). */
interface FamilyChunk {
  bytes: Buffer;
  used: number;
  /** bytes[0, used), kept so that a scrape does not create a view per chunk. */
  view: Buffer | null;
  /** Generation of the last render that handed this Buffer out. */
  exposedGen: number;
}

interface Chunk {
  families: FamilyChunk[];
  /** starts[f * chunkSize + i] = offset of slot i in family f's bytes. */
  starts: Uint32Array;
  /** Slots allocated in this chunk (in use or free). */
  count: number;
}

/** Per-entity series for a fixed set of families, kept as ready-to-send bytes. */
export class EntityExposition implements ExpositionSource {
  readonly families: readonly EntityFamily[];
  private readonly chunkSize: number;
  private readonly headers: Buffer[];
  private readonly headerBytes: number;
  private readonly chunks: Chunk[] = [];
  private readonly slotOf = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private renderGen = 0;
  /** Unreleased renders: generation → when rendered (performance.now() ms). */
  private readonly leases = new Map<number, number>();
  /** Oldest generation still leased; a Buffer exposed at or after it may be in flight. */
  private oldestLease = Infinity;

  constructor(families: readonly EntityFamily[], options: EntityExpositionOptions = {}) {
    const names = new Set<string>();
    for (const f of families) {
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(f.name)) throw new Error(`invalid metric name: ${f.name}`);
      if (names.has(f.name)) throw new Error(`duplicate metric family: ${f.name}`);
      names.add(f.name);
    }
    this.families = families;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1) throw new Error('chunkSize must be a positive integer');
    this.headers = families.map((f) => Buffer.from(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`));
    this.headerBytes = this.headers.reduce((n, h) => n + h.length, 0);
  }

  /** Number of entities held. */
  get size(): number {
    return this.slotOf.size;
  }

  has(key: string): boolean {
    return this.slotOf.has(key);
  }

  /**
   * Sets an entity's sample lines: `lines[i]` is the text for `families[i]`, complete lines
   * each ending in `\n`, or `''` for none. Replaces whatever the entity had before.
   */
  upsert(key: string, lines: readonly string[]): void {
    if (lines.length !== this.families.length) {
      throw new Error(`expected lines for ${this.families.length} families, got ${lines.length}`);
    }
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slotOf.set(key, slot);
    }
    const chunk = this.chunks[Math.floor(slot / this.chunkSize)]!;
    const i = slot % this.chunkSize;
    for (let f = 0; f < lines.length; f++) this.writeSlot(chunk, f, i, lines[f]!);
  }

  /** Drops an entity and all its lines; returns whether it was present. */
  remove(key: string): boolean {
    const slot = this.slotOf.get(key);
    if (slot === undefined) return false;
    this.slotOf.delete(key);
    const chunk = this.chunks[Math.floor(slot / this.chunkSize)]!;
    const i = slot % this.chunkSize;
    for (let f = 0; f < this.families.length; f++) this.writeSlot(chunk, f, i, '');
    this.freeSlots.push(slot);
    return true;
  }

  /**
   * The exposition of all families: per family its HELP/TYPE header, then its samples (and
   * blank padding lines). The Buffers are shared with the cache: do not modify them, and
   * `release()` once they are written out or copied.
   */
  render(): ExpositionRender {
    const gen = ++this.renderGen;
    const now = performance.now();
    // A render never released (a caller that forgot) stops counting after LEASE_TIMEOUT_MS:
    // no scrape response is still being written by then, and the set stays bounded.
    for (const [g, at] of this.leases) if (now - at > LEASE_TIMEOUT_MS) this.leases.delete(g);
    this.leases.set(gen, now);
    this.updateOldestLease();
    const chunks: Buffer[] = [];
    let byteLength = this.headerBytes;
    for (let f = 0; f < this.families.length; f++) {
      chunks.push(this.headers[f]!);
      for (const chunk of this.chunks) {
        const fc = chunk.families[f]!;
        if (fc.used === 0) continue;
        fc.view ??= fc.bytes.subarray(0, fc.used);
        fc.exposedGen = gen;
        chunks.push(fc.view);
        byteLength += fc.used;
      }
    }
    let isReleased = false;
    return {
      chunks,
      byteLength,
      release: () => {
        if (isReleased) return;
        isReleased = true;
        this.leases.delete(gen);
        this.updateOldestLease();
      },
    };
  }

  private updateOldestLease(): void {
    this.oldestLease = Infinity;
    for (const g of this.leases.keys()) if (g < this.oldestLease) this.oldestLease = g;
  }

  private allocateSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    let last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.count === this.chunkSize) {
      last = {
        families: this.families.map(() => ({ bytes: EMPTY, used: 0, view: null, exposedGen: -1 })),
        starts: new Uint32Array(this.families.length * this.chunkSize),
        count: 0,
      };
      this.chunks.push(last);
    }
    // A new slot starts empty at the end of each family's bytes.
    for (let f = 0; f < this.families.length; f++) last.starts[f * this.chunkSize + last.count] = last.families[f]!.used;
    last.count++;
    return (this.chunks.length - 1) * this.chunkSize + last.count - 1;
  }

  private writeSlot(chunk: Chunk, f: number, i: number, text: string): void {
    const fc = chunk.families[f]!;
    const at = f * this.chunkSize + i;
    const start = chunk.starts[at]!;
    let room = (i + 1 < chunk.count ? chunk.starts[at + 1]! : fc.used) - start;
    const length = text.length === 0 ? 0 : Buffer.byteLength(text);
    if (length > room || room - length > MAX_SLOT_SLACK) {
      room = length === 0 ? 0 : length + SLOT_SLACK;
      this.resizeSlot(chunk, f, i, room);
    } else if (room === 0) {
      return;
    } else if (fc.exposedGen >= this.oldestLease) {
      this.copyOnWrite(fc);
    }
    if (length > 0) fc.bytes.write(text, start, length, 'utf8');
    if (room > length) fc.bytes.fill(NEWLINE, start + length, start + room);
  }

  /** Gives slot i of family f `room` bytes, shifting the chunk's later slots. */
  private resizeSlot(chunk: Chunk, f: number, i: number, room: number): void {
    const fc = chunk.families[f]!;
    const base = f * this.chunkSize;
    const start = chunk.starts[base + i]!;
    const oldEnd = i + 1 < chunk.count ? chunk.starts[base + i + 1]! : fc.used;
    const delta = room - (oldEnd - start);
    const used = fc.used + delta;
    if (fc.exposedGen < this.oldestLease && used <= fc.bytes.length) {
      fc.bytes.copyWithin(oldEnd + delta, oldEnd, fc.used);
    } else {
      // While the chunk fills up, size it for the whole chunk so appends do not reallocate.
      const projected = chunk.count < this.chunkSize ? Math.ceil((used / chunk.count) * this.chunkSize) : used;
      const next = Buffer.allocUnsafeSlow(Math.max(used, projected) + (used >> 4) + 64);
      fc.bytes.copy(next, 0, 0, start);
      fc.bytes.copy(next, oldEnd + delta, oldEnd, fc.used);
      fc.bytes = next;
      fc.exposedGen = -1;
    }
    for (let j = i + 1; j < chunk.count; j++) chunk.starts[base + j]! += delta;
    fc.used = used;
    fc.view = null;
  }

  /** Replaces a Buffer that an unreleased render may still be sending with a private copy. */
  private copyOnWrite(fc: FamilyChunk): void {
    const next = Buffer.allocUnsafeSlow(fc.bytes.length);
    fc.bytes.copy(next, 0, 0, fc.used);
    fc.bytes = next;
    fc.exposedGen = -1;
    fc.view = null;
  }
}
