import { describe, expect, it } from 'vitest';
import { decodeEvent, type StoredEventRow } from '../../src/domain/event.js';

const row = (fields: Partial<StoredEventRow>): StoredEventRow => ({
  eventId: '01JD0000000000000000000000',
  project: 'p',
  type: 'payment',
  debt: 'd',
  application: '',
  job: '',
  slo: '',
  ts: 1,
  ingestedAt: 1,
  kind: 'fail',
  status: '',
  runId: '',
  host: '',
  businessDate: '',
  durationMs: null,
  latenessMs: null,
  attributes: { occurrenceAt: 0, isExtraRun: true },
  ...fields,
});

describe('decodeEvent', () => {
  it('gives back a stored row of a known type as that type, attributes untouched', () => {
    const event = decodeEvent(row({}));
    expect(event.type).toBe('payment');
    if (event.type !== 'payment') throw new Error('not a payment');
    expect(event.attributes).toEqual({ occurrenceAt: 0, isExtraRun: true });
  });

  it('refuses a type compter never wrote, and attributes that are not a JSON object', () => {
    expect(() => decodeEvent(row({ type: 'debt.renamed' }))).toThrow(/unknown type "debt.renamed"/);
    expect(() => decodeEvent(row({ attributes: [1, 2] }))).toThrow(/not a JSON object/);
    expect(() => decodeEvent(row({ attributes: null }))).toThrow(/not a JSON object/);
  });
});
