import { appendFile, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { decodeEvent, type LogEvent } from '../../src/domain/event.js';
import { Spool, SpoolError } from '../../src/store/spool.js';
import { ManualStoreClock } from '../support/manual-store-clock.js';

const dirs: string[] = [];
const open: Spool[] = [];

afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'compter-spool-'));
  dirs.push(dir);
  return dir;
}

async function openSpool(dir: string, options: Parameters<typeof Spool.open>[1] = {}) {
  const opened = await Spool.open(dir, options);
  open.push(opened.spool);
  return opened;
}

const ids = new EventIdGenerator();
let n = 0;

function event(message = `m${n++}`): LogEvent {
  const ts = Date.UTC(2026, 10, 20, 12, 0, 0, n);
  return decodeEvent({
    eventId: ids.next(ts),
    project: 'p',
    type: 'payment',
    debt: 'd',
    application: '',
    job: '',
    slo: '',
    ts,
    ingestedAt: ts,
    kind: 'log',
    status: '',
    runId: '',
    host: '',
    businessDate: '',
    durationMs: null,
    latenessMs: null,
    attributes: { message },
  });
}

function batch(size: number): LogEvent[] {
  return Array.from({ length: size }, () => event());
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
}

/** Takes every unstored record oldest first, one at a time, marking each stored, as the drainer does. */
async function drainAll(spool: Spool): Promise<LogEvent[][]> {
  const batches: LogEvent[][] = [];
  for (;;) {
    const chunk = await spool.next(1);
    if (!chunk) return batches;
    batches.push([...chunk.events]);
    await spool.stored(chunk);
  }
}

describe('Spool', () => {
  it('gives back appended batches in order, across a reopen, with every field', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir);
    const a = batch(3);
    const b = [
      decodeEvent({
        ...event(),
        attributes: { message: 'é😀 \u0000 \'"\\\n', nested: { x: [1, null, true] } },
        durationMs: 12,
        latenessMs: -5,
      }),
    ];
    await spool.append(a);
    await spool.append(b);
    expect(spool.events).toBe(4);
    await spool.close();

    const { spool: again, recovery } = await openSpool(dir);
    expect(recovery).toEqual({ segments: 1, events: 4, droppedBytes: 0 });
    expect(again.events).toBe(4);
    expect(await drainAll(again)).toEqual([a, b]);
    expect(again.events).toBe(0);
    expect(again.bytes).toBe(0);
    expect(await segmentFiles(dir)).toEqual([]);
  });

  it('drops a torn last record after a crash and keeps every record before it', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir);
    const a = batch(2);
    const b = batch(5);
    await spool.append(a);
    await spool.append(b);
    await spool.close();
    const [file] = await segmentFiles(dir);
    const path = join(dir, file!);
    const goodSize = (await stat(path)).size;
    // A crash in the middle of the next record: its header and part of its payload.
    const torn = Buffer.alloc(12 + 10);
    torn.writeUInt32BE(500, 0);
    torn.writeUInt32BE(3, 4);
    torn.writeUInt32BE(123, 8);
    await appendFile(path, torn);

    const { spool: again, recovery } = await openSpool(dir);
    expect(recovery).toEqual({ segments: 1, events: 7, droppedBytes: 22 });
    expect((await stat(path)).size).toBe(goodSize);
    // New writes go to a new segment, after the recovered one.
    const c = batch(1);
    await again.append(c);
    expect(await segmentFiles(dir)).toHaveLength(2);
    expect(await drainAll(again)).toEqual([a, b, c]);
  });

  it('drops a last record whose checksum does not match', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir);
    const a = batch(2);
    await spool.append(a);
    await spool.append(batch(2));
    await spool.close();
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const bytes = await readFile(path);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff; // flip bits inside the last payload
    await writeFile(path, bytes);
    const { spool: again, recovery } = await openSpool(dir);
    expect(recovery.events).toBe(2);
    expect(recovery.droppedBytes).toBeGreaterThan(12);
    expect(await drainAll(again)).toEqual([a]);
  });

  it('removes a segment whose creation crashed and refuses a file it does not know', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '0000000000000001.seg'), 'compter-sp');
    const { spool, recovery } = await openSpool(dir);
    expect(recovery).toEqual({ segments: 0, events: 0, droppedBytes: 10 });
    expect(await segmentFiles(dir)).toEqual([]);
    await spool.close();
    await writeFile(join(dir, '0000000000000002.seg'), 'something else entirely');
    await expect(Spool.open(dir)).rejects.toThrow(/not a compter spool segment/);
  });

  it('stores records oldest first; a sealed segment is deleted once all of it is stored', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { segmentBytes: 1 });
    const batches = [batch(1), batch(2), batch(3)];
    for (const b of batches) await spool.append(b);
    expect(await segmentFiles(dir)).toHaveLength(3);
    expect(spool.events).toBe(6);

    const first = await spool.next(100);
    // A chunk never spans segments.
    expect(first!.events).toEqual(batches[0]);
    // Not stored yet: handed out again, and a crash now would store it again (deduplicated by id on read).
    expect((await spool.next(100))!.events).toEqual(batches[0]);
    expect(await segmentFiles(dir)).toHaveLength(3);
    await spool.stored(first!);
    expect(await segmentFiles(dir)).toHaveLength(2);
    expect(spool.events).toBe(5);
    expect(await drainAll(spool)).toEqual(batches.slice(1));
  });

  it('joins records into chunks up to the limit, never splitting one', async () => {
    const { spool } = await openSpool(await tempDir());
    const batches = [batch(2), batch(2), batch(5), batch(1)];
    for (const b of batches) await spool.append(b);
    const one = await spool.next(4);
    expect(one!.events).toEqual([...batches[0]!, ...batches[1]!]);
    // The chunk's JSON is made from the records' text, and says the same.
    expect(JSON.parse(one!.json.toString('utf8'))).toEqual(one!.events);
    await spool.stored(one!);
    const two = await spool.next(4);
    expect(two!.events).toEqual(batches[2]); // larger than the limit: alone
    expect(two!.json.toString('utf8')).toBe(JSON.stringify(batches[2]));
    await spool.stored(two!);
    expect([...spool.unstored()]).toEqual(batches[3]);
    expect(spool.events).toBe(1);
  });

  it('keeps the segment being appended to until it is fully stored and big or old enough', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { rotateBytes: 1 << 30, rotateMs: 60_000 });
    await spool.append(batch(2));
    await drainAll(spool);
    expect(await segmentFiles(dir)).toHaveLength(1);
    const b = batch(3);
    await spool.append(b);
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(await drainAll(spool)).toEqual([b]);
    // Fully stored: closing deletes it, so the next start stores nothing twice.
    await spool.close();
    expect(await segmentFiles(dir)).toEqual([]);

    const { spool: rotating } = await openSpool(dir, { rotateMs: 0 });
    await rotating.append(batch(1));
    await drainAll(rotating);
    expect(await segmentFiles(dir)).toEqual([]);
    const c = batch(2);
    await rotating.append(c);
    expect(await segmentFiles(dir)).toHaveLength(1);
    expect(await drainAll(rotating)).toEqual([c]);
  });

  it('deletes a fully stored segment once appends stop for rotateMs', async () => {
    const dir = await tempDir();
    const clock = new ManualStoreClock();
    const { spool } = await openSpool(dir, { rotateMs: 50, clock });
    await spool.append(batch(2));
    await clock.advance(20);
    await drainAll(spool);
    expect(await segmentFiles(dir)).toHaveLength(1);
    // 50 ms after the segment was opened, not after it was stored.
    await clock.advance(29);
    expect(await segmentFiles(dir)).toHaveLength(1);
    await clock.advance(1);
    for (let i = 0; i < 200 && (await segmentFiles(dir)).length > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await segmentFiles(dir)).toEqual([]);
    const b = batch(1);
    await spool.append(b);
    expect(await drainAll(spool)).toEqual([b]);
  });

  it('makes room under its size limit by deleting segments that are fully stored', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { maxBytes: 4096, rotateMs: 60_000 });
    // Far more than 4 KiB in total, but each batch is stored before the next one comes.
    for (let i = 0; i < 30; i++) {
      await spool.append(batch(3));
      await drainAll(spool);
    }
    expect(spool.bytes).toBeLessThanOrEqual(4096);
    expect(spool.events).toBe(0);
  });

  it('reads sealed segments back from disk past its memory limit, in order', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { segmentBytes: 1, maxMemoryEvents: 3 });
    const batches = [batch(2), batch(2), batch(2), batch(2)];
    for (const b of batches) await spool.append(b);
    // Only what is still in memory is visible to reads; the rest is on disk.
    expect([...spool.unstored()].length).toBeLessThan(8);
    const read = await spool.next(100);
    expect(JSON.parse(read!.json.toString('utf8'))).toEqual(read!.events);
    expect(await drainAll(spool)).toEqual(batches);
    expect(spool.events).toBe(0);
  });

  it('after a crash, gives back every record not yet deleted, stored or not', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { rotateBytes: 1 << 30, rotateMs: 60_000 });
    const a = batch(2);
    const b = batch(1);
    await spool.append(a);
    await spool.stored((await spool.next(1))!);
    await spool.append(b);
    // No close: the process dies here.
    const { spool: again, recovery } = await openSpool(dir);
    expect(recovery.events).toBe(3);
    expect(await drainAll(again)).toEqual([a, b]);
  });

  it('counts an append as spooled from the moment it is accepted', async () => {
    const { spool } = await openSpool(await tempDir());
    const written = spool.append(batch(3));
    expect(spool.events).toBe(3);
    await written;
    expect(spool.events).toBe(3);
  });

  it('refuses a write over its size limit and keeps everything written before', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { maxBytes: 4096 });
    const kept: LogEvent[][] = [];
    let refused: unknown;
    for (let i = 0; i < 50 && !refused; i++) {
      const b = batch(3);
      try {
        await spool.append(b);
        kept.push(b);
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeInstanceOf(SpoolError);
    expect((refused as Error).message).toMatch(/full/);
    expect(kept.length).toBeGreaterThan(2);
    expect(spool.events).toBe(kept.length * 3);
    expect(spool.bytes).toBeLessThanOrEqual(4096);
    await spool.close();
    const { spool: again } = await openSpool(dir, { maxBytes: 4096 });
    expect(await drainAll(again)).toEqual(kept);
  });

  it('rejects with SpoolError when its directory is gone or not a directory, and recovers after', async () => {
    const dir = await tempDir();
    const { spool } = await openSpool(dir, { rotateMs: 0 });
    await spool.append(batch(2));
    // Stored and deleted, so the next append has to create a file in the directory.
    await drainAll(spool);
    expect(await segmentFiles(dir)).toEqual([]);
    const aside = `${dir}.aside`;
    dirs.push(aside);
    await rename(dir, aside);
    await writeFile(dir, 'not a directory');
    await expect(spool.append(batch(1))).rejects.toBeInstanceOf(SpoolError);
    expect(spool.events).toBe(0);
    await rm(dir);
    await rename(aside, dir);
    const b = batch(1);
    await spool.append(b);
    expect(await drainAll(spool)).toEqual([b]);
  });

  it('fails to open on a path that cannot be a directory', async () => {
    const dir = await tempDir();
    const file = join(dir, 'file');
    await writeFile(file, '');
    await expect(Spool.open(join(file, 'spool'))).rejects.toBeInstanceOf(SpoolError);
  });
});
