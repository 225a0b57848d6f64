import { describe, expect, it } from 'vitest';
import { OutputTail, parseExecArgs, tailUtf8 } from '../../src/cli/exec.js';

describe('compter exec: arguments', () => {
  it('takes options before -- and the command after it; flags override the environment', () => {
    const { options } = parseExecArgs(
      ['--url=http://a:1', '--debt', 'job', '--timeout', '2.5', '--every', '1h', '--', 'sh', '-c', 'exit 3'],
      { COMPTER_URL: 'http://env:2', COMPTER_TOKEN: 't', COMPTER_EXEC_TIMEOUT: '9' },
    );
    expect(options).toEqual({
      url: 'http://a:1',
      debt: 'job',
      token: 't',
      timeoutMs: 2500,
      vivify: { every: '1h' },
      command: ['sh', '-c', 'exit 3'],
    });
  });

  it('reads COMPTER_URL, COMPTER_TOKEN and COMPTER_EXEC_TIMEOUT; the command may start without --', () => {
    const { options } = parseExecArgs(['--debt', 'job', 'backup.sh', '--full'], {
      COMPTER_URL: 'http://env:2',
      COMPTER_TOKEN: 'tok',
      COMPTER_EXEC_TIMEOUT: '3',
    });
    expect(options).toMatchObject({ url: 'http://env:2', token: 'tok', timeoutMs: 3000, command: ['backup.sh', '--full'] });
    expect(parseExecArgs(['--', 'true'], {}).options).toMatchObject({ url: null, debt: null, token: null, timeoutMs: 10_000 });
  });

  it('refuses unknown options, a missing command and a bad timeout', () => {
    expect(parseExecArgs(['--nope', 'x', '--', 'true'], {}).error).toMatch(/unknown option --nope/);
    expect(parseExecArgs(['--debt', 'job'], {}).error).toMatch(/no command/);
    expect(parseExecArgs(['--debt'], {}).error).toMatch(/needs a value/);
    expect(parseExecArgs(['--timeout', '0', '--', 'true'], {}).error).toMatch(/--timeout/);
    expect(parseExecArgs(['--', 'true'], { COMPTER_EXEC_TIMEOUT: 'soon' }).error).toMatch(/--timeout/);
  });
});

describe('compter exec: output tail', () => {
  it('keeps the last bytes, starting on a whole UTF-8 character', () => {
    const text = 'aé'.repeat(10); // 30 bytes
    const tail = tailUtf8(Buffer.from(text), 7);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(7);
    // The last 7 bytes start inside an é: that partial character is dropped.
    expect(tail).toBe('aéaé');
    expect(tailUtf8(Buffer.from('short'), 100)).toBe('short');
  });

  it('stays within the limit even when invalid bytes decode to wider replacement characters', () => {
    const tail = tailUtf8(Buffer.alloc(100, 0xff), 10);
    expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(10);
    expect(tail.length).toBeGreaterThan(0);
  });

  it('drops old chunks as new ones arrive but always keeps enough for the limit', () => {
    const tail = new OutputTail(10);
    for (let i = 0; i < 100; i++) tail.push(Buffer.from(`${i}\n`));
    expect(tail.text()).toBe('96\n97\n98\n99\n'.slice(-10));
    const big = new OutputTail(4);
    big.push(Buffer.from('0123456789'));
    expect(big.text()).toBe('6789');
  });
});
