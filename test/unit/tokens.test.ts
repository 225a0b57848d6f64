import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newToken, tokenYamlLine } from '../../src/cli/token.js';
import { parseConfig } from '../../src/config.js';
import { generateToken, grantsScope, hashToken } from '../../src/domain/tokens.js';
import { bindPolicy, bearerToken, isLoopbackHost, TokenRegistry } from '../../src/http/auth.js';

const HASH = `sha256:${'ab'.repeat(32)}`;

describe('tokens in compter.yaml', () => {
  it('accepts a valid tokens and limits section', () => {
    const { config, problems } = parseConfig(`
tokens:
  - { name: ci, project: alpha, scopes: [ping], applications: [deposits], hash: "${HASH}" }
  - { name: ops, project: alpha, scopes: [read, write], hash: "sha256:${'cd'.repeat(32)}" }
limits:
  default: { burstPerMinute: 600, perDay: 200000 }
  projects: { alpha: { burstPerMinute: 1200 } }
`);
    expect(problems).toEqual([]);
    expect(config!.tokens).toHaveLength(2);
    expect(config!.limits).toEqual({ default: { burstPerMinute: 600, perDay: 200000 }, projects: { alpha: { burstPerMinute: 1200 } } });
  });

  it('lists every problem of every token with its path', () => {
    const { config, problems } = parseConfig(`
tokens:
  - { name: "bad name!", project: Alpha, scopes: [ping, root], hash: "deadbeef" }
  - { project: beta, scopes: [], hash: "sha256:${'AB'.repeat(32)}", secret: "cleartext" }
limits:
  default: { burstPerMinute: 0, perHour: 5 }
`);
    expect(config).toBeUndefined();
    const paths = problems.map((p) => p.path).sort();
    expect(paths).toEqual(
      [
        'limits.default',
        'limits.default.burstPerMinute',
        'tokens[0].hash',
        'tokens[0].name',
        'tokens[0].project',
        'tokens[0].scopes[1]',
        'tokens[1]',
        'tokens[1].hash',
        'tokens[1].name',
        'tokens[1].scopes',
      ].sort(),
    );
  });

  it('refuses duplicate names and hashes', () => {
    const { problems } = parseConfig(`
tokens:
  - { name: a, project: p, scopes: [read], hash: "${HASH}" }
  - { name: a, project: q, scopes: [read, read], hash: "${HASH}" }
`);
    expect(problems.map((p) => p.path).sort()).toEqual(['tokens[1].hash', 'tokens[1].name', 'tokens[1].scopes']);
  });
});

describe('token text and hashes', () => {
  it('a new token is cpt_ and 32 random bytes in base64url; its hash is sha256 of the text', () => {
    const token = generateToken();
    expect(token).toMatch(/^cpt_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(generateToken()).not.toBe(token);
    expect(hashToken(token)).toBe(`sha256:${createHash('sha256').update(token).digest('hex')}`);
  });

  it('the registry finds a token by its text, never by its hash or a near miss', () => {
    const registry = new TokenRegistry([
      { name: 'ci', project: 'alpha', scopes: ['ping'], applications: ['deposits'], hash: hashToken('cpt_secret') },
    ]);
    expect(registry.lookup('cpt_secret')).toMatchObject({ name: 'ci', project: 'alpha', scopes: ['ping'] });
    expect(registry.lookup('cpt_secret')!.applications).toEqual(new Set(['deposits']));
    expect(registry.lookup(hashToken('cpt_secret'))).toBeNull();
    expect(registry.lookup('cpt_secreT')).toBeNull();
    expect(registry.lookup('')).toBeNull();
    expect(registry.lookup('x'.repeat(100_000))).toBeNull();
  });

  it('parses only well-formed Bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});

describe('scopes', () => {
  it('admin holds every scope, write holds read, the others only themselves', () => {
    const table = (['ping', 'read', 'write', 'admin'] as const).map((has) =>
      (['ping', 'read', 'write', 'admin'] as const).filter((need) => grantsScope([has], need)),
    );
    expect(table).toEqual([['ping'], ['read'], ['read', 'write'], ['ping', 'read', 'write', 'admin']]);
  });
});

describe('compter token new', () => {
  it('prints a token and a compter.yaml line that declares exactly it', () => {
    const { token, record } = newToken(['--project', 'alpha', '--scopes', 'ping,read', '--applications', 'deposits,loans', '--name', 'ci']);
    const line = tokenYamlLine(record);
    expect(line).toBe(
      `  - { name: ci, project: alpha, scopes: [ping, read], applications: [deposits, loans], hash: "${hashToken(token)}" }`,
    );
    const { config, problems } = parseConfig(`tokens:\n${line}\n`);
    expect(problems).toEqual([]);
    expect(new TokenRegistry(config!.tokens).lookup(token)).toMatchObject({ name: 'ci', project: 'alpha', scopes: ['ping', 'read'] });
  });

  it('names a token when no name is given and explains bad arguments', () => {
    expect(newToken(['--project', 'alpha', '--scopes', 'admin']).record.name).toMatch(/^alpha-[0-9a-f]{6}$/);
    expect(() => newToken(['--scopes', 'ping'])).toThrow(/--project: required/);
    expect(() => newToken(['--project', 'alpha', '--scopes', 'root'])).toThrow(/--scopes/);
    expect(() => newToken(['--project', 'alpha'])).toThrow(/--scopes/);
    expect(() => newToken(['--project', 'alpha', '--scopes', 'ping', '--bogus'])).toThrow(/bogus/);
  });
});

describe('secure default', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of [
      '0.0.0.0',
      '::',
      '',
      '10.0.0.1',
      '128.0.0.1',
      '1127.0.0.1',
      '::ffff:10.0.0.1',
      'example.com',
      'localhost.example.com',
      '::2',
    ])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('with tokens anywhere; without, loopback only unless COMPTER_ALLOW_OPEN', () => {
    expect(bindPolicy('0.0.0.0', 1, false).mode).toBe('tokens');
    expect(bindPolicy('127.0.0.1', 0, false).mode).toBe('open');
    expect(bindPolicy('0.0.0.0', 0, true).mode).toBe('open-warned');
    const refused = bindPolicy('0.0.0.0', 0, false);
    expect(refused.mode).toBe('refuse');
    if (refused.mode === 'refuse') expect(refused.message).toMatch(/COMPTER_ALLOW_OPEN=1/);
  });
});
