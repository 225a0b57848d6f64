import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter } from '../support/app-harness.js';
import { observe, scenario } from '../support/restart-scenario.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function restartMatches(snapshotEvery: string): Promise<{ fromSnapshot: boolean }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'compter-restart-'));
  dirs.push(dataDir);
  const env = { COMPTER_SNAPSHOT_EVERY_EVENTS: snapshotEvery };
  const first = await startTestCompter({ dataDir, env });
  await scenario(first);
  const before = await observe(first);
  await first.cleanup();
  const second = await startTestCompter({ dataDir, env, now: '2026-11-20T15:10:00Z' });
  try {
    expect(await observe(second)).toEqual(before);
    expect(before.metrics.length).toBeGreaterThan(20);
    return second.rebuilt;
  } finally {
    await second.cleanup();
  }
}

describe('restart reproduces the same debt states and counters', () => {
  it('from the log alone', async () => {
    expect((await restartMatches('0')).fromSnapshot).toBe(false);
  });

  it('from a snapshot plus the log after it', async () => {
    const rebuilt = await restartMatches('200000');
    expect(rebuilt).toEqual({ replayed: 0, fromSnapshot: true });
  });
});
