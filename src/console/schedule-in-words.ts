// A debt's schedule and grace in words for the console ("02:00 Europe/Copenhagen daily, 15 min
// grace"). It reads the schedule's JSON form, as the API shows it, so a schedule kind it does
// not know still reads sensibly (its fields). domain/time/schedule-words.ts describes the
// internal Schedule for lists; this one adds the grace and spells common cron shapes out.

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A number of seconds in short words: 90 → "1 min 30 s", 900 → "15 min", 172800 → "2 d". */
export function durationInWords(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 0) return `-${durationInWords(-seconds)}`;
  if (seconds < 1) return seconds === 0 ? '0 s' : `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
  const units: [number, string][] = [
    [86_400, 'd'],
    [3_600, 'h'],
    [60, 'min'],
    [1, 's'],
  ];
  let rest = Math.round(seconds);
  const parts: string[] = [];
  for (const [size, name] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

function weekdaysInWords(field: string): string | null {
  if (field === '*') return 'daily';
  if (field === '1-5') return 'Mon–Fri';
  if (field === '0,6' || field === '6,0') return 'on weekends';
  const days = field.split(',').map((d) => WEEKDAYS[Number(d) % 7]);
  return days.every((d) => d !== undefined) && /^[0-7](,[0-7])*$/.test(field) ? `on ${days.join(', ')}` : null;
}

/** A five-field cron expression in words where it is a common shape; null otherwise. */
export function cronInWords(cron: string, tz: string): string | null {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const [minute, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const step = /^\*\/(\d+)$/;
  if (hour === '*' && dom === '*' && month === '*' && dow === '*') {
    const m = step.exec(minute);
    if (m) return `every ${m[1]} min`;
    if (/^\d+$/.test(minute)) return `hourly at :${two(Number(minute))}`;
    return null;
  }
  if (!/^\d+$/.test(minute) || !/^\d+$/.test(hour) || month !== '*') return null;
  const at = `${two(Number(hour))}:${two(Number(minute))} ${tz}`;
  if (dom === '*') {
    const days = weekdaysInWords(dow);
    return days ? `${at} ${days}` : null;
  }
  if (/^\d+$/.test(dom) && dow === '*') return `${at} monthly on day ${dom}`;
  return null;
}

function rruleInWords(rrule: string): string {
  const parts = new Map(rrule.split(';').map((p) => p.split('=') as [string, string]));
  const freq = (parts.get('FREQ') ?? '').toLowerCase();
  const byDay = parts.get('BYMONTHDAY');
  const byWeekday = parts.get('BYDAY');
  if (freq === 'monthly' && byDay && parts.size === 2) return `monthly on day ${byDay}`;
  if (freq === 'weekly' && byWeekday && parts.size === 2) return `weekly on ${byWeekday}`;
  if (freq === 'daily' && parts.size === 1) return 'daily';
  return rrule;
}

function ordinal(n: number): string {
  if (n === -1) return 'last';
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/** The schedule (its JSON form, as the API shows it) and grace in words; "no schedule" without one. */
export function scheduleInWords(schedule: Record<string, unknown> | null, graceSeconds: number): string {
  const grace = `${durationInWords(graceSeconds)} grace`;
  if (!schedule) return 'no schedule (counts payments only)';
  const tz = typeof schedule.tz === 'string' ? schedule.tz : 'UTC';
  const calendar = typeof schedule.calendar === 'string' ? `, calendar ${schedule.calendar}` : '';
  const roll = schedule.roll === 'next' || schedule.roll === 'previous' ? `, holidays roll to the ${schedule.roll} business day` : '';
  let what: string;
  if (typeof schedule.every === 'number') what = `every ${durationInWords(schedule.every)} after the last success`;
  else if (typeof schedule.cron === 'string') what = cronInWords(schedule.cron, tz) ?? `cron "${schedule.cron}" ${tz}`;
  else if (typeof schedule.rrule === 'string') what = `${String(schedule.at)} ${tz} ${rruleInWords(schedule.rrule)}${calendar}${roll}`;
  else if (typeof schedule.businessDay === 'number')
    what = `${String(schedule.at)} ${tz} on the ${ordinal(schedule.businessDay)} business day of each month${calendar}`;
  else if (typeof schedule.deadline === 'string') what = `once, at ${schedule.deadline.replace('T', ' ').replace(/:00(\.000)?Z$/, ' UTC')}`;
  else what = JSON.stringify(schedule);
  return `${what}, ${grace}`;
}
