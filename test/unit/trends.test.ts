import { describe, expect, it } from 'vitest';
import { BusinessCalendar } from '../../src/domain/time/calendar.js';
import {
  MAX_PROJECTION_BUSINESS_DAYS,
  MIN_HISTORY_DATES,
  businessDateWindow,
  dateAtIndex,
  fitEndLateness,
  projectedBreachIndex,
  quantile,
  sloBias,
  suggestExpectedEnd,
  type LatenessPoint,
} from '../../src/domain/slos/trends.js';

const us = new BusinessCalendar({
  id: 'us',
  tz: 'America/New_York',
  weekdays: [1, 2, 3, 4, 5],
  holidays: { country: 'US', types: ['public'] },
  extraDates: [],
  excludeDates: [],
  newDayAt: '00:00',
});

/** lateness = intercept + slope·i for i in 0..n-1. */
function line(n: number, intercept: number, slope: number): LatenessPoint[] {
  return Array.from({ length: n }, (_, index) => ({ index, latenessSeconds: intercept + slope * index }));
}

describe('businessDateWindow', () => {
  it('indexes business dates consecutively across Thanksgiving and weekends', () => {
    const window = businessDateWindow(us, '2026-12-01', 6);
    expect(window).toEqual([
      { date: '2026-11-23', index: 0 },
      { date: '2026-11-24', index: 1 },
      { date: '2026-11-25', index: 2 },
      // 11-26 Thanksgiving (public), 11-28/29 weekend; 11-27 is only an observance.
      { date: '2026-11-27', index: 3 },
      { date: '2026-11-30', index: 4 },
      { date: '2026-12-01', index: 5 },
    ]);
  });

  it('ends at the business day before a non-business last date', () => {
    expect(businessDateWindow(us, '2026-11-29', 2).map((d) => d.date)).toEqual(['2026-11-25', '2026-11-27']);
  });

  it('refuses a size below one', () => {
    expect(() => businessDateWindow(us, '2026-12-01', 0)).toThrow(RangeError);
  });
});

describe('dateAtIndex', () => {
  const window = businessDateWindow(us, '2026-12-22', 3); // 12-18, 12-21, 12-22

  it('answers dates of the window and business days after it, skipping holidays', () => {
    expect(dateAtIndex(us, window, 0)).toBe('2026-12-18');
    expect(dateAtIndex(us, window, 2)).toBe('2026-12-22');
    expect(dateAtIndex(us, window, 3)).toBe('2026-12-23');
    expect(dateAtIndex(us, window, 4)).toBe('2026-12-24');
    // Christmas Day and the weekend are not business days.
    expect(dateAtIndex(us, window, 5)).toBe('2026-12-28');
  });

  it('is null before the window and for an empty window', () => {
    expect(dateAtIndex(us, window, -1)).toBeNull();
    expect(dateAtIndex(us, [], 0)).toBeNull();
  });
});

describe('quantile', () => {
  it('interpolates linearly between order statistics, like quantile_cont', () => {
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.9)).toBe(9);
    expect(quantile([7], 0.9)).toBe(7);
    expect(quantile([], 0.5)).toBeNull();
  });
});

describe('fitEndLateness and projectedBreachIndex', () => {
  it('finds an exact line and no spread above it', () => {
    const fit = fitEndLateness(line(30, -3000, 60))!;
    expect(fit.slopeSecondsPerDay).toBeCloseTo(60, 9);
    expect(fit.interceptSeconds).toBeCloseTo(-3000, 6);
    expect(fit.p90ResidualSeconds).toBeCloseTo(0, 6);
    expect(fit.lastIndex).toBe(29);
  });

  it('a run ending exactly at the deadline is on time: the breach is the next business day', () => {
    // Lateness 0 at index 50.
    expect(projectedBreachIndex(fitEndLateness(line(30, -3000, 60))!)).toBe(51);
    // Crossing between two dates: the first date after it.
    expect(projectedBreachIndex(fitEndLateness(line(30, -2970, 60))!)).toBe(50);
  });

  it('projects the p90 end, not the mean: spread above the line brings the breach forward', () => {
    // Every tenth date 10 minutes later than the line: the p90 residual is about 10 minutes.
    const points = line(30, -3000, 60).map((p) => (p.index % 10 === 9 ? { ...p, latenessSeconds: p.latenessSeconds + 600 } : p));
    const fit = fitEndLateness(points)!;
    const plainCrossing = (0 - fit.interceptSeconds) / fit.slopeSecondsPerDay;
    expect(fit.p90ResidualSeconds).toBeGreaterThan(0);
    expect(projectedBreachIndex(fit)!).toBeLessThan(plainCrossing);
  });

  it('too little history gives no fit, so no projection', () => {
    expect(fitEndLateness(line(MIN_HISTORY_DATES - 1, -3000, 60))).toBeNull();
    expect(fitEndLateness(line(MIN_HISTORY_DATES, -3000, 60))).not.toBeNull();
  });

  it('all points on one date give no fit', () => {
    expect(fitEndLateness(Array.from({ length: 12 }, () => ({ index: 4, latenessSeconds: 10 })))).toBeNull();
  });

  it('no breach for a flat or improving job, or one too far out', () => {
    expect(projectedBreachIndex(fitEndLateness(line(30, -3600, 0))!)).toBeNull();
    expect(projectedBreachIndex(fitEndLateness(line(30, -3600, -5))!)).toBeNull();
    // 0.1 s a day with an hour to spare: 36,000 business days away.
    expect(projectedBreachIndex(fitEndLateness(line(30, -3600, 0.1))!)).toBeNull();
    const atHorizon = fitEndLateness(line(30, -(29 + MAX_PROJECTION_BUSINESS_DAYS) * 10 + 5, 10))!;
    expect(projectedBreachIndex(atHorizon)).toBe(29 + MAX_PROJECTION_BUSINESS_DAYS);
  });

  it('already past the deadline when the window began: index 0', () => {
    expect(projectedBreachIndex(fitEndLateness(line(30, 600, 5))!)).toBe(0);
  });
});

describe('sloBias', () => {
  const base = { days: 30, medianLatenessSeconds: 600, sameSideShare: 0.9 };

  it('late or early at |median| >= 60 s with >= 80% on that side', () => {
    expect(sloBias(base)).toBe('late');
    expect(sloBias({ ...base, medianLatenessSeconds: -60 })).toBe('early');
    expect(sloBias({ ...base, medianLatenessSeconds: 60, sameSideShare: 0.8 })).toBe('late');
  });

  it('none just below either threshold, with too little history, or never met', () => {
    expect(sloBias({ ...base, medianLatenessSeconds: 59.9 })).toBe('none');
    expect(sloBias({ ...base, medianLatenessSeconds: -59.9 })).toBe('none');
    expect(sloBias({ ...base, sameSideShare: 0.79 })).toBe('none');
    expect(sloBias({ ...base, days: MIN_HISTORY_DATES - 1 })).toBe('none');
    expect(sloBias({ ...base, medianLatenessSeconds: null, sameSideShare: 1 })).toBe('none');
  });
});

describe('suggestExpectedEnd', () => {
  it('moves a wall time by the p90 lateness, rounded up to 5 minutes', () => {
    expect(suggestExpectedEnd('03:00+1d', 601)).toBe('03:15+1d');
    expect(suggestExpectedEnd('03:00+1d', 600)).toBe('03:10+1d');
    expect(suggestExpectedEnd('23:50', 700)).toBe('00:05+1d');
    expect(suggestExpectedEnd('3:00+1d', 60)).toBe('03:05+1d');
  });

  it('moves earlier for routinely early SLOs, never before the business date', () => {
    expect(suggestExpectedEnd('07:00+1d', -1776)).toBe('06:35+1d');
    expect(suggestExpectedEnd('00:10+1d', -1776)).toBe('23:45');
    expect(suggestExpectedEnd('00:10', -3600)).toBe('00:00');
  });

  it('moves offsets from a slot', () => {
    expect(suggestExpectedEnd('+0m', 400)).toBe('+10m');
    expect(suggestExpectedEnd('+1h', -1500)).toBe('+35m');
    expect(suggestExpectedEnd('-10m', -300)).toBe('-15m');
  });

  it('is null for notations it does not know', () => {
    expect(suggestExpectedEnd('soon', 600)).toBeNull();
    expect(suggestExpectedEnd('+later', 600)).toBeNull();
    expect(suggestExpectedEnd('03:00+1d', Number.NaN)).toBeNull();
  });
});
