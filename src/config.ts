import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { calendarDefinitionSchema, validateCalendarDefinition } from './domain/time/calendar.js';
import { debtInputSchema, normalizeDebtInput } from './domain/debts/debt-definition.js';
import { normalizeSloInput, sloInputSchema } from './domain/slos/slo.js';
import { maintenanceInputSchema, normalizeMaintenanceInput } from './domain/maintenance/maintenance-window.js';
import { ID_PATTERN, type Problem } from './domain/problems.js';
import { pingKeysConfigSchema } from './domain/debts/ping-key.js';
import { limitsSchema, tokenListProblems, tokenRecordSchema } from './domain/tokens.js';

/** Settings from the environment (README, Configuration). */
export const envSchema = z.object({
  COMPTER_HOST: z.string().default('127.0.0.1'),
  COMPTER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  COMPTER_DATA_DIR: z.string().default('./data'),
  COMPTER_STORE: z.enum(['duckdb', 'clickhouse']).default('duckdb'),
  COMPTER_CLICKHOUSE_URL: z.url().default('http://127.0.0.1:8123'),
  COMPTER_CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/)
    .default('compter'),
  COMPTER_CONFIG: z.string().optional(),
  COMPTER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  COMPTER_METRICS_TOKEN: z.string().min(1).optional(),
  COMPTER_ALLOW_OPEN: z.enum(['0', '1', 'true', 'false']).optional(),
  /** The external base URL people reach compter at (e.g. https://compter.example.com): the JSON index links to it. */
  COMPTER_PUBLIC_URL: z.string().url().optional(),
  /**
   * Group commit: the longest an event waits for its batch (0: a batch forms while the previous
   * one commits), and the largest batch.
   */
  COMPTER_FLUSH_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(0),
  COMPTER_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** Take a snapshot of the projection after this many events and on shutdown; 0 never. */
  COMPTER_SNAPSHOT_EVERY_EVENTS: z.coerce.number().int().min(0).default(200_000),
  /** The local journal: the commit point; `off` makes the event store's own write the commit point. */
  COMPTER_SPOOL: z.enum(['on', 'off']).default('on'),
  /** Where accepted events are journaled before the event store holds them (default `<data dir>/spool`). */
  COMPTER_SPOOL_DIR: z.string().min(1).optional(),
  /** Refuse (503) writes that would grow the spool beyond this; 0 = until the disk is full. */
  COMPTER_SPOOL_MAX_BYTES: z.coerce.number().int().min(0).default(0),
  /** Longest wait for one ClickHouse insert before it counts as failed (and is retried from the journal). */
  COMPTER_CLICKHOUSE_INSERT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** Largest body a ping or payment route reads; a ping keeps its first 10 KiB and still counts above it. */
  COMPTER_BODY_HARD_CAP_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  /** Comma-separated browser origins allowed to call the management API (`*`: any); none by default. */
  COMPTER_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    ),
  /** ClickHouse: how often each instance reads what the others wrote to the shared log, ms; 0 never (docs/semantics.md). */
  COMPTER_TAIL_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  /** How far back each read of the shared log looks again, for events stored late or made by a skewed clock, ms. */
  COMPTER_TAIL_OVERLAP_MS: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
  /** How often the rate-limit counts are written to and read from the store, ms; 0 keeps them in memory (docs/security.md). */
  COMPTER_RATE_SYNC_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  /** How often the job trend gauges are recomputed from the event store, seconds. */
  COMPTER_TRENDS_REFRESH_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
});

export type Env = z.infer<typeof envSchema>;

const configDebtSchema = debtInputSchema.extend({
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
  project: z.string().regex(ID_PATTERN).optional(),
});
const configMaintenanceSchema = maintenanceInputSchema.extend({
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
  project: z.string().regex(ID_PATTERN).optional(),
});
const configCalendarSchema = calendarDefinitionSchema.extend({ project: z.string().regex(ID_PATTERN).optional() });
const configSloSchema = sloInputSchema.extend({
  id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
  project: z.string().regex(ID_PATTERN).optional(),
});

/** The shape of compter.yaml (README, Configuration). Sections other issues fill are accepted as declared. */
export const fileConfigSchema = z
  .object({
    calendars: z.array(configCalendarSchema).default([]),
    debts: z.array(configDebtSchema).default([]),
    slos: z.array(configSloSchema).default([]),
    maintenance: z.array(configMaintenanceSchema).default([]),
    tokens: z.array(tokenRecordSchema).default([]),
    limits: limitsSchema.optional(),
    /** Ping keys by project (`/ping/{pingKey}/{debtId}`); a project without one gets a generated key. */
    pingKeys: pingKeysConfigSchema.optional(),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;
export type ConfigDebt = z.infer<typeof configDebtSchema>;
export type ConfigCalendar = z.infer<typeof configCalendarSchema>;
export type ConfigSlo = z.infer<typeof configSloSchema>;

/** Reads the environment; throws an Error naming every bad variable. */
export function loadEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`bad environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The config file to load: COMPTER_CONFIG, else ./compter.yaml when present, else none. */
export function configPath(env: Env, cwd = process.cwd()): string | null {
  if (env.COMPTER_CONFIG) return resolve(cwd, env.COMPTER_CONFIG);
  const fallback = resolve(cwd, 'compter.yaml');
  return existsSync(fallback) ? fallback : null;
}

/**
 * Parses and validates a compter.yaml text: YAML syntax, shape, and every debt's deeper rules
 * (cron, zone, durations). Returns the config or every problem, each with its path.
 */
export function parseConfig(text: string): { config?: FileConfig; problems: Problem[] } {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) return { problems: doc.errors.map((e) => ({ path: '(yaml)', message: e.message })) };
  const raw: unknown = doc.toJS() ?? {};
  const parsed = fileConfigSchema.safeParse(raw);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
  }
  const problems: Problem[] = tokenListProblems(parsed.data.tokens);
  const seen = new Set<string>();
  parsed.data.debts.forEach((debt, index) => {
    const project = debt.project ?? 'default';
    const key = `${project}/${debt.id}`;
    if (seen.has(key)) problems.push({ path: `debts[${index}].id`, message: `duplicate debt ${key}` });
    seen.add(key);
    const { project: _project, ...input } = debt;
    const result = normalizeDebtInput(input, { id: debt.id, project, pingId: 'config' });
    for (const p of result.problems) problems.push({ path: `debts[${index}].${p.path}`, message: p.message });
  });
  problems.push(...calendarAndSloProblems(parsed.data));
  const windows = new Set<string>();
  parsed.data.maintenance.forEach((window, index) => {
    const { project = 'default', ...input } = window;
    const key = `${project}/${window.id}`;
    if (windows.has(key)) problems.push({ path: `maintenance[${index}].id`, message: `duplicate maintenance window ${key}` });
    windows.add(key);
    const result = normalizeMaintenanceInput(input, { id: window.id, project });
    for (const p of result.problems) problems.push({ path: `maintenance[${index}].${bracketIndexes(p.path)}`, message: p.message });
  });
  return problems.length ? { problems } : { config: parsed.data, problems };
}

/** Reads and validates a config file. */
export function readConfigFile(path: string): { config?: FileConfig; problems: Problem[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { problems: [{ path: '(file)', message: `cannot read ${path}: ${(err as Error).message}` }] };
  }
  return parseConfig(text);
}

/**
 * Every deeper problem of the calendars and SLOs (zones, holiday regions, dates, `HH:MM+Nd`
 * times, crons) at its path (`slos[1].jobs[0].expectedEnd`), and duplicate ids. Whether an
 * SLO's calendar exists is checked when the config is applied: it may have been defined
 * through the API.
 */
function calendarAndSloProblems(config: FileConfig): Problem[] {
  const problems: Problem[] = [];
  const calendars = new Set<string>();
  config.calendars.forEach((calendar, index) => {
    const { project = 'default', ...definition } = calendar;
    const key = `${project}/${calendar.id}`;
    if (calendars.has(key)) problems.push({ path: `calendars[${index}].id`, message: `duplicate calendar ${key}` });
    calendars.add(key);
    const result = validateCalendarDefinition(definition);
    if (!result.ok)
      for (const p of result.problems) problems.push({ path: `calendars[${index}].${bracketIndexes(p.path)}`, message: p.message });
  });
  const slos = new Set<string>();
  config.slos.forEach((slo, index) => {
    const { project = 'default', ...input } = slo;
    const key = `${project}/${slo.id}`;
    if (slos.has(key)) problems.push({ path: `slos[${index}].id`, message: `duplicate SLO ${key}` });
    slos.add(key);
    const result = normalizeSloInput(input, { id: slo.id, project });
    for (const p of result.problems) problems.push({ path: `slos[${index}].${bracketIndexes(p.path)}`, message: p.message });
  });
  return problems;
}

/** `jobs.0.expectedEnd` → `jobs[0].expectedEnd`, as the file's own paths read. */
function bracketIndexes(path: string): string {
  return path.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)),
    '',
  );
}
