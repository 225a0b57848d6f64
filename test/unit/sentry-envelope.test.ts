import { describe, expect, it } from 'vitest';
import { sentryDsn, sentryProjectIdOf, sentryPublicKeyOf } from '../../src/domain/debts/sentry-dsn.js';
import { itemJson, parseEnvelope, publicKeyOfDsn, sentryKeyOfAuthHeader } from '../../src/domain/debts/sentry-envelope.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('parseEnvelope', () => {
  it('reads items by length in UTF-8 bytes (payloads may hold newlines) and by line without one', () => {
    const payload = 'ø\nß'; // 5 bytes, 3 characters
    const parsed = parseEnvelope(
      bytes(`{"event_id":"e"}\n{"type":"attachment","length":5}\n${payload}\n{"type":"check_in"}\n{"status":"ok"}\n`),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.envelope.header).toEqual({ event_id: 'e' });
    expect(parsed.envelope.items.map((i) => i.type)).toEqual(['attachment', 'check_in']);
    expect(text(parsed.envelope.items[0]!.payload)).toBe(payload);
    expect(itemJson(parsed.envelope.items[1]!)).toEqual({ status: 'ok' });
  });

  it('accepts a header alone and a last payload without a newline', () => {
    expect(parseEnvelope(bytes('{}'))).toEqual({ ok: true, envelope: { header: {}, items: [] } });
    const parsed = parseEnvelope(bytes('{}\n{"type":"check_in"}\n{"a":1}'));
    expect(parsed.ok && itemJson(parsed.envelope.items[0]!)).toEqual({ a: 1 });
  });

  it('refuses, naming where: a header that is not an object, an item without type, a lying length, too many items', () => {
    expect(parseEnvelope(bytes('[1]\n'))).toMatchObject({ ok: false, path: 'envelope' });
    expect(parseEnvelope(bytes('{}\n{"length":1}\nx'))).toMatchObject({ ok: false, path: 'items[0].type' });
    expect(parseEnvelope(bytes('{}\n{"type":"event","length":2}\nabc\n'))).toMatchObject({ ok: false, path: 'items[0].length' });
    expect(parseEnvelope(bytes('{}\n{"type":"event","length":9}\nabc'))).toMatchObject({ ok: false, path: 'items[0].length' });
    expect(parseEnvelope(bytes('{}\n{"type":"event","length":-1}\n'))).toMatchObject({ ok: false, path: 'items[0].length' });
    expect(parseEnvelope(bytes('{}\n{"type":"a"}\n{}\n{"type":"b"}\n{}\n'), 1)).toMatchObject({ ok: false, path: 'envelope' });
    expect(parseEnvelope(Uint8Array.from([0xff, 0xfe]))).toMatchObject({ ok: false });
  });
});

describe('Sentry auth and DSNs', () => {
  it('finds the key in X-Sentry-Auth and in a DSN', () => {
    expect(sentryKeyOfAuthHeader('Sentry sentry_version=7, sentry_client=sentry.javascript.node/11.12.0, sentry_key=abc123')).toBe(
      'abc123',
    );
    expect(sentryKeyOfAuthHeader('Sentry sentry_key=k1,sentry_version=7')).toBe('k1');
    expect(sentryKeyOfAuthHeader('Bearer x')).toBeUndefined();
    expect(publicKeyOfDsn('https://pub:secret@o1.ingest.example/42')).toBe('pub');
    expect(publicKeyOfDsn(42)).toBeUndefined();
  });

  it('gives every project a stable numeric id, 1 for default, and a DSN the SDKs accept', () => {
    expect(sentryProjectIdOf('default')).toBe('1');
    expect(sentryProjectIdOf('alpha')).toMatch(/^\d{12}$/);
    expect(sentryProjectIdOf('alpha')).toBe(sentryProjectIdOf('alpha'));
    expect(sentryProjectIdOf('alpha')).not.toBe(sentryProjectIdOf('beta'));
    expect(sentryDsn('http://127.0.0.1:8080', 'abcdef0123456789abcdef0123456789', 'default')).toBe(
      'http://abcdef0123456789abcdef0123456789@127.0.0.1:8080/1',
    );
    // A key with '-' is not a DSN public key for the SDKs: a derived hex key stands in for it.
    expect(sentryPublicKeyOf('8QhDkq1vY0cJr4m2Zt6p-x')).toMatch(/^[0-9a-f]{32}$/);
    expect(sentryPublicKeyOf('8QhDkq1vY0cJr4m2Zt6p_x')).toBe('8QhDkq1vY0cJr4m2Zt6p_x');
  });
});
