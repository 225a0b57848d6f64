import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';
import { at, defineAll, report, runJob } from '../support/slo-scenarios.js';

let c: TestCompter | undefined;
afterEach(async () => {
  await c?.cleanup();
  c = undefined;
});

describe('SLO predicted end from the trend statistics in the store', () => {
  it('uses the p90 the trend SQL computed once it has one', async () => {
    c = await startTestCompter({ now: '2026-11-23T06:00:00Z' });
    await defineAll(c, ['dss']);
    // Two business days of one-hour runs: too few for the engine's own p90 (it wants three),
    // enough for the store's statistics.
    for (const date of ['2026-11-23', '2026-11-24'])
      await runJob(c, 'dss-load', date, `r-${date}`, `${date}T07:00:00Z`, `${date}T08:00:00Z`);
    await at(c, '2026-11-25T07:30:00Z');
    await report(c, { job: 'dss-load', status: 'start', time: '2026-11-25T07:30:00Z', businessDate: '2026-11-25', runId: 'wed' });
    expect((await c.json('GET', '/v1/slos/dss')).body.current).toMatchObject({ status: 'running', predictedEnd: null });

    await c.trends.refresh();
    expect(c.trends.p90DurationMs('default', 'deposits', 'dss-load')).toBe(3_600_000);
    await at(c, '2026-11-25T07:31:00Z');
    expect((await c.json('GET', '/v1/slos/dss')).body.current).toMatchObject({
      status: 'running',
      predictedEnd: '2026-11-25T08:30:00.000Z',
    });
  });
});
