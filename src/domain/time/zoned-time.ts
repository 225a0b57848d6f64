/**
 * Wall-clock time in IANA zones, from the zone database behind `Intl` (no date library).
 *
 * DST rules (docs/semantics.md): a local time that does not exist (spring forward) resolves to the next
 * valid instant, the end of the gap; a local time that happens twice (fall back) resolves to
 * the first. Equivalently, a wall time w maps to the earliest instant whose wall time is >= w,
 * which is non-decreasing in w: later wall times never give earlier instants.
 */
import { dateOfEpochDay, epochDay, epochDayFromParts } from './civil-date.js';

const SECOND_MS = 1000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
// Offsets are memoized per zone per UTC hour; past this many hours a zone's memo starts over.
const MAX_MEMO_HOURS_PER_ZONE = 100_000;
// The zone database has about 600 names; Intl also takes any capitalisation of them, so the
// memo of zones starts over rather than grow with whatever names clients send.
const MAX_MEMO_ZONES = 2000;

/** A wall-clock reading of an instant in a zone. */
export interface ZonedParts {
  date: string;
  hour: number;
  minute: number;
  second: number;
  /** Local time minus UTC, in milliseconds (+05:45 is 20,700,000). */
  offsetMs: number;
}

/** A time of day on a wall clock. */
export interface WallTime {
  hour: number;
  minute: number;
  second: number;
}

/** A wall-clock time a number of days after a business date (`"03:00+1d"`). */
export interface DayOffsetTime {
  hour: number;
  minute: number;
  dayOffset: number;
}

/** A time of day that cannot be read; the message names the input. */
export class WallTimeError extends Error {
  readonly code = 'invalid_time';
  constructor(
    readonly input: string,
    expected: string,
  ) {
    super(`invalid time ${JSON.stringify(input)}: expected ${expected}`);
    this.name = 'WallTimeError';
  }
}

/**
 * One UTC hour of a zone: its offset, or — when the offset changes inside the hour — the
 * offsets before and after and the instant of the change. The zone database never changes a
 * zone's offset twice within an hour, so the two ends of the hour decide which case applies.
 */
type HourOffsets = number | { before: number; after: number; changeAt: number };

interface Zone {
  format: Intl.DateTimeFormat;
  hours: Map<number, HourOffsets>;
}

const zones = new Map<string, Zone>();

/** True when `tz` names a zone the runtime's zone database knows (e.g. `Europe/Copenhagen`). */
export function isValidTimeZone(tz: string): boolean {
  return zoneOf(tz) !== null;
}

/** Local time minus UTC in `tz` at instant `ms`, in milliseconds. */
export function offsetAt(tz: string, ms: number): number {
  return offsetIn(requireZone(tz), ms);
}

/** The local date in `tz` at instant `ms`, as days since 1970-01-01. */
export function localEpochDay(tz: string, ms: number): number {
  return Math.floor((ms + offsetAt(tz, ms)) / DAY_MS);
}

/** The wall-clock date and time in `tz` at instant `ms`. */
export function zonedParts(tz: string, ms: number): ZonedParts {
  const offsetMs = offsetAt(tz, ms);
  const local = ms + offsetMs;
  const day = Math.floor(local / DAY_MS);
  const secondOfDay = Math.floor((local - day * DAY_MS) / SECOND_MS);
  return {
    date: dateOfEpochDay(day),
    hour: Math.floor(secondOfDay / 3600),
    minute: Math.floor(secondOfDay / 60) % 60,
    second: secondOfDay % 60,
    offsetMs,
  };
}

/**
 * The instant at which the wall clock in `tz` shows `date` `hour:minute:second`. In a
 * spring-forward gap: the instant the gap ends. In a fall-back overlap: the first instance.
 */
export function wallToInstant(tz: string, date: string, hour: number, minute: number, second = 0): number {
  if (!isTimeOfDay(hour, minute, second)) {
    throw new RangeError(`invalid wall time ${hour}:${minute}:${second} on ${date}`);
  }
  const zone = requireZone(tz);
  const wall = epochDay(date) * DAY_MS + ((hour * 60 + minute) * 60 + second) * SECOND_MS;
  // Offsets a day either side bracket every offset that can apply to this wall time (as in
  // Temporal's GetPossibleInstantsFor): an instant t fits when t + offset(t) === wall.
  const early = offsetIn(zone, wall - DAY_MS);
  const late = offsetIn(zone, wall + DAY_MS);
  const withEarly = wall - early;
  const withLate = wall - late;
  const earlyFits = offsetIn(zone, withEarly) === early;
  const lateFits = offsetIn(zone, withLate) === late;
  if (earlyFits && lateFits) return Math.min(withEarly, withLate);
  if (earlyFits) return withEarly;
  if (lateFits) return withLate;
  // A gap: the clock jumped from early to late offset between withLate and withEarly.
  return changeBetween(zone, withLate, withEarly, late);
}

/** Reads `"HH:MM"` or `"HH:MM:SS"` (24-hour clock); throws WallTimeError otherwise. */
export function parseWallTime(input: string): WallTime {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(input);
  const time = match && { hour: Number(match[1]), minute: Number(match[2]), second: Number(match[3] ?? 0) };
  if (!time || !isTimeOfDay(time.hour, time.minute, time.second)) {
    throw new WallTimeError(input, '"HH:MM" or "HH:MM:SS" on a 24-hour clock');
  }
  return time;
}

/** Reads `"HH:MM"` with an optional `+Nd` day offset (N 0..31); throws WallTimeError otherwise. */
export function parseDayOffsetTime(input: string): DayOffsetTime {
  const match = /^(\d{1,2}):(\d{2})(?:\+(\d{1,2})d)?$/.exec(input);
  const time = match && { hour: Number(match[1]), minute: Number(match[2]), dayOffset: Number(match[3] ?? 0) };
  if (!time || !isTimeOfDay(time.hour, time.minute, 0) || time.dayOffset > 31) {
    throw new WallTimeError(input, '"HH:MM" with an optional "+Nd" day offset, N from 0 to 31 (e.g. "03:00+1d")');
  }
  return time;
}

function isTimeOfDay(hour: number, minute: number, second: number): boolean {
  return (
    Number.isInteger(hour) &&
    Number.isInteger(minute) &&
    Number.isInteger(second) &&
    hour >= 0 &&
    hour <= 23 &&
    minute >= 0 &&
    minute <= 59 &&
    second >= 0 &&
    second <= 59
  );
}

function zoneOf(tz: string): Zone | null {
  const known = zones.get(tz);
  if (known !== undefined) return known;
  const zone = makeZone(tz);
  if (zone !== null) {
    if (zones.size >= MAX_MEMO_ZONES) zones.clear();
    zones.set(tz, zone);
  }
  return zone;
}

function requireZone(tz: string): Zone {
  const zone = zoneOf(tz);
  if (zone === null) {
    throw new RangeError(`unknown time zone "${tz}": expected an IANA name such as "Europe/Copenhagen"`);
  }
  return zone;
}

function makeZone(tz: string): Zone | null {
  try {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    return { format, hours: new Map() };
  } catch {
    return null;
  }
}

function offsetIn(zone: Zone, ms: number): number {
  const hour = Math.floor(ms / HOUR_MS);
  let offsets = zone.hours.get(hour);
  if (offsets === undefined) {
    offsets = hourOffsets(zone, hour);
    if (zone.hours.size >= MAX_MEMO_HOURS_PER_ZONE) zone.hours.clear();
    zone.hours.set(hour, offsets);
  }
  if (typeof offsets === 'number') return offsets;
  return ms < offsets.changeAt ? offsets.before : offsets.after;
}

function hourOffsets(zone: Zone, hour: number): HourOffsets {
  const start = hour * HOUR_MS;
  const before = offsetAtHourStart(zone, hour);
  const after = offsetAtHourStart(zone, hour + 1);
  if (before === after) return before;
  // Zone changes happen on whole seconds: find the first second showing the new offset.
  let lo = start / SECOND_MS;
  let hi = lo + HOUR_MS / SECOND_MS;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (intlOffset(zone, mid * SECOND_MS) === before) lo = mid;
    else hi = mid;
  }
  return { before, after, changeAt: hi * SECOND_MS };
}

function offsetAtHourStart(zone: Zone, hour: number): number {
  // A neighbouring hour already known saves a call to Intl (the slow part, ~10 µs).
  const own = zone.hours.get(hour);
  if (own !== undefined) return typeof own === 'number' ? own : own.before;
  const previous = zone.hours.get(hour - 1);
  if (previous !== undefined) return typeof previous === 'number' ? previous : previous.after;
  return intlOffset(zone, hour * HOUR_MS);
}

function intlOffset(zone: Zone, ms: number): number {
  const seconds = Math.floor(ms / SECOND_MS) * SECOND_MS;
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const part of zone.format.formatToParts(seconds)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      default:
        // era, literal separators and the like carry nothing this needs.
        break;
    }
  }
  const wall = epochDayFromParts(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * SECOND_MS;
  return wall - seconds;
}

function changeBetween(zone: Zone, from: number, to: number, offsetAfter: number): number {
  // Invariant: offset(from) is still the old offset, offset(to) is offsetAfter.
  let lo = from;
  let hi = to;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offsetIn(zone, mid) === offsetAfter) hi = mid;
    else lo = mid;
  }
  return hi;
}
