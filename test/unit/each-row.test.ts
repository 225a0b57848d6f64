import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/domain/event.js';
import { eachRowText, ROWS_PER_SLICE } from '../../src/store/clickhouse/each-row.js';
import { toEventRow } from '../../src/store/clickhouse/schema.js';

function payment(i: number): LogEvent {
  const ts = Date.UTC(2026, 11, 7, 12) + i;
  return {
    eventId: `01M99CDZC44B1ZDB56W2T${String(i).padStart(5, '0')}`,
    project: 'p',
    debt: `d-${i % 7}`,
    application: '',
    job: '',
    slo: '',
    type: 'payment',
    ts,
    ingestedAt: ts,
    kind: 'success',
    status: '',
    runId: '',
    host: 'h "quoted"',
    businessDate: '2026-12-07',
    durationMs: i,
    latenessMs: null,
    attributes: { occurrenceAt: ts, message: `line ${i}\nnext` },
  };
}

describe('the JSONEachRow body of a ClickHouse insert', () => {
  it('holds one row per event, stamped with the origin, in order', async () => {
    const events = Array.from({ length: ROWS_PER_SLICE * 2 + 3 }, (_, i) => payment(i));
    const lines = (await eachRowText(events, 'proc-1')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(events.length);
    lines.forEach((line, i) => expect(JSON.parse(line)).toEqual({ ...toEventRow(events[i]!), origin: 'proc-1' }));
  });

  it('lets the event loop run between slices of rows', async () => {
    const events = Array.from({ length: ROWS_PER_SLICE * 2 + 1 }, (_, i) => payment(i));
    let turns = 0;
    let isDone = false;
    const turn = () => {
      turns++;
      if (!isDone) setImmediate(turn);
    };
    setImmediate(turn);
    await eachRowText(events, 'proc-1');
    isDone = true;
    // Three slices: the loop turned at least twice while they were made.
    expect(turns).toBeGreaterThanOrEqual(2);
  });

  it('refuses an event the table cannot hold before making any text', async () => {
    await expect(eachRowText([payment(1), { ...payment(2), ts: -5 }], 'o')).rejects.toThrow(RangeError);
  });
});
