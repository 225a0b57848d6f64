import { describe, expect, it } from 'vitest';
import { compileSlo } from '../../src/domain/slos/slo-expectations.js';
import { normalizeSloInput, type SloDefinition, type SloInput } from '../../src/domain/slos/slo.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function slo(input: Partial<SloInput> & Pick<SloInput, 'jobs'>): SloDefinition {
  const { definition, problems } = normalizeSloInput({ application: 'deposits', calendar: 'cal', ...input }, { id: 'test', project: 'p' });
  expect(problems).toEqual([]);
  return definition!;
}

/** expectedStart and expectedEnd of the one row of a whole-day SLO on `date`. */
function wholeDay(tz: string, date: string, expectedStart: string | undefined, expectedEnd: string): [string | null, string | null] {
  const def = slo({ jobs: [{ job: 'j', expectedEnd, ...(expectedStart ? { expectedStart } : {}) }] });
  const [row] = compileSlo(def).rowsOn(tz, date);
  return [iso(row!.expectedStart), iso(row!.expectedEnd)];
}

describe('whole-day expectations: wall times in the calendar zone, never +86,400 s', () => {
  it('America/New_York, spring forward 2027-03-14', () => {
    // "03:00+1d" of Saturday the 13th is 03:00 EDT on the 14th (07:00Z), not 24 h after 03:00 EST (08:00Z).
    expect(wholeDay('America/New_York', '2027-03-13', '00:30+1d', '03:00+1d')).toEqual([
      '2027-03-14T05:30:00.000Z',
      '2027-03-14T07:00:00.000Z',
    ]);
    // 01:30 is still EST; 02:30 does not exist and resolves to the end of the gap, 03:00 EDT.
    expect(wholeDay('America/New_York', '2027-03-14', '01:30', '02:30')).toEqual(['2027-03-14T06:30:00.000Z', '2027-03-14T07:00:00.000Z']);
    expect(wholeDay('America/New_York', '2027-03-14', undefined, '05:00')).toEqual([null, '2027-03-14T09:00:00.000Z']);
  });

  it('America/New_York, fall back 2027-11-07', () => {
    // 01:30 happens twice: the first (EDT, UTC-4) counts.
    expect(wholeDay('America/New_York', '2027-11-07', undefined, '01:30')).toEqual([null, '2027-11-07T05:30:00.000Z']);
    // The 25-hour day: 03:00 EST on the 7th is 08:00Z.
    expect(wholeDay('America/New_York', '2027-11-06', '00:30+1d', '03:00+1d')).toEqual([
      '2027-11-07T04:30:00.000Z',
      '2027-11-07T08:00:00.000Z',
    ]);
  });

  it('Europe/London, spring forward 2027-03-28', () => {
    expect(wholeDay('Europe/London', '2027-03-27', undefined, '03:00+1d')).toEqual([null, '2027-03-28T02:00:00.000Z']);
    // 01:30 does not exist (01:00 GMT jumps to 02:00 BST): the end of the gap.
    expect(wholeDay('Europe/London', '2027-03-28', undefined, '01:30')).toEqual([null, '2027-03-28T01:00:00.000Z']);
  });

  it('Europe/London, fall back 2027-10-31', () => {
    expect(wholeDay('Europe/London', '2027-10-31', undefined, '01:30')).toEqual([null, '2027-10-31T00:30:00.000Z']);
    expect(wholeDay('Europe/London', '2027-10-30', '00:30+1d', '03:00+1d')).toEqual([
      '2027-10-30T23:30:00.000Z',
      '2027-10-31T03:00:00.000Z',
    ]);
  });

  it('a row starts at its jobs’ earliest start and ends at their latest end', () => {
    const def = slo({
      jobs: [
        { job: 'extract', expectedStart: '22:00', expectedEnd: '23:30' },
        { job: 'load', expectedStart: '23:45', expectedEnd: '02:00+1d' },
      ],
    });
    const [row] = compileSlo(def).rowsOn('Europe/Copenhagen', '2026-11-20');
    expect([iso(row!.expectedStart), iso(row!.expectedEnd)]).toEqual(['2026-11-20T21:00:00.000Z', '2026-11-21T01:00:00.000Z']);
    expect(row!.jobs.map((j) => iso(j.expectedEnd))).toEqual(['2026-11-20T22:30:00.000Z', '2026-11-21T01:00:00.000Z']);
    expect(row!.slot).toBeNull();
  });
});

describe('within slots: offsets from each cron slot of the business date', () => {
  it('the summary due by :10 and :40, 06:00–18:00: 26 slots, +0m ends at the slot', () => {
    const def = slo({ within: { cron: '10,40 6-18 * * *' }, jobs: [{ job: 'summary', expectedEnd: '+0m' }] });
    const rows = compileSlo(def).rowsOn('America/New_York', '2026-11-20');
    expect(rows).toHaveLength(26);
    expect(rows[0]).toMatchObject({ slot: '06:10', expectedStart: null });
    expect(iso(rows[0]!.expectedEnd)).toBe('2026-11-20T11:10:00.000Z');
    expect(rows.at(-1)!.slot).toBe('18:40');
    // Without an expectedStart a slot opens just after the previous slot's deadline.
    expect(rows[1]!.opensAt).toBe(rows[0]!.expectedEnd + 1);
  });

  it('offsets before and after the slot', () => {
    const def = slo({ within: { cron: '0 9,15 * * *' }, jobs: [{ job: 'j', expectedStart: '-30m', expectedEnd: '+15m' }] });
    const rows = compileSlo(def).rowsOn('Europe/London', '2027-03-29');
    expect(rows.map((r) => [r.slot, iso(r.expectedStart), iso(r.expectedEnd)])).toEqual([
      ['09:00', '2027-03-29T07:30:00.000Z', '2027-03-29T08:15:00.000Z'],
      ['15:00', '2027-03-29T13:30:00.000Z', '2027-03-29T14:15:00.000Z'],
    ]);
  });

  it('slots in a spring-forward gap fall due once, at the end of the gap', () => {
    const def = slo({ within: { cron: '10,40 1-3 * * *' }, jobs: [{ job: 'j', expectedEnd: '+0m' }] });
    const rows = compileSlo(def).rowsOn('America/New_York', '2027-03-14');
    // 02:10 and 02:40 do not exist; both resolve to 03:00 EDT and count once, as 02:10.
    expect(rows.map((r) => [r.slot, iso(r.expectedEnd)])).toEqual([
      ['01:10', '2027-03-14T06:10:00.000Z'],
      ['01:40', '2027-03-14T06:40:00.000Z'],
      ['02:10', '2027-03-14T07:00:00.000Z'],
      ['03:10', '2027-03-14T07:10:00.000Z'],
      ['03:40', '2027-03-14T07:40:00.000Z'],
    ]);
  });

  it('a repeated hour on fall-back day gives each slot its first instance', () => {
    const def = slo({ within: { cron: '30 0-2 * * *' }, jobs: [{ job: 'j', expectedEnd: '+0m' }] });
    const rows = compileSlo(def).rowsOn('Europe/London', '2027-10-31');
    expect(rows.map((r) => [r.slot, iso(r.expectedEnd)])).toEqual([
      ['00:30', '2027-10-30T23:30:00.000Z'],
      ['01:30', '2027-10-31T00:30:00.000Z'],
      ['02:30', '2027-10-31T02:30:00.000Z'],
    ]);
  });
});
