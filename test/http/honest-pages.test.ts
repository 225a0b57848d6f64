import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestCompter, type TestCompter } from '../support/app-harness.js';

/** The value of one sample in a /metrics body, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function metricsText(c: TestCompter): Promise<string> {
  return (await c.request('/metrics')).text();
}

async function outcomes(c: TestCompter, id: string, from: string, to: string): Promise<[string, string][]> {
  const res = await c.json('GET', `/v1/debts/${id}/occurrences?from=${from}&to=${to}`);
  return res.body.occurrences.map((o: any) => [o.scheduledAt, o.outcome]);
}

describe("compter's own outage", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function downAndUp(downUntil: string): Promise<TestCompter> {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-outage-'));
    dirs.push(dataDir);
    const first = await startTestCompter({ dataDir, now: '2026-11-20T12:00:00Z' });
    await first.json('PUT', '/v1/debts/ten-minutes', { schedule: { cron: '*/10 * * * *', tz: 'UTC' }, grace: '2m' });
    first.clock.set(Date.parse('2026-11-20T12:10:30Z'));
    expect((await first.json('POST', '/v1/debts/ten-minutes/payments', {})).body.status).toBe('up');
    first.clock.set(Date.parse('2026-11-20T12:11:00Z'));
    await first.cleanup();
    // What start-up catches up on is written in the background, here held back 300 ms by the
    // writer: the reads below must still see it, straight away.
    return startTestCompter({ dataDir, now: downUntil, env: { COMPTER_FLUSH_INTERVAL_MS: '300' } });
  }

  it('closes occurrences whose deadline passed while down as unknown, pages for none, then pages for a real miss', async () => {
    const c = await downAndUp('2026-11-20T12:45:00Z');
    try {
      const debt = await c.json('GET', '/v1/debts/ten-minutes');
      expect(debt.body.status).not.toBe('overdue');
      // 12:40's deadline (12:42) passed while down as well: it stays open, not overdue, until its window ends.
      expect(await outcomes(c, 'ten-minutes', '2026-11-20T12:10:00Z', '2026-11-20T12:50:00Z')).toEqual([
        ['2026-11-20T12:10:00.000Z', 'paid'],
        ['2026-11-20T12:20:00.000Z', 'unknown'],
        ['2026-11-20T12:30:00.000Z', 'unknown'],
        ['2026-11-20T12:40:00.000Z', 'pending'],
        ['2026-11-20T12:50:00.000Z', 'upcoming'],
      ]);
      const metrics = await metricsText(c);
      const labels = 'project="default",debt="ten-minutes"';
      expect(sample(metrics, 'compter_debt_overdue', labels)).toBe(0);
      expect(sample(metrics, 'compter_occurrences_total', `${labels},outcome="unknown"`)).toBe(2);
      expect(sample(metrics, 'compter_occurrences_total', `${labels},outcome="missed"`)).toBeUndefined();

      c.clock.set(Date.parse('2026-11-20T12:50:30Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/ten-minutes')).body.status).not.toBe('overdue');
      // 12:50's deadline (12:52) passes while compter watches: overdue as usual.
      c.clock.set(Date.parse('2026-11-20T12:52:01Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/ten-minutes')).body.status).toBe('overdue');
      expect(sample(await metricsText(c), 'compter_debt_overdue', labels)).toBe(1);
      c.clock.set(Date.parse('2026-11-20T13:00:30Z'));
      await c.engine.tick();
      const rows = await outcomes(c, 'ten-minutes', '2026-11-20T12:40:00Z', '2026-11-20T12:50:00Z');
      expect(rows).toEqual([
        ['2026-11-20T12:40:00.000Z', 'unknown'],
        ['2026-11-20T12:50:00.000Z', 'missed'],
      ]);
    } finally {
      await c.cleanup();
    }
  });

  it('the events read right after start-up already hold the outage and what it closed', async () => {
    const c = await downAndUp('2026-11-20T12:45:00Z');
    try {
      const events = (await c.json('GET', '/v1/debts/ten-minutes/events?limit=50')).body.events;
      expect(Date.parse(events[0].ts)).toBe(Date.parse('2026-11-20T12:45:00Z'));
      const unknown = events.filter((e: any) => e.type === 'occurrence.closed' && e.status === 'unknown');
      expect(unknown.map((e: any) => e.attributes.scheduledAt)).toEqual([
        Date.parse('2026-11-20T12:30:00Z'),
        Date.parse('2026-11-20T12:20:00Z'),
      ]);
    } finally {
      await c.cleanup();
    }
  });

  it('a late payment still pays an occurrence whose deadline passed while down', async () => {
    const c = await downAndUp('2026-11-20T12:25:00Z');
    try {
      expect((await c.json('GET', '/v1/debts/ten-minutes')).body.status).not.toBe('overdue');
      const paid = await c.json('POST', '/v1/debts/ten-minutes/payments', {});
      expect(paid.body.status).toBe('up');
      expect(await outcomes(c, 'ten-minutes', '2026-11-20T12:20:00Z', '2026-11-20T12:20:00Z')).toEqual([
        ['2026-11-20T12:20:00.000Z', 'paid_late'],
      ]);
    } finally {
      await c.cleanup();
    }
  });

  it('logs the outage it ends, so a second restart keeps the same ledger', async () => {
    const c = await downAndUp('2026-11-20T12:45:00Z');
    const dataDir = c.dataDir;
    const before = await outcomes(c, 'ten-minutes', '2026-11-20T12:10:00Z', '2026-11-20T12:40:00Z');
    const events = await c.json('GET', '/v1/debts/ten-minutes/events?limit=50');
    expect(events.body.events.some((e: any) => e.type === 'occurrence.closed' && e.status === 'unknown')).toBe(true);
    await c.cleanup();
    const again = await startTestCompter({ dataDir, now: '2026-11-20T12:45:10Z' });
    try {
      expect(await outcomes(again, 'ten-minutes', '2026-11-20T12:10:00Z', '2026-11-20T12:40:00Z')).toEqual(before);
      expect((await again.json('GET', '/v1/debts/ten-minutes')).body.status).not.toBe('overdue');
    } finally {
      await again.cleanup();
    }
  });
});

describe('dependencies', () => {
  let c: TestCompter;
  beforeAll(async () => {
    c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
  });
  afterAll(async () => {
    await c.cleanup();
  });

  const hourly = (after: string[] = []) => ({ schedule: { cron: '0 * * * *', tz: 'UTC' }, grace: '5m', after });

  it('blocks the whole chain while the root is overdue; only the root is overdue', async () => {
    expect((await c.json('PUT', '/v1/debts/overdraft', hourly())).status).toBe(201);
    expect((await c.json('PUT', '/v1/debts/dss-load', hourly(['overdraft']))).status).toBe(201);
    const report = await c.json('PUT', '/v1/debts/report', hourly(['dss-load']));
    expect(report.body).toMatchObject({ after: ['dss-load'], blockedBy: [] });
    c.clock.set(Date.parse('2026-11-20T13:05:01Z'));
    await c.engine.tick();
    const root = await c.json('GET', '/v1/debts/overdraft');
    const middle = await c.json('GET', '/v1/debts/dss-load');
    const leaf = await c.json('GET', '/v1/debts/report');
    expect(root.body).toMatchObject({ status: 'overdue', blockedBy: [] });
    expect(middle.body).toMatchObject({ status: 'blocked', blockedBy: ['overdraft'] });
    expect(leaf.body).toMatchObject({ status: 'blocked', blockedBy: ['dss-load'] });
    const metrics = await metricsText(c);
    expect(sample(metrics, 'compter_debt_blocked', 'project="default",debt="overdraft"')).toBe(0);
    expect(sample(metrics, 'compter_debt_blocked', 'project="default",debt="dss-load"')).toBe(1);
    expect(sample(metrics, 'compter_debt_blocked', 'project="default",debt="report"')).toBe(1);
    expect(sample(metrics, 'compter_debt_status', 'project="default",debt="report",status="blocked"')).toBe(1);
    const events = await c.json('GET', '/v1/debts/report/events?limit=10');
    expect(events.body.events.find((e: any) => e.type === 'debt.status_changed')).toMatchObject({
      status: 'blocked',
      attributes: { blockedBy: ['dss-load'] },
    });
  });

  it('unblocks down the chain when the root is paid; a downstream still unpaid is then overdue', async () => {
    const paid = await c.json('POST', '/v1/debts/overdraft/payments', {});
    expect(paid.body.status).toBe('up');
    const middle = await c.json('GET', '/v1/debts/dss-load');
    expect(middle.body).toMatchObject({ status: 'overdue', blockedBy: [] });
    // The middle one is overdue in its own right now, so the leaf is still blocked, by it.
    expect((await c.json('GET', '/v1/debts/report')).body).toMatchObject({ status: 'blocked', blockedBy: ['dss-load'] });
    await c.json('POST', '/v1/debts/dss-load/payments', {});
    expect((await c.json('GET', '/v1/debts/report')).body).toMatchObject({ status: 'overdue', blockedBy: [] });
  });

  it('a failed upstream blocks too, and deleting it releases the downstream', async () => {
    await c.json('PUT', '/v1/debts/fail-up', hourly());
    await c.json('PUT', '/v1/debts/fail-down', hourly(['fail-up']));
    c.clock.set(Date.parse('2026-11-20T14:00:30Z'));
    await c.engine.tick();
    expect((await c.json('POST', '/v1/debts/fail-up/payments', { kind: 'fail' })).body.status).toBe('failed');
    expect((await c.json('GET', '/v1/debts/fail-down')).body).toMatchObject({ status: 'blocked', blockedBy: ['fail-up'] });
    expect((await c.json('DELETE', '/v1/debts/fail-up')).status).toBe(204);
    expect((await c.json('GET', '/v1/debts/fail-down')).body.blockedBy).toEqual([]);
    expect((await c.json('GET', '/v1/debts/fail-down')).body.status).not.toBe('blocked');
  });

  it('refuses a cycle with 422 naming it, and a debt after itself', async () => {
    await c.json('PUT', '/v1/debts/cyc-a', hourly());
    await c.json('PUT', '/v1/debts/cyc-b', hourly(['cyc-a']));
    await c.json('PUT', '/v1/debts/cyc-c', hourly(['cyc-b']));
    const cycle = await c.json('PUT', '/v1/debts/cyc-a', hourly(['cyc-c']));
    expect(cycle.status).toBe(422);
    expect(cycle.body.error.problems).toEqual([{ path: 'after', message: expect.stringContaining('cyc-a → cyc-c → cyc-b → cyc-a') }]);
    expect((await c.json('GET', '/v1/debts/cyc-a')).body.after).toEqual([]);
    const self = await c.json('PUT', '/v1/debts/cyc-self', hourly(['cyc-self']));
    expect(self.status).toBe(422);
    expect(self.body.error.problems[0].path).toBe('after.0');
    const bad = await c.json('PUT', '/v1/debts/cyc-bad', hourly(['Not An Id']));
    expect(bad.status).toBe(422);
    expect((await c.json('GET', '/v1/debts/cyc-bad')).status).toBe(404);
  });
});

describe('maintenance windows', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('a debt due inside a window is in maintenance, not overdue, closes excused; after the window normal rules apply', async () => {
    const c = await startTestCompter({ now: '2026-11-20T12:40:00Z' });
    try {
      await c.json('PUT', '/v1/debts/db-backup', { schedule: { cron: '0 * * * *', tz: 'UTC' }, grace: '5m' });
      const put = await c.json('PUT', '/v1/maintenance/db-upgrade', {
        match: { debts: ['db-backup'] },
        from: '2026-11-20T12:50:00Z',
        to: '2026-11-20T13:30:00Z',
        reason: 'database upgrade',
      });
      expect(put.status).toBe(201);
      expect(put.body).toMatchObject({ id: 'db-upgrade', from: '2026-11-20T12:50:00.000Z', to: '2026-11-20T13:30:00.000Z', active: false });
      expect((await c.json('GET', '/v1/debts/db-backup')).body.status).not.toBe('maintenance');

      c.clock.set(Date.parse('2026-11-20T12:50:00Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/db-backup')).body.status).toBe('maintenance');
      c.clock.set(Date.parse('2026-11-20T13:05:01Z'));
      await c.engine.tick();
      const labels = 'project="default",debt="db-backup"';
      let metrics = await metricsText(c);
      expect(sample(metrics, 'compter_debt_overdue', labels)).toBe(0);
      expect(sample(metrics, 'compter_debt_status', `${labels},status="maintenance"`)).toBe(1);
      expect((await c.json('GET', '/v1/maintenance/db-upgrade')).body.active).toBe(true);

      // The window ends: the 13:00 deadline fell inside it, so nothing is overdue.
      c.clock.set(Date.parse('2026-11-20T13:30:00Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/db-backup')).body.status).not.toBe('overdue');
      c.clock.set(Date.parse('2026-11-20T14:00:30Z'));
      await c.engine.tick();
      expect(await outcomes(c, 'db-backup', '2026-11-20T13:00:00Z', '2026-11-20T13:00:00Z')).toEqual([
        ['2026-11-20T13:00:00.000Z', 'excused'],
      ]);
      // 14:00 is due after the window: missing it pages as usual.
      c.clock.set(Date.parse('2026-11-20T14:05:01Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/db-backup')).body.status).toBe('overdue');
      metrics = await metricsText(c);
      expect(sample(metrics, 'compter_debt_overdue', labels)).toBe(1);
      expect(sample(metrics, 'compter_occurrences_total', `${labels},outcome="excused"`)).toBe(1);
    } finally {
      await c.cleanup();
    }
  });

  it('matches by labels on a recurring window, survives a restart, and a deletion applies at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'compter-maint-'));
    dirs.push(dataDir);
    // Friday 2026-11-20; the window is Sundays 03:00-05:00 Copenhagen time.
    const c = await startTestCompter({ dataDir, now: '2026-11-20T12:00:00Z' });
    await c.json('PUT', '/v1/debts/ledger', { schedule: { every: '1h' }, labels: { team: 'billing' } });
    await c.json('PUT', '/v1/debts/other', { schedule: { every: '1h' }, labels: { team: 'web' } });
    const put = await c.json('PUT', '/v1/maintenance/sunday', {
      match: { labels: { team: 'billing' } },
      cron: '0 3 * * 0',
      tz: 'Europe/Copenhagen',
      duration: '2h',
    });
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ cron: '0 3 * * 0', tz: 'Europe/Copenhagen', duration: 7200, active: false });
    await c.cleanup();

    const again = await startTestCompter({ dataDir, now: '2026-11-22T02:30:00Z' });
    try {
      expect((await again.json('GET', '/v1/maintenance')).body.windows.map((w: any) => w.id)).toEqual(['sunday']);
      expect((await again.json('GET', '/v1/debts/ledger')).body.status).toBe('maintenance');
      // Not covered; its deadline passed while compter was down, so it is owed but not overdue.
      expect((await again.json('GET', '/v1/debts/other')).body.status).toBe('late');
      again.clock.set(Date.parse('2026-11-22T04:00:00Z'));
      await again.engine.tick();
      expect((await again.json('GET', '/v1/debts/ledger')).body.status).not.toBe('maintenance');
      expect((await again.json('DELETE', '/v1/maintenance/sunday')).status).toBe(204);
      expect((await again.json('GET', '/v1/maintenance/sunday')).status).toBe(404);
    } finally {
      await again.cleanup();
    }
  });

  it('ends maintenance at once when the window is deleted', async () => {
    const c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
    try {
      await c.json('PUT', '/v1/debts/hourly-x', { schedule: { every: '1h' }, grace: 0 });
      await c.json('PUT', '/v1/maintenance/now', {
        match: { debts: ['hourly-x'] },
        from: '2026-11-20T11:00:00Z',
        to: '2026-11-21T00:00:00Z',
      });
      expect((await c.json('GET', '/v1/debts/hourly-x')).body.status).toBe('maintenance');
      c.clock.set(Date.parse('2026-11-20T13:30:00Z'));
      await c.engine.tick();
      expect((await c.json('GET', '/v1/debts/hourly-x')).body.status).toBe('maintenance');
      await c.json('DELETE', '/v1/maintenance/now');
      // The 13:00 deadline fell while the window applied: excused, not overdue, after the deletion too.
      expect((await c.json('GET', '/v1/debts/hourly-x')).body.status).not.toBe('maintenance');
      const events = await c.json('GET', '/v1/debts/hourly-x/events?limit=5');
      expect(events.body.events[0]).toMatchObject({ type: 'debt.status_changed', attributes: { from: 'maintenance' } });
    } finally {
      await c.cleanup();
    }
  });

  it('refuses bad windows with 422 listing each problem, and unknown ones with 404', async () => {
    const c = await startTestCompter({ now: '2026-11-20T12:00:00Z' });
    try {
      const backwards = await c.json('PUT', '/v1/maintenance/w1', {
        match: { debts: ['a'] },
        from: '2026-11-20T13:00:00Z',
        to: '2026-11-20T12:00:00Z',
      });
      expect(backwards.status).toBe(422);
      expect(backwards.body.error.problems).toEqual([{ path: 'to', message: 'must be after from' }]);
      const empty = await c.json('PUT', '/v1/maintenance/w2', { match: {}, cron: '99 * * * *', duration: 'soon' });
      expect(empty.status).toBe(422);
      expect(empty.body.error.problems.map((p: any) => p.path).sort()).toEqual(['cron', 'duration', 'match']);
      const both = await c.json('PUT', '/v1/maintenance/w3', { match: { debts: ['a'] }, from: '2026-11-20T13:00:00Z', cron: '0 3 * * 0' });
      expect(both.status).toBe(422);
      const unknownField = await c.json('PUT', '/v1/maintenance/w4', { match: { debts: ['a'] }, from: 'x', to: 'y', until: 'z' });
      expect([400, 422]).toContain(unknownField.status);
      expect(unknownField.body.error.code).toBeTypeOf('string');
      const malformed = await c.json('PUT', '/v1/maintenance/w5', '{"match":');
      expect(malformed.status).toBe(400);
      expect((await c.json('GET', '/v1/maintenance/nope')).status).toBe(404);
      expect((await c.json('DELETE', '/v1/maintenance/nope')).status).toBe(404);
      expect((await c.json('GET', '/v1/maintenance')).body).toEqual({ windows: [] });
    } finally {
      await c.cleanup();
    }
  });
});

describe('maintenance windows in compter.yaml', () => {
  it('applies them at start and on reload, and refuses a bad one with its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'compter-maint-config-'));
    const configFile = join(dir, 'compter.yaml');
    const yaml = (to: string) =>
      [
        'debts:',
        '  - id: backup',
        '    schedule: { every: 1h }',
        'maintenance:',
        '  - id: upgrade',
        '    match: { debts: [backup] }',
        '    from: "2026-11-20T11:00:00Z"',
        `    to: "${to}"`,
        '    reason: database upgrade',
        '',
      ].join('\n');
    await writeFile(configFile, yaml('2026-11-20T13:00:00Z'));
    const c = await startTestCompter({ env: { COMPTER_CONFIG: configFile } });
    try {
      expect((await c.json('GET', '/v1/maintenance/upgrade')).body).toMatchObject({ reason: 'database upgrade', active: true });
      expect((await c.json('GET', '/v1/debts/backup')).body.status).toBe('maintenance');
      await writeFile(configFile, yaml('2026-11-20T11:30:00Z'));
      expect(await c.reloadConfig()).toBe(1);
      expect((await c.json('GET', '/v1/maintenance/upgrade')).body.active).toBe(false);
      expect((await c.json('GET', '/v1/debts/backup')).body.status).not.toBe('maintenance');
    } finally {
      await c.cleanup();
    }
    await writeFile(
      configFile,
      'maintenance:\n  - id: bad\n    match: {}\n    from: "2026-11-20T13:00:00Z"\n    to: "2026-11-20T12:00:00Z"\n',
    );
    await expect(startTestCompter({ env: { COMPTER_CONFIG: configFile } })).rejects.toThrow(/maintenance\[0\]\.to/);
    await rm(dir, { recursive: true, force: true });
  });
});
