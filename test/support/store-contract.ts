import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent, type StoredEventRow, type LogEvent } from '../../src/domain/event.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import type { EventQuery, EventStore, Snapshot } from '../../src/store/event-store.js';

/** What an adapter's test file hands the contract suite. */
export interface StoreUnderTest {
  /** A store over fresh or shared storage; the suite runs `migrate()` on it. */
  store: EventStore;
  /** A new store over the same data. The suite closes the previous store before calling it. */
  reopen: () => Promise<EventStore>;
  /** Removes what `open` created; called after the last store was closed. */
  cleanup: () => Promise<void>;
}

const MiB = 1024 * 1024;

/** Registers the tests every EventStore adapter must pass; each test owns its project id. */
export function describeEventStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`EventStore contract: ${name}`, () => {
    let harness: StoreUnderTest | undefined;
    let store: EventStore;

    beforeAll(async () => {
      harness = await open();
      store = harness.store;
      await store.migrate();
    });

    afterAll(async () => {
      await store?.close();
      await harness?.cleanup();
    });

    it('migrate() run again is harmless and keeps data', async () => {
      const log = new EventLog();
      const before = [log.event()];
      await store.append(before);
      await store.migrate();
      await store.migrate();
      const after = [log.event()];
      await store.append(after);
      expect(await scanProject(store, log)).toEqual([...before, ...after]);
    });

    it('round-trips every field exactly', { timeout: 60_000 }, async () => {
      const log = new EventLog();
      const tricky = `quote ' double " backslash \\ back\\\\two newline \n tab \t cr \r ünïcödé 日本語 🎉 \u2028`;
      const events = [
        log.event({
          type: 'payment',
          debt: `debt-'"\\`,
          application: 'app ü',
          job: 'job\nline',
          slo: 'slo 🎯',
          ts: Date.UTC(2026, 0, 1, 0, 0, 0, 123),
          ingestedAt: Date.UTC(2026, 0, 1, 0, 0, 0, 999),
          kind: 'success',
          status: 'succeed',
          runId: tricky,
          host: 'batch-07.example',
          businessDate: '2026-11-20',
          durationMs: null,
          latenessMs: null,
          attributes: {
            message: `NUL here:\u0000: and ${tricky}`,
            nested: { list: [1, 'two', null, true, 1.5], empty: {} },
            [`key ' " \\ \n`]: 'value',
          },
        }),
        log.event({ ts: Date.UTC(2000, 0, 1, 0, 0, 0, 1), durationMs: 0, latenessMs: 0 }),
        log.event({
          ts: Date.UTC(2105, 11, 31, 23, 59, 59, 999),
          durationMs: 400 * 86_400_000,
          latenessMs: -123_456,
          attributes: { exitCode: 255 },
        }),
        log.event({ attributes: { message: `${'x'.repeat(MiB - 8)}末尾🎉`, tail: '\u0000' } }),
        log.event({ attributes: {} }),
      ];
      await store.append(events);
      expect(await scanProject(store, log)).toEqual(events);
      expect(await store.query({ project: log.project, limit: 100, order: 'asc' })).toEqual(events);
    });

    it('an event_id appended again is read once', async () => {
      const log = new EventLog();
      const [a, b, c] = [log.event(), log.event(), log.event()];
      await store.append([a, b]);
      await store.append([a, c]);
      await store.append([c, c, b]);
      expect(await scanProject(store, log)).toEqual([a, b, c]);
      expect(await store.query({ project: log.project, limit: 100, order: 'asc' })).toEqual([a, b, c]);
      expect(await store.query({ project: log.project, limit: 100, order: 'desc' })).toEqual([c, b, a]);
    });

    it('a limited query counts each id once, whatever the copies around the limit', async () => {
      const log = new EventLog();
      const events = Array.from({ length: 8 }, () => log.event());
      await store.append(events);
      await store.append(events.slice(2));
      await store.append(events.slice(5));
      for (let i = 0; i < 4; i++) await store.append([events[6]!]);
      for (const limit of [1, 2, 3, 5, 8, 20]) {
        expect(await store.query({ project: log.project, limit, order: 'asc' }), `asc ${limit}`).toEqual(events.slice(0, limit));
        expect(await store.query({ project: log.project, limit, order: 'desc' }), `desc ${limit}`).toEqual(
          [...events].reverse().slice(0, limit),
        );
      }
    });

    it('refuses a batch it can never hold with RangeError, storing none of it', async () => {
      const log = new EventLog();
      const good = log.event();
      const bad = [
        log.event({ ts: Number.NaN }),
        log.event({ durationMs: Number.POSITIVE_INFINITY }),
        log.event({ latenessMs: Number.NaN }),
      ];
      for (const e of bad) await expect(store.append([good, e])).rejects.toBeInstanceOf(RangeError);
      expect(await store.query({ project: log.project, limit: 10, order: 'asc' })).toEqual([]);
    });

    it('takes a batch with its JSON made by the caller, and reads the same events back', async () => {
      const log = new EventLog();
      const events = [log.event(), log.event({ attributes: { message: 'é😀 "q"', n: [1, 2.5, null] }, durationMs: 1500 })];
      await store.append(events, Buffer.from(JSON.stringify(events), 'utf8'));
      expect(await store.query({ project: log.project, limit: 10, order: 'asc' })).toEqual(events);
    });

    it('an empty append is a no-op', async () => {
      const log = new EventLog();
      const first = log.event();
      await store.append([first]);
      const before = await logSummary(store);
      expect(before.lastEventId).not.toBeNull();
      await store.append([]);
      await store.append([], Buffer.from('[]'));
      expect(await logSummary(store)).toEqual(before);
      expect(await scanProject(store, log)).toEqual([first]);
      // The store still takes the next batch after an empty one.
      const next = log.event();
      await store.append([next]);
      expect(await logSummary(store)).toEqual({ count: before.count + 1, lastEventId: next.eventId });
    });

    it('scan pages in id order after the given id', async () => {
      const log = new EventLog();
      const events = Array.from({ length: 25 }, () => log.event());
      // Appended out of order: scan must order by id, not by arrival.
      await store.append(events.slice(10));
      await store.append(events.slice(0, 10));

      const pages = await collect(store.scan(log.idBefore(), 7));
      for (const page of pages.slice(0, -1)) expect(page).toHaveLength(7);
      expect(pages.at(-1)!.length).toBeGreaterThan(0);
      expect(pages.at(-1)!.length).toBeLessThanOrEqual(7);
      const all = pages.flat();
      expectStrictlyIncreasing(all.map((e) => e.eventId));
      expect(all.filter(log.owns)).toEqual(events);

      const later = (await collect(store.scan(events[9]!.eventId, 4))).flat();
      expect(later.filter(log.owns)).toEqual(events.slice(10));
      const none = (await collect(store.scan(events[24]!.eventId, 4))).flat();
      expect(none.filter(log.owns)).toEqual([]);
      const fromStart = (await collect(store.scan(null, 100_000))).flat();
      expect(fromStart.filter(log.owns)).toEqual(events);
    });

    it('query filters by project, entity, type and time, with limit and order', async () => {
      const log = new EventLog();
      const other = new EventLog();
      const t0 = Date.UTC(2026, 10, 20, 2, 0, 0, 0);
      const events = [
        log.event({ type: 'debt.defined', debt: 'billing', ts: t0 }),
        log.event({ type: 'payment', debt: 'billing', kind: 'start', ts: t0 + 1 }),
        log.event({ type: 'payment', debt: 'billing', kind: 'success', ts: t0 + 1000 }),
        log.event({ type: 'payment', debt: 'backup', kind: 'success', ts: t0 + 2000 }),
        log.event({ type: 'job.status', application: 'deposits', job: 'overdraft-calc', ts: t0 + 3000 }),
        log.event({ type: 'job.status', application: 'deposits', job: 'interest', ts: t0 + 4000 }),
        log.event({ type: 'job.status', application: 'loans', job: 'overdraft-calc', ts: t0 + 5000 }),
        log.event({ type: 'slo.closed', slo: 'morning', application: 'deposits', ts: t0 + 6000 }),
        log.event({ type: 'occurrence.closed', debt: 'billing', ts: t0 + 7000 }),
      ];
      const noise = [other.event({ debt: 'billing', ts: t0 + 1 }), other.event({ type: 'job.status', ts: t0 + 3000 })];
      await store.append([...events, ...noise]);

      const cases: Array<Omit<EventQuery, 'project' | 'limit' | 'order'> & Partial<EventQuery>> = [
        {},
        { debt: 'billing' },
        { debt: 'nobody' },
        { slo: 'morning' },
        { application: 'deposits' },
        { job: 'overdraft-calc' },
        { application: 'deposits', job: 'overdraft-calc' },
        { types: ['payment'] },
        { types: ['payment', 'job.status'] },
        { types: ['payment'], debt: 'billing' },
        { fromTs: t0 + 1000 },
        { toTs: t0 + 1000 },
        { fromTs: t0 + 1, toTs: t0 + 4000 },
        { limit: 3 },
        { limit: 3, order: 'desc' },
        { order: 'desc', application: 'deposits' },
        { limit: 1, order: 'desc', debt: 'billing', types: ['payment'] },
      ];
      for (const filters of cases) {
        const q: EventQuery = { project: log.project, limit: 100, order: 'asc', ...filters };
        expect(await store.query(q), JSON.stringify(filters)).toEqual(referenceQuery([...events, ...noise], q));
      }
    });

    it('loads the latest complete snapshot with its chunks in order', { timeout: 60_000 }, async () => {
      const log = new EventLog();
      const first: Snapshot = { upToEventId: log.event().eventId, takenAt: Date.now() - 1000, chunks: ['{"a":', '1}'] };
      await store.saveSnapshot(first);
      expect(await store.loadLatestSnapshot()).toEqual(first);

      const big = (n: number): string => `${n}:${'€'.repeat(MiB)}"'\\\n${n}`;
      const second: Snapshot = {
        upToEventId: log.event().eventId,
        takenAt: Date.now(),
        chunks: [big(0), big(1), big(2), 'short', big(4)],
      };
      await store.saveSnapshot(second);
      const loaded = await store.loadLatestSnapshot();
      expect(loaded?.upToEventId).toBe(second.upToEventId);
      expect(loaded?.takenAt).toBe(second.takenAt);
      expect(loaded?.chunks.length).toBe(second.chunks.length);
      // Compared one by one so a mismatch does not print megabytes.
      loaded?.chunks.forEach((chunk, i) => expect(chunk === second.chunks[i], `chunk ${i}`).toBe(true));

      const third: Snapshot = { upToEventId: log.event().eventId, takenAt: Date.now() + 1, chunks: ['{}'] };
      await store.saveSnapshot(third);
      expect(await store.loadLatestSnapshot()).toEqual(third);
    });

    it('keeps events and snapshots across close and reopen', async () => {
      const log = new EventLog();
      const events = Array.from({ length: 50 }, (_, i) => log.event({ durationMs: i }));
      await store.append(events);
      const snapshot: Snapshot = { upToEventId: events[49]!.eventId, takenAt: Date.now(), chunks: ['[1,', '2]'] };
      await store.saveSnapshot(snapshot);

      await store.close();
      store = await harness!.reopen();
      await store.migrate();

      expect(await scanProject(store, log)).toEqual(events);
      expect(await store.loadLatestSnapshot()).toEqual(snapshot);
    });

    it('appends a batch of 10,000 events in one call', { timeout: 60_000 }, async () => {
      const log = new EventLog();
      const events = Array.from({ length: 10_000 }, (_, i) => log.event({ durationMs: i, attributes: { i, message: `run ${i}` } }));
      await store.append(events);
      const read = await store.query({ project: log.project, limit: 20_000, order: 'asc' });
      expect(read.length).toBe(events.length);
      expect(read.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      expect(read[9_999]).toEqual(events[9_999]);
      expect((await scanProject(store, log, 3_000)).length).toBe(10_000);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}

/** Builds one test's events: a private project id and strictly increasing event ids. */
class EventLog {
  readonly project = `contract-${randomUUID()}`;
  private readonly startMs = Date.now();
  private readonly ids = new EventIdGenerator();
  private count = 0;

  /** True for events of this test's project (bound, so it can be passed to `filter`). */
  readonly owns = (event: LogEvent): boolean => event.project === this.project;

  /** A complete event with defaults; ids come from one generator so they increase. */
  event(overrides: Partial<Omit<StoredEventRow, 'eventId' | 'project'>> = {}): LogEvent {
    this.count++;
    return decodeEvent({
      eventId: this.ids.next(this.startMs),
      project: this.project,
      type: 'payment',
      debt: 'd1',
      application: '',
      job: '',
      slo: '',
      ts: this.startMs + this.count,
      ingestedAt: this.startMs + this.count,
      kind: 'success',
      status: '',
      runId: '',
      host: '',
      businessDate: '',
      durationMs: null,
      latenessMs: null,
      attributes: { n: this.count },
      ...overrides,
    });
  }

  /** An id below every id this log makes, for `scan(after)` to start just before them. */
  idBefore(): string {
    return new EventIdGenerator().next(this.startMs - 1);
  }
}

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

async function scanProject(store: EventStore, log: EventLog, pageSize = 1000): Promise<LogEvent[]> {
  return (await collect(store.scan(log.idBefore(), pageSize))).flat().filter(log.owns);
}

/** How many events the whole log holds and the greatest id in it. */
async function logSummary(store: EventStore): Promise<{ count: number; lastEventId: string | null }> {
  let count = 0;
  let lastEventId: string | null = null;
  for await (const page of store.scan(null, 5_000)) {
    count += page.length;
    if (page.length > 0) lastEventId = page.at(-1)!.eventId;
  }
  return { count, lastEventId };
}

function expectStrictlyIncreasing(ids: string[]): void {
  for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!, `${ids[i - 1]} < ${ids[i]}`).toBe(true);
}

/** What `query` must return, computed the obvious way in memory. */
function referenceQuery(events: LogEvent[], q: EventQuery): LogEvent[] {
  const matching = events
    .filter(
      (e) =>
        e.project === q.project &&
        (q.debt === undefined || e.debt === q.debt) &&
        (q.slo === undefined || e.slo === q.slo) &&
        (q.application === undefined || e.application === q.application) &&
        (q.job === undefined || e.job === q.job) &&
        (q.types === undefined || q.types.includes(e.type)) &&
        (q.fromTs === undefined || e.ts >= q.fromTs) &&
        (q.toTs === undefined || e.ts < q.toTs),
    )
    .sort((a, b) => (a.eventId < b.eventId ? -1 : 1));
  if (q.order === 'desc') matching.reverse();
  return matching.slice(0, q.limit);
}
