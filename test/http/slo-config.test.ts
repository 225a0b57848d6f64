import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startTestCompter } from '../support/app-harness.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-slo-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const yaml = (slack: string) => `
calendars:
  - id: us-business
    tz: America/New_York
    holidays: { country: US, state: NY }
  - id: dk
    tz: Europe/Copenhagen
    holidays: { country: DK }
slos:
  - id: overdraft
    application: deposits
    calendar: us-business
    jobs:
      - { job: overdraft-calc, expectedStart: "00:30+1d", expectedEnd: "03:00+1d" }
    slack: ${slack}
debts:
  - id: monthly-billing
    schedule: { rrule: "FREQ=MONTHLY;BYMONTHDAY=1", at: "06:00", tz: Europe/Copenhagen, calendar: dk }
`;

describe('compter.yaml calendars and slos', () => {
  it('lists every problem with its path', () => {
    const { config, problems } = parseConfig(`
calendars:
  - id: us-business
    tz: Mars/Base
    weekdays: [1, 1]
  - id: us-business
    tz: UTC
slos:
  - id: fine
    application: a
    calendar: us-business
    jobs: [{ job: j, expectedEnd: "05:00" }]
  - id: broken
    calendar: us-business
    jobs:
      - { job: j, expectedEnd: "5 o'clock" }
    within: { cron: "10 6 * * 1" }
`);
    expect(config).toBeUndefined();
    expect(problems.map((p) => p.path).sort()).toEqual([
      'calendars[0].tz',
      'calendars[0].weekdays[1]',
      'calendars[1].id',
      'slos[1].jobs[0].application',
      'slos[1].jobs[0].expectedEnd',
      'slos[1].within.cron',
    ]);
  });

  it('structural problems carry the file’s paths too', () => {
    const { problems } = parseConfig('slos:\n  - id: x\n    calendar: c\n    jobs: [{ job: j, expectedEnd: 5 }]\n');
    expect(problems.map((p) => p.path)).toEqual(['slos[0].jobs[0].expectedEnd']);
  });

  it('defines calendars before the SLOs and debts that name them; a restart with the same file writes nothing; a change is applied', async () => {
    const configFile = join(dir, 'compter.yaml');
    await writeFile(configFile, yaml('30m'));
    const dataDir = await mkdtemp(join(dir, 'data-'));
    const env = { COMPTER_CONFIG: configFile };
    const first = await startTestCompter({ dataDir, env, now: '2026-11-20T12:00:00Z' });
    expect((await first.json('GET', '/v1/calendars/dk')).status).toBe(200);
    expect((await first.json('GET', '/v1/slos/overdraft')).body).toMatchObject({ calendar: 'us-business', slack: 1800 });
    expect((await first.json('GET', '/v1/debts/monthly-billing')).body.nextDeadline).toBe('2026-12-01T05:05:00.000Z');
    await first.cleanup();

    const second = await startTestCompter({ dataDir, env, now: '2026-11-20T13:00:00Z' });
    const definitions = await second.store.query({
      project: 'default',
      types: ['calendar.defined', 'slo.defined'],
      limit: 100,
      order: 'asc',
    });
    expect(definitions).toHaveLength(3);
    await writeFile(configFile, yaml('45m'));
    expect(await second.reloadConfig()).toBe(1);
    expect((await second.json('GET', '/v1/slos/overdraft')).body.slack).toBe(2700);
    await second.cleanup();
  });
});
