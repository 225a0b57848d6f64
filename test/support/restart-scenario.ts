import type { TestCompter } from './app-harness.js';

/** Debts of every schedule kind driven through payments, a missed window and a failure: the state a restart must reproduce. */
export async function scenario(c: TestCompter): Promise<void> {
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

/** What a restart must reproduce: every debt as the API shows it and every per-debt series. */
export async function observe(c: TestCompter): Promise<{ debts: unknown; metrics: string[] }> {
  const debts = (await c.json('GET', '/v1/debts')).body;
  const text = await (await c.request('/metrics')).text();
  const metrics = text
    .split('\n')
    .filter((l) => /^compter_(debt|payments|occurrences)/.test(l))
    .sort();
  return { debts, metrics };
}
