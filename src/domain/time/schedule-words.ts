/**
 * A schedule in words, for people reading a list of debts: "06:00 Europe/Copenhagen on the 1st
 * business day of each month (dk)". English only; the exact words are not a contract.
 */
import rrulePkg from 'rrule';
import type { Schedule } from './schedule.js';

// rrule is CommonJS: Node's ESM loader exposes only its default export.
const { RRule } = rrulePkg;

/** The schedule as one English phrase. */
export function describeSchedule(schedule: Schedule): string {
  switch (schedule.kind) {
    case 'every':
      if (schedule.everyMonths !== undefined) {
        const months = schedule.everyMonths === 1 ? 'month' : `${schedule.everyMonths} months`;
        return `every ${months} after the last success`;
      }
      return `every ${durationInWords(schedule.everyMs)} after the last success`;
    case 'cron':
      return `cron "${schedule.cron}" in ${schedule.tz}`;
    case 'rrule': {
      const dates = `${schedule.at} ${schedule.tz}, ${rruleInWords(schedule.rrule)}`;
      if (schedule.calendar === undefined) return dates;
      const excluded = schedule.roll === undefined ? 'other dates are skipped' : `other dates move to the ${schedule.roll} business day`;
      return `${dates}, on business days of ${schedule.calendar} (${excluded})`;
    }
    case 'businessDay':
      return `${schedule.at} ${schedule.tz} on the ${businessDayInWords(schedule.businessDay)} of each month (${schedule.calendar})`;
    case 'deadline':
      return `once, at ${new Date(schedule.at).toISOString()}`;
  }
}

/** "1st business day", "last business day", "3rd-to-last business day". */
function businessDayInWords(n: number): string {
  if (n > 0) return `${ordinal(n)} business day`;
  if (n === -1) return 'last business day';
  return `${ordinal(-n)}-to-last business day`;
}

/** 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st, 22nd, 23rd. */
function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  const suffix = ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

function rruleInWords(rule: string): string {
  try {
    return RRule.fromString(rule).toText();
  } catch {
    // rrule's own wording fails on a few valid rules; the rule itself still says it exactly.
    return `dates of ${rule}`;
  }
}

function durationInWords(ms: number): string {
  let seconds = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}
