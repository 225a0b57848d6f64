import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { LogEvent } from '../domain/event.js';
import { systemStoreClock, type StoreClock, type StoreTimer } from './store-clock.js';

/*
 * The local journal (docs/events.md): every accepted batch is written here and fsynced before it is
 * acknowledged, then stored in the event store in the background (durable-store.ts). This
 * file only knows files, and which of its records the store already holds.
 *
 * Layout: `<dir>/<16-digit sequence>.seg`, oldest first. A segment is
 *
 *     "compter-spool 1\n"                                (16 bytes, the format version)
 *     record*   record = u32 BE payload bytes | u32 BE event count | u32 BE crc32(payload) | payload
 *
 * and one record is one appended batch, its payload the batch as a UTF-8 JSON array of
 * LogEvents (event ids kept, so a batch stored twice is recognised on read).
 *
 * - Durability: segments are opened with O_DSYNC, so `append`'s one `pwritev` of the record
 *   returns only once the data is on disk (one system call and one thread-pool round trip per
 *   commit, where write + write + fdatasync took three); a new segment's directory entry is
 *   synced too. Nothing is acknowledged before that.
 * - Storing: `next` hands out the oldest records the store does not hold yet, in append
 *   order, from memory when this process wrote them (from disk when recovered, or when more
 *   than `maxMemoryEvents` wait); `stored` marks them. A segment is deleted once every record
 *   in it is stored and it is sealed; the segment being appended to is sealed and deleted as
 *   soon as it is fully stored and holds `rotateBytes` or is `rotateMs` old, so a crash
 *   leaves little that is stored twice (harmless: reads deduplicate by event id).
 * - Torn records: appends run one at a time, so only a segment's last record can be torn by
 *   a crash, and it was never acknowledged. `open` keeps each segment's valid prefix (length,
 *   count and checksum all agree) and truncates the rest. A failed write (ENOSPC, EIO) seals
 *   its segment at the last good record, so later records never follow a torn one.
 * - Recovered segments are never appended to: new records go to a new segment.
 */

const MAGIC = Buffer.from('compter-spool 1\n', 'latin1');
const RECORD_HEADER_BYTES = 12;
const SEGMENT_SUFFIX = '.seg';
const SEGMENT_NAME = /^(\d{16})\.seg$/;
/** A record larger than this is corruption, not data (a batch is at most a few MiB). */
const MAX_RECORD_BYTES = 1024 * 1024 * 1024;

/** The spool could not durably take a write (disk full, unwritable directory, over its limit). */
export class SpoolError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'SpoolError';
  }
}

export interface SpoolOptions {
  /** Start a new segment once the current one reaches this size; default 16 MiB. */
  segmentBytes?: number;
  /** Refuse appends that would take the spool above this many bytes; 0 (default) = no limit. */
  maxBytes?: number;
  /** A fully stored segment being appended to is deleted once it holds this much; default 1 MiB. */
  rotateBytes?: number;
  /** ... or is this old, ms; default 5000. */
  rotateMs?: number;
  /** Unstored events kept in memory; beyond it, sealed segments are read back from disk. Default 200,000. */
  maxMemoryEvents?: number;
  /** Where segment ages and the rotation timer come from; the process's clock by default. */
  clock?: StoreClock;
}

/** What `open` found on disk. */
export interface SpoolRecovery {
  segments: number;
  events: number;
  /** Bytes of torn or corrupt tails cut off (never acknowledged). */
  droppedBytes: number;
}

/** Consecutive records of one segment, handed to the store by `next` and marked by `stored`. */
export interface SpoolChunk {
  readonly segmentId: number;
  /** Record indexes [from, to) in the segment. */
  readonly from: number;
  readonly to: number;
  readonly events: readonly LogEvent[];
  /** The same events as one JSON array in UTF-8, made from the records' own bytes (no second stringify). */
  readonly json: Buffer;
}

interface SegmentInfo {
  id: number;
  path: string;
  /** Bytes up to the end of the last good record. */
  size: number;
  events: number;
  /** Open for appends (only the newest segment, and only one this process created). */
  handle: FileHandle | null;
  /** Each record's batch while it waits in memory (stored ones are emptied); null: read from disk. */
  records: LogEvent[][] | null;
  /**
   * Each record's JSON bytes (the payload written to disk), alongside `records` (null together).
   * Bytes, not strings: they wait for the store outside V8's heap, so young-generation GCs do
   * not copy them while they do.
   */
  payloads: Buffer[] | null;
  recordCount: number;
  storedRecords: number;
  storedEvents: number;
  /** When this process created it, on the clock's monotonic scale (0 for recovered segments). */
  openedAt: number;
}

const STORED: LogEvent[] = [];
const NO_BYTES = Buffer.alloc(0);
const COMMA = Buffer.from(',');
const OPEN_BRACKET = Buffer.from('[');
const CLOSE_BRACKET = Buffer.from(']');

/** An append-only, fsynced, segmented file journal of event batches. */
export class Spool {
  private readonly segments: SegmentInfo[] = [];
  private nextId: number;
  private pendingEvents = 0;
  private memoryEvents = 0;
  private storedBytes = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private rotationTimer: StoreTimer | null = null;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;
  private readonly rotateBytes: number;
  private readonly rotateMs: number;
  private readonly maxMemoryEvents: number;
  private readonly clock: StoreClock;

  private constructor(
    readonly dir: string,
    options: SpoolOptions,
    found: SegmentInfo[],
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.maxBytes = options.maxBytes ?? 0;
    this.rotateBytes = options.rotateBytes ?? 1024 * 1024;
    this.rotateMs = options.rotateMs ?? 5000;
    this.maxMemoryEvents = options.maxMemoryEvents ?? 200_000;
    this.clock = options.clock ?? systemStoreClock;
    this.segments.push(...found);
    this.nextId = (found[found.length - 1]?.id ?? 0) + 1;
    for (const s of found) {
      this.pendingEvents += s.events;
      this.storedBytes += s.size;
    }
  }

  /**
   * Opens (creating) the spool directory and recovers every segment in it: valid records are
   * kept, a torn tail is cut off, empty segments are removed.
   */
  static async open(dir: string, options: SpoolOptions = {}): Promise<{ spool: Spool; recovery: SpoolRecovery }> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new SpoolError(`cannot create the spool directory ${dir}: ${(err as Error).message}`, err);
    }
    const names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    const found: SegmentInfo[] = [];
    let droppedBytes = 0;
    for (const name of names) {
      const path = join(dir, name);
      const { validBytes, events, records, fileBytes } = await recoverSegment(path);
      droppedBytes += fileBytes - validBytes;
      if (events === 0) {
        await unlink(path);
        continue;
      }
      if (validBytes < fileBytes) await truncateFile(path, validBytes);
      found.push({
        id: Number(SEGMENT_NAME.exec(name)![1]),
        path,
        size: validBytes,
        events,
        handle: null,
        records: null,
        payloads: null,
        recordCount: records,
        storedRecords: 0,
        storedEvents: 0,
        openedAt: 0,
      });
    }
    if (names.length > 0) await syncDirectory(dir);
    const spool = new Spool(dir, options, found);
    return { spool, recovery: { segments: found.length, events: spool.events, droppedBytes } };
  }

  /** Events accepted and not yet stored, counting appends still being written. */
  get events(): number {
    return this.pendingEvents;
  }

  /** Bytes held in segments on disk. */
  get bytes(): number {
    return this.storedBytes;
  }

  /** Writes `events` as one record and fsyncs it; resolves only once they are durable. */
  append(events: readonly LogEvent[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new SpoolError('spool is closed'));
    if (events.length === 0) return Promise.resolve();
    // Counted at once, so a drainer that sees 0 knows no append is on its way.
    this.pendingEvents += events.length;
    return this.serialize(async () => {
      try {
        await this.write(events);
      } catch (err) {
        this.pendingEvents -= events.length;
        throw err instanceof SpoolError
          ? err
          : new SpoolError(`could not write to the spool in ${this.dir}: ${(err as Error).message}`, err);
      }
    });
  }

  /**
   * The oldest records the store does not hold yet, at most `maxEvents` events (at least one
   * record; records are never split, and a chunk never spans segments), or null when every
   * written record is stored.
   */
  async next(maxEvents: number): Promise<SpoolChunk | null> {
    const segment = this.segments.find((s) => s.storedRecords < s.recordCount);
    if (!segment) return null;
    if (!segment.records) await this.readBack(segment);
    const records = segment.records!;
    const payloads = segment.payloads!;
    const events: LogEvent[] = [];
    let to = segment.storedRecords;
    while (to < segment.recordCount) {
      const record = records[to]!;
      if (to > segment.storedRecords && events.length + record.length > maxEvents) break;
      for (const e of record) events.push(e);
      to++;
    }
    const from = segment.storedRecords;
    return { segmentId: segment.id, from, to, events, json: joinArrays(payloads, from, to) };
  }

  /** Marks a chunk from `next` as held by the store; deletes segments that are done. */
  async stored(chunk: SpoolChunk): Promise<void> {
    const segment = this.segments.find((s) => s.id === chunk.segmentId);
    if (!segment || segment.storedRecords !== chunk.from) return;
    segment.storedRecords = chunk.to;
    segment.storedEvents += chunk.events.length;
    this.pendingEvents -= chunk.events.length;
    if (segment.records) {
      for (let i = chunk.from; i < chunk.to; i++) {
        segment.records[i] = STORED;
        segment.payloads![i] = NO_BYTES;
      }
      this.memoryEvents -= chunk.events.length;
    }
    if (segment.storedRecords < segment.recordCount) return;
    const age = this.clock.monotonicMs() - segment.openedAt;
    if (segment.handle && segment.size < this.rotateBytes && age < this.rotateMs) {
      // Appends may keep coming; if they do not, delete it once it is old enough.
      this.rotationTimer ??= this.clock.after(
        this.rotateMs - age,
        () => {
          this.rotationTimer = null;
          const newest = this.segments[this.segments.length - 1];
          if (newest) this.dropIfStored(newest).catch(() => undefined);
        },
        { background: true },
      );
      return;
    }
    await this.dropIfStored(segment);
  }

  /** Deletes `segment` if every record in it is stored, after the appends queued before. */
  private dropIfStored(segment: SegmentInfo): Promise<void> {
    return this.serialize(async () => {
      // An append queued before this task may have added a record since.
      if (segment.storedRecords !== segment.recordCount || !this.segments.includes(segment)) return;
      await this.drop(segment);
    });
  }

  /** Every unstored event held in memory, oldest first (recovered segments are not included). */
  *unstored(): Generator<LogEvent> {
    for (const s of this.segments) {
      if (!s.records) continue;
      for (let i = s.storedRecords; i < s.recordCount; i++) yield* s.records[i]!;
    }
  }

  /**
   * Sets aside one chunk the store can never hold (its events fail the store's validation):
   * its events are written, fsynced, to `<segment>.<record>.rejected` for an operator, and the
   * chunk is marked stored so it stops blocking the ones after it.
   */
  async setAside(chunk: SpoolChunk): Promise<string> {
    const segment = this.segments.find((s) => s.id === chunk.segmentId);
    const base = segment?.path ?? join(this.dir, `${String(chunk.segmentId).padStart(16, '0')}${SEGMENT_SUFFIX}`);
    const path = `${base}.${chunk.from}.rejected`;
    const handle = await open(path, 'w');
    try {
      await writeFully(handle, [Buffer.from(JSON.stringify(chunk.events), 'utf8')], 0);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await syncDirectory(this.dir);
    await this.stored(chunk);
    return path;
  }

  /**
   * Waits for running appends and closes the open segment; fully stored segments are deleted,
   * the rest stay for the next start.
   */
  close(): Promise<void> {
    this.isClosed = true;
    this.rotationTimer?.cancel();
    this.rotationTimer = null;
    return this.serialize(async () => {
      for (const s of [...this.segments]) {
        if (s.handle) await this.seal(s);
        if (s.storedRecords === s.recordCount) await this.drop(s);
      }
    });
  }

  /** Runs `task` after every earlier append and removal: one file operation at a time. */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(events: readonly LogEvent[]): Promise<void> {
    const text = JSON.stringify(events);
    const payload = Buffer.from(text, 'utf8');
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(events.length, 4);
    header.writeUInt32BE(crc32(payload), 8);
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    const isFull = () => this.maxBytes > 0 && this.storedBytes + recordBytes + MAGIC.length > this.maxBytes;
    if (isFull()) {
      // Segments whose records are all stored only wait to be deleted: make room with them first.
      for (const s of this.segments.filter((x) => x.storedRecords === x.recordCount)) await this.drop(s);
    }
    if (isFull()) throw new SpoolError(`spool is full (${this.storedBytes} bytes held, limit ${this.maxBytes})`);
    let segment = this.segments[this.segments.length - 1];
    if (!segment?.handle || segment.size >= this.segmentBytes) {
      if (segment?.handle) await this.seal(segment);
      segment = await this.createSegment();
    }
    const handle = segment.handle!;
    try {
      // O_DSYNC: durable when the write returns.
      await writeFully(handle, [header, payload], segment.size);
    } catch (err) {
      // The record may be half written: cut it off if the disk lets us, and never append
      // after it either way. Recovery would also drop it, as a torn tail.
      await handle.truncate(segment.size).catch(() => undefined);
      await this.seal(segment);
      if (segment.events === 0) await this.dropEmpty(segment);
      throw err;
    }
    segment.size += recordBytes;
    segment.events += events.length;
    segment.recordCount++;
    segment.records!.push(events as LogEvent[]);
    segment.payloads!.push(payload);
    this.memoryEvents += events.length;
    this.storedBytes += recordBytes;
  }

  private async createSegment(): Promise<SegmentInfo> {
    const id = this.nextId++;
    const path = join(this.dir, `${String(id).padStart(16, '0')}${SEGMENT_SUFFIX}`);
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC);
    const segment: SegmentInfo = {
      id,
      path,
      size: 0,
      events: 0,
      handle,
      records: [],
      payloads: [],
      recordCount: 0,
      storedRecords: 0,
      storedEvents: 0,
      openedAt: this.clock.monotonicMs(),
    };
    try {
      await writeFully(handle, [MAGIC], 0);
      await handle.datasync();
      await syncDirectory(this.dir);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw err;
    }
    segment.size = MAGIC.length;
    this.storedBytes += MAGIC.length;
    this.segments.push(segment);
    return segment;
  }

  /** Closes a segment for appends; past the memory limit its records are left to the disk copy. */
  private async seal(segment: SegmentInfo): Promise<void> {
    const handle = segment.handle;
    segment.handle = null;
    await handle?.close().catch(() => undefined);
    if (segment.records && this.memoryEvents > this.maxMemoryEvents && segment.storedRecords < segment.recordCount) {
      this.memoryEvents -= countUnstored(segment);
      segment.records = null;
      segment.payloads = null;
    }
  }

  /** Reads a sealed segment's records back from disk (recovered, or spilled past the memory limit). */
  private async readBack(segment: SegmentInfo): Promise<void> {
    const bytes = await readFile(segment.path);
    const records: LogEvent[][] = [];
    const payloads: Buffer[] = [];
    forEachRecord(bytes.subarray(0, segment.size), (payload) => {
      records.push(JSON.parse(payload.toString('utf8')) as LogEvent[]);
      payloads.push(payload);
    });
    if (records.length !== segment.recordCount)
      throw new SpoolError(`${segment.path} changed on disk: ${records.length} records, expected ${segment.recordCount}`);
    for (let i = 0; i < segment.storedRecords; i++) {
      records[i] = STORED;
      payloads[i] = NO_BYTES;
    }
    segment.records = records;
    segment.payloads = payloads;
    this.memoryEvents += countUnstored(segment);
  }

  /** Deletes a segment whose records are all stored. */
  private async drop(segment: SegmentInfo): Promise<void> {
    if (segment.handle) await this.seal(segment);
    await unlink(segment.path);
    await syncDirectory(this.dir);
    const index = this.segments.indexOf(segment);
    if (index >= 0) this.segments.splice(index, 1);
    this.storedBytes -= segment.size;
  }

  private async dropEmpty(segment: SegmentInfo): Promise<void> {
    const index = this.segments.indexOf(segment);
    if (index >= 0) this.segments.splice(index, 1);
    this.storedBytes -= segment.size;
    await unlink(segment.path).catch(() => undefined);
  }
}

function countUnstored(segment: SegmentInfo): number {
  let n = 0;
  for (let i = segment.storedRecords; i < segment.recordCount; i++) n += segment.records![i]!.length;
  return n;
}

/** Checks a segment file: its valid prefix in bytes and the events in it. */
async function recoverSegment(path: string): Promise<{ validBytes: number; events: number; records: number; fileBytes: number }> {
  const bytes = await readFile(path);
  if (bytes.length < MAGIC.length) {
    // Created by a crashed first append: a prefix of the header at most, nothing acknowledged.
    if (MAGIC.subarray(0, bytes.length).equals(bytes)) return { validBytes: 0, events: 0, records: 0, fileBytes: bytes.length };
    throw new Error(`${path} is not a compter spool segment; move it out of the spool directory`);
  }
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(`${path} is not a compter spool segment of a known version; move it out of the spool directory`);
  }
  let events = 0;
  let records = 0;
  const validBytes = forEachRecord(bytes, (_payload, count) => {
    events += count;
    records++;
  });
  return { validBytes, events, records, fileBytes: bytes.length };
}

/**
 * Calls `onRecord` for each intact record after the header, in order; stops at the first
 * torn or corrupt one. Returns the offset just past the last intact record.
 */
function forEachRecord(bytes: Buffer, onRecord: (payload: Buffer, count: number) => void): number {
  let offset = MAGIC.length;
  while (offset + RECORD_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const count = bytes.readUInt32BE(offset + 4);
    const checksum = bytes.readUInt32BE(offset + 8);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES || end > bytes.length || count === 0) break;
    const payload = bytes.subarray(offset + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== checksum) break;
    onRecord(payload, count);
    offset = end;
  }
  return offset;
}

/** Writes every buffer at `position` onwards: one `pwritev`, more calls only if the kernel writes less. */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let done = (await handle.writev(buffers, position)).bytesWritten;
  if (done === total) return;
  const rest = Buffer.concat(buffers).subarray(done);
  let offset = 0;
  while (offset < rest.length) {
    const { bytesWritten } = await handle.write(rest, offset, rest.length - offset, position + done);
    offset += bytesWritten;
    done += bytesWritten;
  }
}

async function truncateFile(path: string, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.truncate(length);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** fsyncs a directory, so a created or removed file's name is durable too. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Records [from, to) of a segment as one JSON array: each record's array, brackets dropped, joined by commas. */
function joinArrays(payloads: readonly Buffer[], from: number, to: number): Buffer {
  if (to - from === 1) return payloads[from]!;
  const parts: Buffer[] = [OPEN_BRACKET];
  for (let i = from; i < to; i++) {
    if (i > from) parts.push(COMMA);
    const payload = payloads[i]!;
    parts.push(payload.subarray(1, payload.length - 1));
  }
  parts.push(CLOSE_BRACKET);
  return Buffer.concat(parts);
}
