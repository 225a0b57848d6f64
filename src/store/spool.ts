import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { LogEvent } from '../domain/event.js';

/*
 * The local spool (SPEC §5): where accepted events wait, durable on this host's disk, while
 * the event store cannot take them. The store decorator (durable-store.ts) writes here and
 * drains it; this file only knows files.
 *
 * Layout: `<dir>/<16-digit sequence>.seg`, oldest first. A segment is
 *
 *     "compter-spool 1\n"                                (16 bytes, the format version)
 *     record*   record = u32 BE payload bytes | u32 BE event count | u32 BE crc32(payload) | payload
 *
 * and one record is one appended batch, its payload the batch as a UTF-8 JSON array of
 * LogEvents (event ids kept, so a batch drained twice is recognised on read).
 *
 * - Durability: `append` writes the record and `fdatasync`s before it resolves; a new
 *   segment's directory entry is synced too. Nothing is acknowledged before that.
 * - Torn records: appends run one at a time, so only a segment's last record can be torn by
 *   a crash, and it was never acknowledged. `open` keeps each segment's valid prefix (length,
 *   count and checksum all agree) and truncates the rest. A failed write (ENOSPC, EIO) seals
 *   its segment at the last good record, so later records never follow a torn one.
 * - Recovered segments are never appended to: new records go to a new segment.
 * - Order: segments and the records in them are read back in append order; a segment is
 *   removed only by `remove`, after its events were stored.
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
}

/** What `open` found on disk. */
export interface SpoolRecovery {
  segments: number;
  events: number;
  /** Bytes of torn or corrupt tails cut off (never acknowledged). */
  droppedBytes: number;
}

/** A segment's events, read back for draining. */
export interface SpoolSegment {
  readonly id: number;
  /** Its records in append order: one batch each. */
  readonly batches: LogEvent[][];
  readonly events: number;
}

interface SegmentInfo {
  id: number;
  path: string;
  /** Bytes up to the end of the last good record. */
  size: number;
  events: number;
  /** Open for appends (only the newest segment, and only one this process created). */
  handle: FileHandle | null;
}

/** An append-only, fsynced, segmented file queue of event batches. */
export class Spool {
  private readonly segments: SegmentInfo[] = [];
  private nextId: number;
  private pendingEvents = 0;
  private storedBytes = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private isClosed = false;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;

  private constructor(
    readonly dir: string,
    options: SpoolOptions,
    found: SegmentInfo[],
  ) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.maxBytes = options.maxBytes ?? 0;
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
      const { validBytes, events, fileBytes } = await recoverSegment(path);
      droppedBytes += fileBytes - validBytes;
      if (events === 0) {
        await unlink(path);
        continue;
      }
      if (validBytes < fileBytes) await truncateFile(path, validBytes);
      found.push({ id: Number(SEGMENT_NAME.exec(name)![1]), path, size: validBytes, events, handle: null });
    }
    if (names.length > 0) await syncDirectory(dir);
    const spool = new Spool(dir, options, found);
    return { spool, recovery: { segments: found.length, events: spool.events, droppedBytes } };
  }

  /** Events accepted and not yet removed, counting appends still being written. */
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
        throw err instanceof SpoolError ? err : new SpoolError(`could not write to the spool in ${this.dir}: ${(err as Error).message}`, err);
      }
    });
  }

  /**
   * The oldest segment's batches, or null when the spool is empty. If it is the segment being
   * appended to, it is sealed first: later appends start a new one.
   */
  oldest(): Promise<SpoolSegment | null> {
    return this.serialize(async () => {
      const segment = this.segments[0];
      if (!segment) return null;
      if (segment.handle) await this.seal(segment);
      const bytes = await readFile(segment.path);
      const batches: LogEvent[][] = [];
      let events = 0;
      forEachRecord(bytes.subarray(0, segment.size), (payload, count) => {
        batches.push(JSON.parse(payload.toString('utf8')) as LogEvent[]);
        events += count;
      });
      return { id: segment.id, batches, events };
    });
  }

  /** Deletes a segment returned by `oldest` once its events are stored. */
  remove(id: number): Promise<void> {
    return this.serialize(async () => {
      const index = this.segments.findIndex((s) => s.id === id);
      if (index < 0) return;
      const [segment] = this.segments.splice(index, 1);
      if (segment!.handle) await this.seal(segment!);
      await unlink(segment!.path);
      await syncDirectory(this.dir);
      this.pendingEvents -= segment!.events;
      this.storedBytes -= segment!.size;
    });
  }

  /**
   * Renames a segment that can never be stored (its events fail the store's validation) to
   * `<name>.rejected`, so it stops blocking the ones after it and stays for an operator.
   */
  quarantine(id: number): Promise<string | null> {
    return this.serialize(async () => {
      const index = this.segments.findIndex((s) => s.id === id);
      if (index < 0) return null;
      const [segment] = this.segments.splice(index, 1);
      if (segment!.handle) await this.seal(segment!);
      const target = `${segment!.path}.rejected`;
      await rename(segment!.path, target);
      await syncDirectory(this.dir);
      this.pendingEvents -= segment!.events;
      this.storedBytes -= segment!.size;
      return target;
    });
  }

  /** Waits for running appends and closes the open segment; the files stay for the next start. */
  close(): Promise<void> {
    this.isClosed = true;
    return this.serialize(async () => {
      for (const s of this.segments) if (s.handle) await this.seal(s);
    });
  }

  /** Runs `task` after every earlier append, read and removal: one file operation at a time. */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(events: readonly LogEvent[]): Promise<void> {
    const payload = Buffer.from(JSON.stringify(events), 'utf8');
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(events.length, 4);
    header.writeUInt32BE(crc32(payload), 8);
    const recordBytes = RECORD_HEADER_BYTES + payload.length;
    if (this.maxBytes > 0 && this.storedBytes + recordBytes + MAGIC.length > this.maxBytes) {
      throw new SpoolError(`spool is full (${this.storedBytes} bytes held, limit ${this.maxBytes})`);
    }
    let segment = this.segments[this.segments.length - 1];
    if (!segment?.handle || segment.size >= this.segmentBytes) {
      if (segment?.handle) await this.seal(segment);
      segment = await this.createSegment();
    }
    const handle = segment.handle!;
    try {
      await writeFully(handle, [header, payload], segment.size);
      await handle.datasync();
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
    this.storedBytes += recordBytes;
  }

  private async createSegment(): Promise<SegmentInfo> {
    const id = this.nextId++;
    const path = join(this.dir, `${String(id).padStart(16, '0')}${SEGMENT_SUFFIX}`);
    const handle = await open(path, 'wx');
    const segment: SegmentInfo = { id, path, size: 0, events: 0, handle };
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

  private async seal(segment: SegmentInfo): Promise<void> {
    const handle = segment.handle;
    segment.handle = null;
    await handle?.close().catch(() => undefined);
  }

  private async dropEmpty(segment: SegmentInfo): Promise<void> {
    const index = this.segments.indexOf(segment);
    if (index >= 0) this.segments.splice(index, 1);
    this.storedBytes -= segment.size;
    await unlink(segment.path).catch(() => undefined);
  }
}

/** Checks a segment file: its valid prefix in bytes and the events in it. */
async function recoverSegment(path: string): Promise<{ validBytes: number; events: number; fileBytes: number }> {
  const bytes = await readFile(path);
  if (bytes.length < MAGIC.length) {
    // Created by a crashed first append: a prefix of the header at most, nothing acknowledged.
    if (MAGIC.subarray(0, bytes.length).equals(bytes)) return { validBytes: 0, events: 0, fileBytes: bytes.length };
    throw new Error(`${path} is not a compter spool segment; move it out of the spool directory`);
  }
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(`${path} is not a compter spool segment of a known version; move it out of the spool directory`);
  }
  let events = 0;
  const validBytes = forEachRecord(bytes, (_payload, count) => (events += count));
  return { validBytes, events, fileBytes: bytes.length };
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

/** Writes every buffer at `position` onwards, however many calls the kernel needs. */
async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let at = position;
  for (const buffer of buffers) {
    let done = 0;
    while (done < buffer.length) {
      const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, at);
      done += bytesWritten;
      at += bytesWritten;
    }
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
