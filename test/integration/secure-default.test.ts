import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compterBin, startCompterProcess } from '../support/compter-process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'compter-secure-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [compterBin, ...args], { encoding: 'utf8' });
}

describe('secure default (the real CLI)', () => {
  it('without tokens, refuses to listen beyond loopback and says why', async () => {
    const started = startCompterProcess({ COMPTER_HOST: '0.0.0.0', COMPTER_DATA_DIR: join(dir, 'refused') });
    await expect(started).rejects.toThrow(/exited with 1[\s\S]*refusing to listen on 0\.0\.0\.0 without tokens[\s\S]*COMPTER_ALLOW_OPEN=1/);
  });

  it('on loopback without tokens it serves open and says so at start', async () => {
    const proc = await startCompterProcess({ COMPTER_DATA_DIR: join(dir, 'loopback') });
    try {
      expect(proc.output()).toMatch(/no tokens are configured: every request acts for project \\"default\\"/);
      expect((await fetch(`${proc.url}/v1/debts`)).status).toBe(200);
    } finally {
      expect(await proc.stop()).toBe(0);
    }
  });

  it('COMPTER_ALLOW_OPEN=1 starts it open anyway, with a warning', async () => {
    const proc = await startCompterProcess({ COMPTER_HOST: '0.0.0.0', COMPTER_ALLOW_OPEN: '1', COMPTER_DATA_DIR: join(dir, 'allowed') });
    try {
      expect(proc.output()).toMatch(/"level":40.*COMPTER_ALLOW_OPEN is set/);
      expect((await fetch(`${proc.url}/v1/debts`)).status).toBe(200);
    } finally {
      await proc.stop();
    }
  });

  it('compter token new → compter.yaml → the token works on a public address; no token is 401', async () => {
    const made = cli(['token', 'new', '--project', 'alpha', '--scopes', 'ping,read', '--name', 'ci']);
    expect(made.status).toBe(0);
    const [token, line] = made.stdout.trim().split('\n');
    expect(token).toMatch(/^cpt_[A-Za-z0-9_-]{43}$/);
    expect(line).toMatch(/^ {2}- \{ name: ci, project: alpha, scopes: \[ping, read\], hash: "sha256:[0-9a-f]{64}" \}$/);
    // The clear token appears nowhere in what goes into the file.
    expect(line).not.toContain(token!.slice(4));
    const config = join(dir, 'compter.yaml');
    await writeFile(config, `tokens:\n${line}\n`);
    expect(cli(['check-config', config]).stdout).toMatch(/ok \(.*1 tokens\)/);

    const proc = await startCompterProcess({ COMPTER_HOST: '0.0.0.0', COMPTER_CONFIG: config, COMPTER_DATA_DIR: join(dir, 'tokens') });
    try {
      expect(proc.output()).not.toMatch(/no tokens are configured/);
      expect((await fetch(`${proc.url}/v1/debts`)).status).toBe(401);
      const res = await fetch(`${proc.url}/v1/debts`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const paid = await fetch(`${proc.url}/v1/debts/job-1/payments?every=1h`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(paid.status).toBe(201);
      expect(((await paid.json()) as any).project).toBe('alpha');
      // ping and read, not write.
      expect((await fetch(`${proc.url}/v1/debts/job-1`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(
        403,
      );
    } finally {
      await proc.stop();
    }
  });

  it('compter token new explains bad arguments; compter token hash hashes stdin', () => {
    const bad = cli(['token', 'new', '--project', 'Alpha', '--scopes', 'root']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--project: .*\n--scopes/);
    const hashed = spawnSync(process.execPath, [compterBin, 'token', 'hash'], { input: 'cpt_example\n', encoding: 'utf8' });
    expect(hashed.status).toBe(0);
    expect(hashed.stdout.trim()).toBe(`sha256:${createHash('sha256').update('cpt_example').digest('hex')}`);
  });
});
