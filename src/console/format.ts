// Small text helpers for the console pages: relative times, status classes, numbers.

/** "in 5 min", "3 h ago", "just now": how far `atMs` is from `nowMs`, in the largest fitting unit. */
export function relativeTime(atMs: number, nowMs: number): string {
  const deltaS = Math.round((atMs - nowMs) / 1000);
  const abs = Math.abs(deltaS);
  if (abs < 5) return 'just now';
  const [size, unit] = abs < 60 ? [1, 's'] : abs < 3600 ? [60, 'min'] : abs < 86_400 ? [3600, 'h'] : [86_400, 'd'];
  const n = Math.floor(abs / size);
  return deltaS > 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

// Statuses grouped by what a person should do about them; the colour is never the only cue (the
// word is always shown next to it).
const TONE: Record<string, 'ok' | 'warn' | 'bad' | 'info' | 'idle'> = {
  up: 'ok',
  paid: 'ok',
  on_time: 'ok',
  late: 'warn',
  paid_late: 'warn',
  at_risk: 'warn',
  too_fast: 'warn',
  overdue: 'bad',
  failed: 'bad',
  timed_out: 'bad',
  missed: 'bad',
  incomplete: 'bad',
  running: 'info',
  pending: 'info',
  upcoming: 'idle',
  new: 'idle',
  paused: 'idle',
  maintenance: 'idle',
  excused: 'idle',
  unknown: 'idle',
  not_scheduled: 'idle',
  blocked: 'warn',
};

/** The colour class of a debt status, occurrence outcome or SLO row status. */
export function toneOf(status: string): string {
  return TONE[status] ?? 'idle';
}

/** A status word for people: `timed_out` → "timed out". */
export function statusWord(status: string): string {
  return status.replace(/_/g, ' ');
}

/** A signed number of seconds with its sign spelled out: "+5 min late" / "2 min early". */
export function latenessInWords(seconds: number | null, durationInWords: (s: number) => string): string {
  if (seconds === null) return '—';
  if (Math.abs(seconds) < 1) return 'on the dot';
  return seconds > 0 ? `${durationInWords(seconds)} late` : `${durationInWords(-seconds)} early`;
}
