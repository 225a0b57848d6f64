import { describe, expect, it } from 'vitest';
import { renderJobSeries, JobSeries } from '../../src/metrics/job-series.js';
import { renderSloSeries, SloSeries } from '../../src/metrics/slo-series.js';

const view = {
  project: 'default',
  slo: 'dss',
  application: 'dep"osits',
  deadlineAt: 1_795_514_400_000,
  latenessMs: -90_500,
  status: 'at_risk' as const,
  predictedEndAt: null,
  deliveries: { on_time: 3, late: 1, missed: 0, failed: 0 },
};

describe('per-SLO series', () => {
  it('one line per status and per outcome, zeros included; absent values omit the series', () => {
    const [deadline, lateness, status, predicted, deliveries] = renderSloSeries(view);
    const labels = '{project="default",slo="dss",application="dep\\"osits"';
    expect(deadline).toBe(`compter_slo_deadline_timestamp_seconds${labels}} 1795514400\n`);
    expect(lateness).toBe(`compter_slo_lateness_seconds${labels}} -90.5\n`);
    expect(status!.split('\n').filter(Boolean)).toEqual(
      ['not_scheduled', 'pending', 'running', 'at_risk', 'on_time', 'late', 'missed', 'failed', 'excused'].map(
        (s) => `compter_slo_status${labels},status="${s}"} ${s === 'at_risk' ? 1 : 0}`,
      ),
    );
    expect(predicted).toBe('');
    expect(deliveries!.split('\n').filter(Boolean)).toEqual([
      `compter_slo_deliveries_total${labels},outcome="on_time"} 3`,
      `compter_slo_deliveries_total${labels},outcome="late"} 1`,
      `compter_slo_deliveries_total${labels},outcome="missed"} 0`,
      `compter_slo_deliveries_total${labels},outcome="failed"} 0`,
    ]);
  });

  it('update replaces, remove drops', () => {
    const series = new SloSeries();
    series.update(view);
    series.update({ ...view, status: 'on_time', deliveries: { ...view.deliveries, on_time: 4 } });
    const text = () => {
      const r = series.render();
      const out = Buffer.concat(r.chunks).toString();
      r.release();
      return out;
    };
    expect(text()).toContain('outcome="on_time"} 4\n');
    expect(text()).toContain('status="on_time"} 1\n');
    expect(text()).not.toContain('status="at_risk"} 1');
    series.remove('default', 'dss');
    expect(text()).not.toContain('slo="dss"');
    expect(text()).toContain('# TYPE compter_slo_deliveries_total counter');
  });
});

describe('per-job series', () => {
  it('runs by status, both always; the last duration when known', () => {
    expect(renderJobSeries({ project: 'p', application: 'a', job: 'j', succeeded: 2, failed: 0, lastDurationMs: null })).toEqual([
      'compter_job_runs_total{project="p",application="a",job="j",status="succeed"} 2\ncompter_job_runs_total{project="p",application="a",job="j",status="fail"} 0\n',
      '',
    ]);
    const series = new JobSeries();
    series.update({ project: 'p', application: 'a', job: 'j', succeeded: 2, failed: 1, lastDurationMs: 1500 });
    const r = series.render();
    expect(Buffer.concat(r.chunks).toString()).toContain('compter_job_last_duration_seconds{project="p",application="a",job="j"} 1.5\n');
    r.release();
  });
});
