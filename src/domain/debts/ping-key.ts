import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ID_PATTERN } from '../problems.js';

/**
 * A project's ping key: the secret in `/ping/{pingKey}/{debtId}` and in Sentry-style check-in
 * URLs. URL-safe so it never needs escaping, at least 22 characters (128 random bits when
 * generated), never shaped like a UUID so `/ping/{pingId}/...` and `/ping/{pingKey}/...` cannot
 * be confused.
 */
export const PING_KEY_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `value` has the 8-4-4-4-12 hex shape of a UUID (either case). */
export function isUuid(value: string): boolean {
  return value.length === 36 && UUID.test(value);
}

/**
 * A fresh ping key: 16 random bytes as 32 hex digits. Letters and digits only, because Sentry's
 * SDKs accept only word characters as a DSN's public key, and the key is the DSN's public key.
 */
export function generatePingKey(): string {
  return randomBytes(16).toString('hex');
}

/** Why `key` cannot be a ping key, or null when it can. */
export function pingKeyProblem(key: string): string | null {
  if (!PING_KEY_PATTERN.test(key)) return 'must be 22–128 characters of A-Z a-z 0-9 _ -';
  if (isUuid(key)) return 'must not look like a UUID (ping ids do)';
  return null;
}

/** `pingKeys:` in compter.yaml: `{ <project>: <key> }`, each key valid and used by one project only. */
export const pingKeysConfigSchema = z
  .record(z.string(), z.string())
  // One pass that reports every problem at once (a failed key schema would hide the rest).
  .superRefine((keys, ctx) => {
    const owner = new Map<string, string>();
    for (const [project, key] of Object.entries(keys)) {
      if (!ID_PATTERN.test(project))
        ctx.addIssue({ code: 'custom', path: [project], message: 'project ids must match ^[a-z0-9][a-z0-9._-]{0,127}$' });
      const problem = pingKeyProblem(key);
      if (problem) ctx.addIssue({ code: 'custom', path: [project], message: problem });
      const other = owner.get(key);
      if (other !== undefined)
        ctx.addIssue({ code: 'custom', path: [project], message: `the same key as project "${other}"; each project needs its own` });
      owner.set(key, project);
    }
  });
