import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ID_PATTERN, type Problem } from './problems.js';

/**
 * API tokens and per-project limits as compter.yaml declares them (README, "Tokens, projects and rate limits"). A token is
 * stored only as the SHA-256 of its text; the text itself is shown once, by `compter token new`.
 */

/** What a token may do. `admin` implies every scope; `write` implies `read` (see docs/security.md). */
export const SCOPES = ['ping', 'read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Every token compter makes starts with this, so a leaked one is easy to recognise (secret scanners). */
export const TOKEN_PREFIX = 'cpt_';
/** Random bytes in a new token: 256 bits. */
export const TOKEN_BYTES = 32;
/** Longer bearer values are refused before hashing: no token compter makes comes close. */
export const MAX_TOKEN_LENGTH = 256;

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN_HASH = /^sha256:[0-9a-f]{64}$/;
/** Application names as job-status reports carry them. */
const APPLICATION = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** One `tokens:` entry of compter.yaml. */
export const tokenRecordSchema = z
  .object({
    name: z.string().regex(TOKEN_NAME, 'must be 1–64 characters [A-Za-z0-9._-], starting with a letter or digit'),
    project: z.string().regex(ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$'),
    scopes: z.array(z.enum(SCOPES)).min(1, 'at least one scope (ping, read, write, admin)').max(SCOPES.length),
    applications: z.array(z.string().regex(APPLICATION, 'must be 1–128 characters [A-Za-z0-9._:-]')).min(1).max(1000).optional(),
    hash: z.string().regex(TOKEN_HASH, 'must be "sha256:" and 64 lowercase hex digits (compter token new prints it)'),
  })
  .strict();

export type TokenRecord = z.infer<typeof tokenRecordSchema>;

// Counts stay below 2^53 / 86,400,000 ms so the limiter's integer arithmetic is exact.
const windowLimitsSchema = z
  .object({
    burstPerMinute: z.number().int().min(1).max(10_000_000).optional(),
    perDay: z.number().int().min(1).max(50_000_000).optional(),
  })
  .strict();

/** The `limits:` section: a default for every project and per-project overrides (per field). */
export const limitsSchema = z
  .object({
    default: windowLimitsSchema.optional(),
    projects: z.record(z.string().regex(ID_PATTERN, 'project ids must match ^[a-z0-9][a-z0-9._-]{0,127}$'), windowLimitsSchema).optional(),
  })
  .strict();

export type WindowLimits = z.infer<typeof windowLimitsSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;

/** The token list's rules that span entries: names and hashes are unique. */
export function tokenListProblems(tokens: readonly TokenRecord[], path = 'tokens'): Problem[] {
  const problems: Problem[] = [];
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  tokens.forEach((token, index) => {
    const sameName = names.get(token.name);
    if (sameName !== undefined)
      problems.push({ path: `${path}[${index}].name`, message: `duplicate token name "${token.name}" (also tokens[${sameName}])` });
    else names.set(token.name, index);
    const sameHash = hashes.get(token.hash);
    if (sameHash !== undefined)
      problems.push({
        path: `${path}[${index}].hash`,
        message: `the same hash as tokens[${sameHash}]: one token cannot belong to two entries`,
      });
    else hashes.set(token.hash, index);
    if (new Set(token.scopes).size !== token.scopes.length)
      problems.push({ path: `${path}[${index}].scopes`, message: 'scopes are listed more than once' });
  });
  return problems;
}

/** `sha256:<hex>` of a token's text: the form compter.yaml stores. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** A fresh random token: the prefix and 32 random bytes, base64url. */
export function generateToken(random: (n: number) => Buffer = randomBytes): string {
  return `${TOKEN_PREFIX}${random(TOKEN_BYTES).toString('base64url')}`;
}

/** True when a token with `granted` scopes may act with `required`. */
export function grantsScope(granted: Iterable<Scope>, required: Scope): boolean {
  for (const scope of granted) {
    if (scope === required || scope === 'admin') return true;
    if (scope === 'write' && required === 'read') return true;
  }
  return false;
}
