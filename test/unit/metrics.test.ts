import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { DEBT_STATUSES, type DebtMetricsView } from '../../src/domain/debts/debt-types.js';
import { DEBT_FAMILIES, DebtSeries, renderDebtSeries } from '../../src/metrics/debt-series.js';
import { EntityExposition, type ExpositionSource } from '../../src/metrics/entity-exposition.js';
import { METRIC } from '../../src/metrics/names.js';
import type { ServerResponse } from 'node:http';
import { seededRandom } from '../support/seed.js';
import { createMetrics, metricsBodyToBuffer, writeMetricsBody, type MetricsResponseSink } from '../../src/metrics/registry.js';

function debtView(over: Partial<DebtMetricsView> = {}): DebtMetricsView {
  return {
    project: 'default',
    debt: 'nightly-billing',
    deadlineAt: 1_767_232_800_000,
    lastSuccessAt: 1_767_146_412_345,
    isOverdue: false,
    isBlocked: false,
    status: 'up',
    lastDurationMs: 61_500,
    paymentsByKind: { start: 3, success: 2 },
    extraRuns: 0,
    occurrencesByOutcome: { paid: 2 },
    ...over,
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

/**
 * A strict parser for text format 0.0.4: each family's HELP and TYPE once, before its samples;
 * every sample belongs to the family declared last (so samples are grouped); no series twice.
 */
function parseExposition(text: string): Map<string, Family> {
  // Plain checks, not expect(): the 10k-debt test parses ~150k lines.
  const check = (ok: boolean, message: string): void => {
    if (!ok) throw new Error(message);
  };
  const families = new Map<string, Family>();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  check(text.endsWith('\n'), 'exposition must end with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, what, name, rest] = meta as unknown as [string, 'HELP' | 'TYPE', string, string];
      let fam = families.get(name);
      if (!fam) {
        fam = { name, type: '', help: '', samples: [] };
        families.set(name, fam);
      } else {
        check(fam.samples.length === 0, `${name}: ${what} after its samples`);
      }
      if (what === 'HELP') {
        check(fam.help === '', `${name}: HELP twice`);
        fam.help = rest;
      } else {
        check(fam.type === '', `${name}: TYPE twice`);
        fam.type = rest;
      }
      current = fam;
      continue;
    }
    check(!line.startsWith('#'), `unexpected comment ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    if (!current) throw new Error(`sample before any TYPE: ${line}`);
    const base = current.name;
    const belongs =
      name === base ||
      (current.type === 'histogram' && [`${base}_bucket`, `${base}_sum`, `${base}_count`].includes(name)) ||
      (current.type === 'summary' && [`${base}_sum`, `${base}_count`].includes(name));
    check(belongs, `${name} outside its family (under ${base})`);
    const labels = labelText === undefined ? {} : parseLabels(labelText);
    // Go's ParseFloat syntax, as Prometheus parses values (NaN case-insensitive).
    const isNaNText = valueText.toLowerCase() === 'nan';
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    check(isNaNText || !Number.isNaN(value), `bad value ${valueText}`);
    // Our label order is fixed, so the raw label text identifies a series.
    const id = `${name}{${labelText ?? ''}}`;
    check(!seriesSeen.has(id), `duplicate series ${id}`);
    seriesSeen.add(id);
    current.samples.push({ name, labels, value });
  }
  return families;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const nm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(text.slice(i));
    if (!nm) throw new Error(`bad label at ${text.slice(i)}`);
    i += nm[0].length;
    let value = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined) throw new Error(`unterminated label value in ${text}`);
      if (c === '"') break;
      if (c === '\n') throw new Error('raw newline in label value');
      if (c === '\\') {
        const e = text[i++];
        if (e === 'n') value += '\n';
        else if (e === '\\' || e === '"') value += e;
        else throw new Error(`bad escape \\${e}`);
      } else value += c;
    }
    labels[nm[1]!] = value;
    if (text[i] === ',') i++;
    else if (i !== text.length) throw new Error(`expected , in ${text}`);
  }
  return labels;
}

function bodyText(chunks: Buffer[]): string {
  return Buffer.concat(chunks).toString('utf8');
}

/** Renders, copies the text out and releases the render, as the HTTP layer does. */
function renderText(exposition: ExpositionSource): string {
  const r = exposition.render();
  const text = bodyText(r.chunks);
  expect(Buffer.byteLength(text)).toBe(r.byteLength);
  r.release();
  return text;
}

/** Sample lines only: slots are padded with empty lines, which the format ignores. */
function sampleLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

function seriesOf(families: Map<string, Family>, debt: string): Sample[] {
  return [...families.values()].flatMap((f) => f.samples.filter((s) => s.labels.debt === debt));
}

describe('renderDebtSeries', () => {
  it('renders one debt exactly', () => {
    const text = renderDebtSeries(debtView()).join('');
    const l = 'project="default",debt="nightly-billing"';
    const expected = [
      `compter_debt_deadline_timestamp_seconds{${l}} 1767232800`,
      `compter_debt_last_success_timestamp_seconds{${l}} 1767146412.345`,
      `compter_debt_overdue{${l}} 0`,
      ...DEBT_STATUSES.map((s) => `compter_debt_status{${l},status="${s}"} ${s === 'up' ? 1 : 0}`),
      `compter_debt_last_duration_seconds{${l}} 61.5`,
      `compter_payments_total{${l},kind="start"} 3`,
      `compter_payments_total{${l},kind="success"} 2`,
      `compter_debt_extra_runs_total{${l}} 0`,
      `compter_occurrences_total{${l},outcome="paid"} 2`,
      `compter_debt_blocked{${l}} 0`,
    ];
    expect(text).toBe(`${expected.join('\n')}\n`);
  });

  it('returns one entry per family, in DEBT_FAMILIES order, with METRIC names', () => {
    const lines = renderDebtSeries(debtView());
    expect(lines).toHaveLength(DEBT_FAMILIES.length);
    lines.forEach((text, i) => {
      for (const line of text.split('\n').filter(Boolean)) expect(line.startsWith(`${DEBT_FAMILIES[i]!.name}{`)).toBe(true);
    });
    const names = Object.values(METRIC);
    for (const f of DEBT_FAMILIES) expect(names).toContain(f.name);
  });

  it('omits absent values', () => {
    const text = renderDebtSeries(debtView({ deadlineAt: null, lastSuccessAt: null, lastDurationMs: null })).join('');
    expect(text).not.toContain(METRIC.debtDeadline);
    expect(text).not.toContain(METRIC.debtLastSuccess);
    expect(text).not.toContain(METRIC.debtLastDuration);
    expect(text).toContain(`${METRIC.debtOverdue}{`);
  });

  it('exports counters only for kinds and outcomes seen', () => {
    const text = renderDebtSeries(
      debtView({ paymentsByKind: { fail: 1, log: 0 }, occurrencesByOutcome: { missed: 4, paid: 0 }, extraRuns: 2 }),
    ).join('');
    const kinds = [...text.matchAll(/compter_payments_total\{[^}]*kind="([a-z]+)"\}/g)].map((m) => m[1]);
    const outcomes = [...text.matchAll(/compter_occurrences_total\{[^}]*outcome="([a-z_]+)"\}/g)].map((m) => m[1]);
    expect(kinds).toEqual(['fail']);
    expect(outcomes).toEqual(['missed']);
    expect(text).toContain('compter_debt_extra_runs_total{project="default",debt="nightly-billing"} 2\n');
  });

  it('is one-hot over all statuses', () => {
    for (const status of DEBT_STATUSES) {
      const statusIndex = DEBT_FAMILIES.findIndex((f) => f.name === METRIC.debtStatus);
      const lines = renderDebtSeries(debtView({ status }))[statusIndex]!;
      const fam = parseExposition(`# TYPE ${METRIC.debtStatus} gauge\n${lines}`);
      const samples = fam.get(METRIC.debtStatus)!.samples;
      expect(samples.map((s) => s.labels.status).sort()).toEqual([...DEBT_STATUSES].sort());
      expect(samples.filter((s) => s.value === 1).map((s) => s.labels.status)).toEqual([status]);
      expect(samples.filter((s) => s.value === 0)).toHaveLength(DEBT_STATUSES.length - 1);
    }
  });

  it('escapes quotes, backslashes and newlines in label values and keeps unicode', () => {
    const project = 'proj "α"\\x';
    const debt = 'd\nü—✓"\\';
    const series = new DebtSeries();
    series.update(debtView({ project, debt }));
    const text = renderText(series);
    expect(text).toContain('project="proj \\"α\\"\\\\x",debt="d\\nü—✓\\"\\\\"');
    const fams = parseExposition(text);
    const samples = [...fams.values()].flatMap((f) => f.samples);
    expect(samples.length).toBeGreaterThan(0);
    for (const s of samples) expect(s.labels).toMatchObject({ project, debt });
  });
});

describe('DebtSeries exposition', () => {
  function threeDebts(): DebtSeries {
    const series = new DebtSeries({ chunkSize: 2 });
    series.update(debtView({ debt: 'a' }));
    series.update(debtView({ debt: 'b', status: 'overdue', isOverdue: true }));
    series.update(debtView({ debt: 'c', deadlineAt: null, project: 'other' }));
    return series;
  }

  it('is valid text format with each family declared once and its samples grouped', () => {
    const text = renderText(threeDebts());
    const fams = parseExposition(text);
    expect([...fams.keys()]).toEqual(DEBT_FAMILIES.map((f) => f.name));
    for (const f of DEBT_FAMILIES) {
      expect(fams.get(f.name)!.type).toBe(f.type);
      expect(text.split(`# HELP ${f.name} `)).toHaveLength(2);
      expect(text.split(`# TYPE ${f.name} `)).toHaveLength(2);
    }
    expect(fams.get(METRIC.debtDeadline)!.samples.map((s) => s.labels.debt)).toEqual(['a', 'b']);
    expect(fams.get(METRIC.debtOverdue)!.samples.find((s) => s.labels.debt === 'b')!.value).toBe(1);
  });

  it('updating one debt changes only its lines', () => {
    const series = threeDebts();
    const before = sampleLines(renderText(series));
    series.update(debtView({ debt: 'b', status: 'up', isOverdue: false, lastSuccessAt: 1_767_300_000_000 }));
    const after = sampleLines(renderText(series));
    const removed = before.filter((l) => !after.includes(l));
    const added = after.filter((l) => !before.includes(l));
    expect(removed.length).toBeGreaterThan(0);
    for (const l of [...removed, ...added]) expect(l).toContain('debt="b"');
    expect(after.filter((l) => !l.includes('debt="b"'))).toEqual(before.filter((l) => !l.includes('debt="b"')));
    expect(added).toContain('compter_debt_last_success_timestamp_seconds{project="default",debt="b"} 1767300000');
  });

  it('removing a debt removes all its lines and its slot is reused', () => {
    const series = threeDebts();
    renderText(series);
    expect(series.remove('default', 'b')).toBe(true);
    expect(series.remove('default', 'b')).toBe(false);
    let fams = parseExposition(renderText(series));
    expect(seriesOf(fams, 'b')).toHaveLength(0);
    expect(seriesOf(fams, 'a').length).toBeGreaterThan(0);
    expect(series.size).toBe(2);
    series.update(debtView({ debt: 'd' }));
    fams = parseExposition(renderText(series));
    expect(seriesOf(fams, 'd')).toHaveLength(seriesOf(fams, 'a').length);
    expect(seriesOf(fams, 'b')).toHaveLength(0);
  });

  it('keeps families (headers only) when there are no debts', () => {
    const fams = parseExposition(renderText(new DebtSeries()));
    expect(fams.size).toBe(DEBT_FAMILIES.length);
    for (const f of fams.values()) expect(f.samples).toHaveLength(0);
  });

  it.each([7, 128])('matches a from-scratch render after mutating 100 of 10k debts (chunks of %i)', (chunkSize) => {
    const { random, note } = seededRandom(`debt series incremental render (chunks of ${chunkSize})`);
    const rand = (n: number): number => Math.floor(random() * n);
    const views = new Map<string, DebtMetricsView>();
    // Line lengths vary on purpose (absent values, new kinds, long fractions, growing
    // counters) so that updates exercise both in-place writes and slot resizes.
    const makeView = (i: number, gen: number): DebtMetricsView =>
      debtView({
        project: `p${i % 7}`,
        debt: `debt-${i}`,
        deadlineAt: rand(10) === 0 ? null : 1_767_000_000_000 + i * 1000 + gen * 37,
        lastSuccessAt: rand(5) === 0 ? null : 1_766_000_000_000 + rand(1_000_000),
        lastDurationMs: rand(4) === 0 ? null : rand(100_000_000) / 7,
        status: DEBT_STATUSES[rand(DEBT_STATUSES.length)]!,
        isOverdue: rand(3) === 0,
        paymentsByKind: { success: rand(3), fail: rand(2), start: gen * 999 },
        extraRuns: rand(3),
        occurrencesByOutcome: { paid: rand(4), missed: rand(2) },
      });
    const mutate = (k: number): void => {
      const i = rand(10_000);
      if (k % 10 === 0) {
        series.remove(`p${i % 7}`, `debt-${i}`);
        views.delete(`debt-${i}`);
      } else {
        const v = makeView(i, k + 1);
        views.set(v.debt, v);
        series.update(v);
      }
    };
    const series = new DebtSeries({ chunkSize });
    for (let i = 0; i < 10_000; i++) {
      const v = makeView(i, 0);
      views.set(v.debt, v);
      series.update(v);
    }
    // A scrape still being written while half of the changes land: its bytes must not move.
    const inFlight = series.render();
    const sent = bodyText(inFlight.chunks);
    for (let k = 0; k < 50; k++) mutate(k);
    series.flush();
    expect(bodyText(inFlight.chunks)).toBe(sent);
    inFlight.release();
    for (let k = 50; k < 100; k++) mutate(k);
    for (let i = 10_000; i < 10_020; i++) {
      const v = makeView(i, 0);
      views.set(v.debt, v);
      series.update(v);
    }
    const incremental = renderText(series);
    const fresh = new DebtSeries();
    for (const v of views.values()) fresh.update(v);
    const scratch = renderText(fresh);

    parseExposition(incremental);
    const a = sampleLines(incremental);
    const b = sampleLines(scratch);
    const inA = new Set(a);
    const inB = new Set(b);
    expect(
      a.filter((l) => !inB.has(l)),
      note,
    ).toEqual([]);
    expect(
      b.filter((l) => !inA.has(l)),
      note,
    ).toEqual([]);
    expect(a.length, note).toBe(b.length);
    expect(inA.size, note).toBe(a.length);
    expect(sent).not.toBe(incremental);
    // Rendering again with nothing changed hands out the same bytes.
    expect(renderText(series)).toBe(incremental);
  });

  it('writes an update that fits in place, and copies a chunk an unreleased render holds', () => {
    const series = threeDebts();
    const overdueChunk = (r: { chunks: Buffer[] }): Buffer =>
      r.chunks.find((b) => b.includes(`${METRIC.debtOverdue}{`) && !b.includes('#'))!;
    const first = series.render();
    first.release();
    series.update(debtView({ debt: 'a', isOverdue: true }));
    series.flush();
    const second = series.render();
    expect(overdueChunk(second)).toBe(overdueChunk(first));
    expect(overdueChunk(second).toString()).toContain('compter_debt_overdue{project="default",debt="a"} 1\n');
    // `second` is not released: the next write must leave its bytes alone.
    const held = overdueChunk(second).toString();
    series.update(debtView({ debt: 'a', isOverdue: false }));
    series.flush();
    expect(overdueChunk(second).toString()).toBe(held);
    const third = series.render();
    expect(overdueChunk(third)).not.toBe(overdueChunk(second));
    expect(overdueChunk(third).toString()).toContain('compter_debt_overdue{project="default",debt="a"} 0\n');
    second.release();
    third.release();
  });

  it('coalesces updates: the latest view is written by the next scrape or after the delay', () => {
    vi.useFakeTimers();
    try {
      const series = new DebtSeries({ flushDelayMs: 100 });
      const view = debtView({ status: 'running' });
      series.update(view);
      view.status = 'failed'; // the series keeps a copy, not the caller's object
      series.update(debtView({ status: 'up', extraRuns: 5 }));
      expect(series.exposition.size).toBe(0);
      expect(series.size).toBe(1);
      vi.advanceTimersByTime(100);
      expect(series.exposition.size).toBe(1);
      series.update(debtView({ status: 'late', extraRuns: 6 }));
      const text = renderText(series);
      expect(text).toContain('status="late"} 1\n');
      expect(text).toContain('compter_debt_extra_runs_total{project="default",debt="nightly-billing"} 6\n');
      expect(sampleLines(text).filter((l) => l.endsWith(' 1') && l.includes('status='))).toHaveLength(1);
      series.update(debtView({ debt: 'gone' }));
      expect(series.remove('default', 'gone')).toBe(true);
      expect(renderText(series)).not.toContain('debt="gone"');
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops honouring a render that is never released after five minutes', () => {
    vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
    try {
      const series = threeDebts();
      const overdueChunk = (r: { chunks: Buffer[] }): Buffer => r.chunks.find((b) => b.toString().startsWith(`${METRIC.debtOverdue}{`))!;
      series.render(); // leaked: never released
      vi.advanceTimersByTime(5 * 60_000 + 1);
      const fresh = series.render();
      fresh.release();
      series.update(debtView({ debt: 'a', isOverdue: true }));
      series.flush();
      expect(overdueChunk(fresh).toString()).toContain('{project="default",debt="a"} 1\n');
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not accumulate padding when debts are removed', () => {
    const series = new DebtSeries({ chunkSize: 16 });
    for (let i = 0; i < 100; i++) series.update(debtView({ debt: `d${i}` }));
    for (let i = 10; i < 100; i++) series.remove('default', `d${i}`);
    const fresh = new DebtSeries({ chunkSize: 16 });
    for (let i = 0; i < 10; i++) fresh.update(debtView({ debt: `d${i}` }));
    const text = renderText(series);
    expect(sampleLines(text).sort()).toEqual(sampleLines(renderText(fresh)).sort());
    // At most a few bytes of blank padding per remaining debt and removed slot.
    expect(text.length - text.replace(/\n\n+/g, '\n').length).toBeLessThan((100 * DEBT_FAMILIES.length * 32) / 4);
  });
});

describe('EntityExposition', () => {
  it('rejects lines for the wrong number of families and duplicate families', () => {
    const e = new EntityExposition([{ name: 'x_total', help: 'x', type: 'counter' }]);
    expect(() => e.upsert('k', ['a\n', 'b\n'])).toThrow();
    expect(
      () =>
        new EntityExposition([
          { name: 'x', help: '', type: 'gauge' },
          { name: 'x', help: '', type: 'gauge' },
        ]),
    ).toThrow();
  });

  it('escapes HELP text', () => {
    const e = new EntityExposition([{ name: 'x', help: 'a\\b\nc', type: 'gauge' }]);
    expect(renderText(e)).toBe('# HELP x a\\\\b\\nc\n# TYPE x gauge\n');
  });

  it('serves other label sets (SLO-style) through the same cache', () => {
    const e = new EntityExposition(
      [
        { name: 'compter_slo_lateness_seconds', help: 'l', type: 'gauge' },
        { name: 'compter_slo_deliveries_total', help: 'd', type: 'counter' },
      ],
      { chunkSize: 3 },
    );
    for (let i = 0; i < 10; i++) {
      e.upsert(`s${i}`, [
        `compter_slo_lateness_seconds{slo="s${i}"} ${i}\n`,
        i % 2 ? `compter_slo_deliveries_total{slo="s${i}",outcome="on_time"} 1\n` : '',
      ]);
    }
    renderText(e);
    e.upsert('s4', ['', `compter_slo_deliveries_total{slo="s4",outcome="late"} 2\n`]);
    e.remove('s5');
    const fams = parseExposition(renderText(e));
    expect(fams.get('compter_slo_lateness_seconds')!.samples.map((s) => s.labels.slo)).toEqual([
      's0',
      's1',
      's2',
      's3',
      's6',
      's7',
      's8',
      's9',
    ]);
    expect(fams.get('compter_slo_deliveries_total')!.samples.map((s) => `${s.labels.slo}:${s.value}`)).toEqual([
      's1:1',
      's3:1',
      's4:2',
      's7:1',
      's9:1',
    ]);
  });
});

describe('createMetrics', () => {
  it('renders self metrics then debt families as one valid exposition', async () => {
    const metrics = createMetrics({ version: '1.2.3', spoolEvents: () => 17 });
    metrics.eventsAppended.inc(5);
    metrics.eventStoreFlushSeconds.observe(0.003);
    metrics.httpRequests.labels('/v1/debts/:id', '200').inc();
    metrics.httpRequestDuration.labels('/v1/debts/:id').observe(0.002);
    metrics.rateLimited.labels('alpha').inc();
    metrics.debts.update(debtView());
    const { contentType, body, byteLength } = await metrics.renderMetrics();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(byteLength).toBe(body.reduce((n, b) => n + b.length, 0));
    const fams = parseExposition(bodyText(body));
    expect(fams.get(METRIC.buildInfo)!.samples).toEqual([{ name: METRIC.buildInfo, labels: { version: '1.2.3' }, value: 1 }]);
    expect(fams.get(METRIC.spoolEvents)!.samples[0]!.value).toBe(17);
    expect(fams.get(METRIC.eventsAppendedTotal)!.samples[0]!.value).toBe(5);
    expect(fams.get(METRIC.eventStoreFlushSeconds)!.type).toBe('histogram');
    expect(fams.get(METRIC.httpRequestsTotal)!.samples[0]!.labels).toEqual({ route: '/v1/debts/:id', code: '200' });
    expect(fams.get(METRIC.rateLimitedTotal)!.samples[0]!.labels).toEqual({ project: 'alpha' });
    expect(fams.has('process_cpu_user_seconds_total')).toBe(true);
    expect(fams.get(METRIC.debtStatus)!.samples).toHaveLength(DEBT_STATUSES.length);
    metrics.setSpoolEventsSource(() => 3);
    const again = parseExposition(bodyText((await metrics.renderMetrics()).body));
    expect(again.get(METRIC.spoolEvents)!.samples[0]!.value).toBe(3);
  });

  it('uses its own registry and refuses a family that is already exported', () => {
    const a = createMetrics({ version: 'x', defaultMetrics: false });
    const b = createMetrics({ version: 'y', defaultMetrics: false });
    expect(a.registry).not.toBe(b.registry);
    expect(() => a.addExposition(new EntityExposition([{ name: METRIC.buildInfo, help: '', type: 'gauge' }]))).toThrow(/already/);
    expect(() => a.addExposition(new EntityExposition([{ name: METRIC.debtOverdue, help: '', type: 'gauge' }]))).toThrow(/already/);
    a.addExposition(new EntityExposition([{ name: METRIC.sloLateness, help: 'l', type: 'gauge' }]));
  });

  it('writes a scrape to a response without copying and releases it when the response closes', async () => {
    const metrics = createMetrics({ version: 'x', defaultMetrics: false });
    metrics.debts.update(debtView());
    const written: Buffer[] = [];
    const head: { status?: number; headers?: Record<string, string | number> } = {};
    let onClose: (() => void) | undefined;
    const sink: MetricsResponseSink = {
      writeHead: (status, headers) => Object.assign(head, { status, headers }),
      cork: () => undefined,
      write: (b) => written.push(b) > 0,
      end: () => undefined,
      once: (_event, listener) => (onClose = listener),
    };
    const rendered = await metrics.renderMetrics();
    writeMetricsBody(sink, rendered);
    expect(head).toEqual({ status: 200, headers: { 'content-type': rendered.contentType, 'content-length': rendered.byteLength } });
    expect(written).toEqual(rendered.body);
    const overdue = written.find((b) => b.toString().startsWith(`${METRIC.debtOverdue}{`))!;
    // Leased until the response closes: an update now must not touch the bytes being sent.
    metrics.debts.update(debtView({ isOverdue: true }));
    metrics.debts.flush();
    expect(overdue.toString()).toContain('} 0\n');
    onClose!();
    const again = await metrics.renderMetrics();
    expect(metricsBodyToBuffer(again).toString()).toContain(`${METRIC.debtOverdue}{project="default",debt="nightly-billing"} 1\n`);
    // Both renders released: the next update is written in place.
    const third = await metrics.renderMetrics();
    const before = third.body.find((b) => b.toString().startsWith(`${METRIC.debtOverdue}{`))!;
    third.release();
    metrics.debts.update(debtView({ isOverdue: false }));
    metrics.debts.flush();
    expect(before.toString()).toContain('} 0\n');
    // A Node response satisfies the sink type.
    expectTypeOf<ServerResponse>().toMatchTypeOf<MetricsResponseSink>();
  });
});
