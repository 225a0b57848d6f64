import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'instance-id';
const INSTANCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * This instance's stable id: read from `<dataDir>/instance-id`, made (16 random hex digits) and
 * written there the first time. A restarted instance keeps its id, so it finds the rate-limit
 * counts it stored before. When the file cannot be written the id lives as long as the
 * process, and `isStable` says so.
 */
export function instanceIdIn(dataDir: string): { id: string; isStable: boolean; error?: unknown } {
  const path = join(dataDir, FILE);
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (INSTANCE_ID.test(text)) return { id: text, isStable: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return { id: newId(), isStable: false, error: err };
  }
  const id = newId();
  try {
    mkdirSync(dataDir, { recursive: true });
    // Written aside and renamed: a crash never leaves a half-written id behind.
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, `${id}\n`);
    renameSync(partial, path);
    return { id, isStable: true };
  } catch (err) {
    return { id, isStable: false, error: err };
  }
}

function newId(): string {
  return randomBytes(8).toString('hex');
}
