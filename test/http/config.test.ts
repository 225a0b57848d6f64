import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { startTestCompter } from '../support/app-harness.js';
import { compterBin } from '../support/compter-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const goodYaml = `
debts:
  - id: nightly-billing
    name: Invoice billing
    schedule: { cron: "0 2 * * *", tz: Europe/Copenhagen }
    grace: 15m
    stages: [fetched_invoices, charged]
    labels: { team: billing }
  - id: heartbeat
    schedule: { every: 1m }
`;

describe('compter.yaml debts (config as code)', () => {
  it('defines the debts at start, and a restart with the same file writes nothing new', async () => {
    const configFile = join(dir, 'compter.yaml');
    await writeFile(configFile, goodYaml);
    const dataDir = await mkdtemp(join(dir, 'data-'));
    const env = { COMPTER_CONFIG: configFile };
    const first = await startTestCompter({ dataDir, env });
    const debt = (await first.json('GET', '/v1/debts/nightly-billing')).body;
    expect(debt).toMatchObject({
      name: 'Invoice billing',
      grace: 900,
      stages: ['fetched_invoices', 'charged'],
      labels: { team: 'billing' },
    });
    expect((await first.json('GET', '/v1/debts/heartbeat')).body.schedule).toEqual({ every: 60 });
    await first.cleanup();

    const second = await startTestCompter({ dataDir, env });
    const events = (await second.json('GET', '/v1/debts/nightly-billing/events?limit=100')).body.events;
    expect(events.filter((e: any) => e.type === 'debt.defined')).toHaveLength(1);
    expect((await second.json('GET', '/v1/debts/nightly-billing')).body.pingId).toBe(debt.pingId);

    // A changed file is applied on reload (SIGHUP calls the same function).
    await writeFile(configFile, goodYaml.replace('grace: 15m', 'grace: 30m'));
    expect(await second.reloadConfig()).toBe(1);
    expect((await second.json('GET', '/v1/debts/nightly-billing')).body.grace).toBe(1800);
    await second.cleanup();
  });

  it('refuses to start with an invalid file, naming every problem', async () => {
    const configFile = join(dir, 'bad.yaml');
    await writeFile(configFile, 'debts:\n  - id: x\n    schedule: { cron: "99 * * * *" }\n    grace: soon\n');
    await expect(startTestCompter({ env: { COMPTER_CONFIG: configFile } })).rejects.toThrow(
      /debts\[0\]\.schedule\.cron.*\n.*debts\[0\]\.grace/s,
    );
  });
});

describe('parseConfig', () => {
  it('lists every problem with its path', () => {
    const { config, problems } = parseConfig(`
debts:
  - id: Bad_Id
  - id: ok
    schedule: { every: 1h, cron: "0 * * * *" }
  - id: ok
    bogus: 1
`);
    expect(config).toBeUndefined();
    expect(problems.map((p) => p.path)).toEqual(['debts[0].id', 'debts[2]']);
    const deep = parseConfig('debts:\n  - id: ok\n    schedule: { every: 1h, cron: "0 * * * *" }\n  - id: ok\n');
    expect(deep.problems.map((p) => p.path)).toEqual(['debts[0].schedule', 'debts[1].id']);
    expect(deep.problems[1]!.message).toMatch(/duplicate/);
  });

  it('reports YAML syntax errors', () => {
    expect(parseConfig('debts: [\n').problems[0]!.path).toBe('(yaml)');
  });
});

describe('compter check-config (the real CLI)', () => {
  it('exits 0 for a good file and 1 listing every problem for a bad one', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, goodYaml);
    const ok = spawnSync(process.execPath, [compterBin, 'check-config', good], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/ok \(2 debts/);
    const bad = join(dir, 'bad2.yaml');
    await writeFile(bad, 'debts:\n  - id: x\n    schedule: { cron: "0 2 * * *", tz: Mars/Base }\n    maxRuntime: forever\n');
    const res = spawnSync(process.execPath, [compterBin, 'check-config', bad], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/2 problems/);
    expect(res.stderr).toMatch(/debts\[0\]\.schedule\.tz: unknown time zone "Mars\/Base"/);
    expect(res.stderr).toMatch(/debts\[0\]\.maxRuntime: /);
  });
});
