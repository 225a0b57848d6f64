import { describe, expect, it } from 'vitest';
import { barChart, linearTrend } from '../../src/console/svg-chart.js';
import { relativeTime } from '../../src/console/format.js';

describe('console chart', () => {
  it('fits the least-squares trend, skipping missing values', () => {
    const trend = linearTrend([
      { label: 'a', value: 10 },
      { label: 'b', value: null },
      { label: 'c', value: 14 },
      { label: 'd', value: 16 },
    ]);
    expect(trend!.slope).toBeCloseTo(2, 10);
    expect(trend!.intercept).toBeCloseTo(10, 10);
    expect(linearTrend([{ label: 'a', value: 1 }])).toBeNull();
  });

  it('draws one bar per value and the trend line, with escaped labels', async () => {
    const svg = String(
      await barChart(
        [
          { label: '<x>', value: 3 },
          { label: 'y', value: 5 },
          { label: 'z', value: -1 },
        ],
        'Durations & trend',
        (v) => `${v} s`,
      ),
    );
    expect(svg.match(/<rect class="bar/g)).toHaveLength(3);
    expect(svg).toContain('class="bar neg"');
    expect(svg).toContain('<line class="trend"');
    expect(svg).toContain('&lt;x&gt;');
    expect(svg).toContain('aria-label="Durations &amp; trend"');
    expect(String(await barChart([{ label: 'a', value: null }], 't', String))).toContain('No data');
  });

  it('says how far an instant is in words', () => {
    expect(relativeTime(1_000_000 + 300_000, 1_000_000)).toBe('in 5 min');
    expect(relativeTime(1_000_000 - 3 * 3_600_000, 1_000_000)).toBe('3 h ago');
    expect(relativeTime(1_000_000 + 2_000, 1_000_000)).toBe('just now');
  });
});
