import type { TestCompter } from './app-harness.js';

/** Sends one setup request and throws with the answer unless its status is 2xx: a broken setup must fail loudly. */
async function send(c: TestCompter, method: string, path: string, body: unknown): Promise<void> {
  const res = await c.json(method, path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`setup ${method} ${path} answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/** Debts of every schedule kind driven through payments, a missed window and a failure: the state a restart must reproduce. */
export async function scenario(c: TestCompter): Promise<void> {
  await send(c, 'PUT', '/v1/debts/hourly', { schedule: { cron: '0 * * * *', tz: 'UTC' }, grace: '5m', stages: ['a'] });
  await send(c, 'PUT', '/v1/debts/every', { schedule: { every: '30m' }, grace: 0 });
  await send(c, 'PUT', '/v1/debts/unscheduled', {});
  await send(c, 'POST', '/v1/debts/vivified/payments?every=1h', {});
  c.clock.set(Date.parse('2026-11-20T13:01:00Z'));
  await send(c, 'POST', '/v1/debts/hourly/payments', { kind: 'start', runId: 'r1' });
  await send(c, 'POST', '/v1/debts/hourly/payments', { kind: 'stage', stage: 'a', runId: 'r1' });
  await send(c, 'POST', '/v1/debts/hourly/payments', { kind: 'success', runId: 'r1' });
  await send(c, 'POST', '/v1/debts/unscheduled/payments', {});
  c.clock.set(Date.parse('2026-11-20T15:10:00Z'));
  await c.engine.tick();
  await send(c, 'POST', '/v1/debts/hourly/payments', { kind: 'start', runId: 'r2' });
  await send(c, 'POST', '/v1/debts/every/payments', { kind: 'fail', exitCode: 2 });
}

/** What a restart must reproduce: every debt as the API shows it and every per-debt series. */
export async function observe(c: TestCompter): Promise<{ debts: unknown; metrics: string[] }> {
  const debts = await c.json('GET', '/v1/debts');
  if (debts.status !== 200) throw new Error(`GET /v1/debts answered ${debts.status}: ${JSON.stringify(debts.body)}`);
  const res = await c.request('/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const metrics = (await res.text())
    .split('\n')
    .filter((l) => /^compter_(debt|payments|occurrences)/.test(l))
    .sort();
  return { debts: debts.body, metrics };
}
