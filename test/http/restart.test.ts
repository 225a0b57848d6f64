import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function scenario(c: TestCompter): Promise<void> {
  await c.json('PUT', '/v1/debts/hourly', { schedule: { cron: '0 * * * *', tz: 'UTC' }, grace: '5m', stages: ['a'] });
  await c.json('PUT', '/v1/debts/every', { schedule: { every: '30m' }, grace: 0 });
  await c.json('PUT', '/v1/debts/unscheduled', {});
  await c.json('POST', '/v1/debts/vivified/payments?every=1h', {});
  c.clock.set(Date.parse('2026-11-20T13:01:00Z'));
  await c.json('POST', '/v1/debts/hourly/payments', { kind: 'start', runId: 'r1' });
  await c.json('POST', '/v1/debts/hourly/payments', { kind: 'stage', stage: 'a', runId: 'r1' });
  await c.json('POST', '/v1/debts/hourly/payments', { kind: 'success', runId: 'r1' });
  await c.json('POST', '/v1/debts/unscheduled/payments', {});
  c.clock.set(Date.parse('2026-11-20T15:10:00Z'));
  await c.engine.tick();
  await c.json('POST', '/v1/debts/hourly/payments', { kind: 'start', runId: 'r2' });
  await c.json('POST', '/v1/debts/every/payments', { kind: 'fail', exitCode: 2 });
}

async function observe(c: TestCompter): Promise<{ debts: unknown; metrics: string[] }> {
  const debts = (await c.json('GET', '/v1/debts')).body;
  const text = await (await c.request('/metrics')).text();
  const metrics = text.split('\n').filter((l) => /^compter_(debt|payments|occurrences)/.test(l)).sort();
  return { debts, metrics };
}

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
