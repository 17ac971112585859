/**
 * Randomness for measurement noise: a seeded uniform generator, so that a simulation with noise can
 * be replayed exactly, and Gaussian samples drawn from any uniform source.
 */

/** A standard normal sample (Box–Muller) from a uniform source. */
export function gaussian(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** A small seeded uniform generator (mulberry32), so simulations with noise are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
