import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/domain/time/clock.js';
import type { LogEvent } from '../../src/domain/event.js';
import { EventIdGenerator } from '../../src/domain/event-id.js';
import { parseJobStatusBody } from '../../src/domain/slos/job-status.js';
import { LogPosition } from '../../src/engine/rebuild.js';
import { SloEngine } from '../../src/engine/slo-engine.js';
import type { EventStore } from '../../src/store/event-store.js';

/** A sink whose writes the test resolves or fails by hand. */
class ManualSink {
  readonly written: LogEvent[][] = [];
  private readonly pending: { events: LogEvent[]; resolve: () => void; reject: (err: Error) => void }[] = [];

  write(events: LogEvent[]): Promise<void> {
    return new Promise((resolve, reject) => this.pending.push({ events, resolve, reject }));
  }

  succeedNext(): void {
    const next = this.pending.shift()!;
    this.written.push(next.events);
    next.resolve();
  }

  failNext(): void {
    this.pending.shift()!.reject(new Error('append failed'));
  }

  get waiting(): number {
    return this.pending.length;
  }
}

const now = Date.parse('2026-11-24T12:00:00Z');
const report = {
  application: 'deposits',
  job: 'load',
  status: 'succeed',
  time: '2026-11-24T11:00:00Z',
  businessDate: '2026-11-24',
  runId: 'r-1',
};

function engine(sink: ManualSink): SloEngine {
  const store = { query: async () => [] } as unknown as EventStore;
  return new SloEngine({
    clock: new ManualClock(now),
    sink,
    store,
    logger: pino({ level: 'silent' }),
    ids: new EventIdGenerator(),
    position: new LogPosition(),
  });
}

const send = (e: SloEngine) => e.reportJobStatus('p', parseJobStatusBody(report, now).reports);
const settled = async <T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> => {
  const state = await Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<'pending'>((r) => setTimeout(() => r('pending'), 20)),
  ]);
  return state;
};

describe('SloEngine: a 2xx to a job status means it is durable, resends included', () => {
  it('a report whose write failed is written again when resent, not taken for a duplicate', async () => {
    const sink = new ManualSink();
    const e = engine(sink);
    const first = send(e);
    sink.failNext();
    await expect(first).rejects.toThrow('append failed');
    const retry = send(e);
    expect(sink.waiting).toBe(1);
    sink.succeedNext();
    expect(await retry).toEqual({ accepted: 1, duplicates: 0 });
    expect(sink.written.flat().map((ev) => [ev.type, ev.runId])).toEqual([['job.status', 'r-1']]);
    // Now it is recorded: a further resend is a duplicate and writes nothing.
    expect(await send(e)).toEqual({ accepted: 0, duplicates: 1 });
    expect(sink.waiting).toBe(0);
  });

  it('a resend that arrives while the first copy is being written waits for that write', async () => {
    const sink = new ManualSink();
    const e = engine(sink);
    const first = send(e);
    const resend = send(e);
    expect(await settled(resend)).toBe('pending');
    sink.succeedNext();
    expect(await first).toEqual({ accepted: 1, duplicates: 0 });
    expect(await resend).toEqual({ accepted: 0, duplicates: 1 });
  });

  it('a resend waiting on a write that fails fails too', async () => {
    const sink = new ManualSink();
    const e = engine(sink);
    const first = send(e);
    const resend = send(e);
    sink.failNext();
    await expect(first).rejects.toThrow();
    await expect(resend).rejects.toThrow();
  });
});
