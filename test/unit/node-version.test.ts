import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION, nodeVersionProblem } from '../../src/cli/node-version.js';

describe('nodeVersionProblem', () => {
  it('accepts 20.15.0 and anything newer', () => {
    for (const v of ['20.15.0', '20.15.1', '20.20.2', '21.0.0', '22.11.0', 'v24.1.0', '100.0.0'])
      expect(nodeVersionProblem(v), v).toBeNull();
  });

  it('refuses older versions with a message naming both versions and the reason', () => {
    for (const v of ['20.14.9', '20.0.0', '18.20.4', '19.99.99', 'v16.0.0']) {
      const problem = nodeVersionProblem(v);
      expect(problem, v).toContain(`Node.js ${v} is too old`);
      expect(problem, v).toContain('20.15.0 or newer');
      expect(problem, v).toContain('zlib.crc32');
    }
  });

  it('refuses a version it cannot read instead of guessing', () => {
    expect(nodeVersionProblem('twenty')).toMatch(/cannot read the Node.js version "twenty"/);
  });

  it('compares numerically, not as text', () => {
    expect(nodeVersionProblem('20.9.0', '20.15.0')).not.toBeNull();
    expect(nodeVersionProblem('20.100.0', '20.15.0')).toBeNull();
  });

  it('agrees with engines.node in package.json, and the running Node passes', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION.replace(/\.0$/, '')}`);
    expect(nodeVersionProblem(process.versions.node)).toBeNull();
  });
});
