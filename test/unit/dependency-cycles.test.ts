import { describe, expect, it } from 'vitest';
import { cycleProblem, cycleThrough } from '../../src/domain/dependency-cycles.js';

const graph = (edges: Record<string, string[]>) => (id: string) => edges[id] ?? [];

describe('dependency cycles', () => {
  it('finds the path back to the definition being checked', () => {
    expect(cycleThrough('a', graph({ a: ['c'], c: ['b'], b: ['a'] }))).toEqual(['a', 'c', 'b', 'a']);
    expect(cycleThrough('a', graph({ a: ['a'] }))).toEqual(['a', 'a']);
  });

  it('a chain, a diamond, or a cycle elsewhere is not a cycle through the definition', () => {
    expect(cycleThrough('a', graph({ a: ['b'], b: ['c'] }))).toBeNull();
    expect(cycleThrough('a', graph({ a: ['b', 'c'], b: ['d'], c: ['d'] }))).toBeNull();
    expect(cycleThrough('a', graph({ a: ['b'], b: ['c'], c: ['b'] }))).toBeNull();
  });

  it('names the cycle at `after`', () => {
    expect(cycleProblem('load', graph({ load: ['report'], report: ['load'] }))).toEqual({
      path: 'after',
      message: 'dependencies may not form a cycle: load → report → load',
    });
    expect(cycleProblem('load', graph({}))).toBeUndefined();
  });
});
