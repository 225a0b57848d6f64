import { describe, expect, it } from 'vitest';
import { prefersMinimal } from '../../src/http/debt-routes.js';

describe('Prefer: return=minimal on a payment', () => {
  it('is read in any case, among other preferences, with parameters, quoted or not', () => {
    for (const header of [
      'return=minimal',
      'Return=Minimal',
      'respond-async, return=minimal',
      ' return = "minimal" ; x=1',
      'wait=5,return=minimal',
    ])
      expect(prefersMinimal(header), header).toBe(true);
  });

  it('is not read into other preferences or values', () => {
    for (const header of [
      undefined,
      '',
      'return=representation',
      'return=minimalist',
      'minimal',
      'x-return=minimal',
      'return="minimal',
      'handling=minimal',
    ])
      expect(prefersMinimal(header), String(header)).toBe(false);
  });
});
