/**
 * Seeds for randomized tests. Each run draws a fresh seed and prints it; setting
 * COMPTER_TEST_SEED replays a failure with the same random choices in every randomized test.
 */

/** mulberry32: a tiny seeded PRNG, good enough to make randomized runs repeatable. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed and the random numbers it gives; `note` is what an assertion message should carry. */
export interface SeededRandom {
  seed: number;
  /** Uniform in [0, 1). */
  random: () => number;
  /** "COMPTER_TEST_SEED=<seed>": how to replay this run. */
  note: string;
}

/**
 * The seed named by COMPTER_TEST_SEED (or the legacy variable `fallbackEnv`), else a fresh
 * one; printed with `label` either way, so a failing run can be replayed.
 */
export function testSeed(label: string, fallbackEnv?: string): number {
  const given = process.env.COMPTER_TEST_SEED || (fallbackEnv ? process.env[fallbackEnv] : undefined) || undefined;
  if (given !== undefined && !Number.isInteger(Number(given))) throw new Error(`the test seed ${given} is not an integer`);
  const seed = given !== undefined ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  console.log(`${label}: seed ${seed} (replay with COMPTER_TEST_SEED=${seed})`);
  return seed;
}

/** A seeded generator for one randomized test, its seed printed (see `testSeed`). */
export function seededRandom(label: string, fallbackEnv?: string): SeededRandom {
  const seed = testSeed(label, fallbackEnv);
  return { seed, random: mulberry32(seed), note: `COMPTER_TEST_SEED=${seed}` };
}

/** A copy of `items` in an order drawn from `random` (Fisher–Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
