import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { debtInputSchema, normalizeDebtInput } from './domain/debt-definition.js';
import { ID_PATTERN, type Problem } from './domain/problems.js';

/** Settings from the environment (SPEC §8). */
export const envSchema = z.object({
  COMPTER_HOST: z.string().default('127.0.0.1'),
  COMPTER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  COMPTER_DATA_DIR: z.string().default('./data'),
  COMPTER_STORE: z.enum(['duckdb', 'clickhouse']).default('duckdb'),
  COMPTER_CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  COMPTER_CLICKHOUSE_DATABASE: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/).default('compter'),
  COMPTER_CONFIG: z.string().optional(),
  COMPTER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  COMPTER_METRICS_TOKEN: z.string().min(1).optional(),
  COMPTER_ALLOW_OPEN: z.enum(['0', '1', 'true', 'false']).optional(),
  /** Group commit: the longest an event waits for its batch, and the largest batch. */
  COMPTER_FLUSH_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(5),
  COMPTER_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** Take a snapshot of the projection after this many events and on shutdown; 0 never. */
  COMPTER_SNAPSHOT_EVERY_EVENTS: z.coerce.number().int().min(0).default(200_000),
});

export type Env = z.infer<typeof envSchema>;

const configDebtSchema = debtInputSchema.extend({ id: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'), project: z.string().regex(ID_PATTERN).optional() });

/** The shape of compter.yaml (SPEC §8). Sections other issues fill are accepted as declared. */
export const fileConfigSchema = z
  .object({
    calendars: z.array(z.record(z.string(), z.unknown())).default([]),
    debts: z.array(configDebtSchema).default([]),
    slos: z.array(z.record(z.string(), z.unknown())).default([]),
    tokens: z.array(z.record(z.string(), z.unknown())).default([]),
    limits: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type FileConfig = z.infer<typeof fileConfigSchema>;
export type ConfigDebt = z.infer<typeof configDebtSchema>;

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
  const raw = doc.toJS() ?? {};
  const parsed = fileConfigSchema.safeParse(raw);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
  }
  const problems: Problem[] = [];
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

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
}
