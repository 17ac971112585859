/**
 * Box bounds shared by the optimisers: checking them (every problem reported with its index),
 * clamping into them, and the smooth internal↔external transform Nelder–Mead uses so that it can
 * search an unbounded space while every point it evaluates respects the bounds (as MINUIT does).
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';

export interface Bounds {
  readonly lower: Float64Array;
  readonly upper: Float64Array;
}

/** Checks x0 and the bounds (min <= max, x0 inside, all finite but ±Infinity for open sides). */
export function checkBounds(
  x0: ArrayLike<number>,
  lower: ArrayLike<number> | undefined,
  upper: ArrayLike<number> | undefined,
  what = 'x0',
): { x0: Float64Array; bounds: Bounds } {
  const n = x0?.length;
  if (typeof n !== 'number' || n === 0) {
    throw new TwinloopError('ValidationFailed', `${what} must have at least one parameter.`);
  }
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string): void => {
    problems.push({ code: 'sim.calibration.invalidStart', source: what, pointer, message });
  };
  for (const [name, b] of [
    ['lower', lower],
    ['upper', upper],
  ] as const) {
    if (b !== undefined && b.length !== n)
      bad(`/${name}`, `${name} has ${b.length} entries; ${what} has ${n}.`);
  }
  if (problems.length === 0) {
    for (let i = 0; i < n; i++) {
      const x = x0[i] as number;
      const lo = lower?.[i] ?? -Infinity;
      const hi = upper?.[i] ?? Infinity;
      if (typeof x !== 'number' || !Number.isFinite(x))
        bad(`/${i}`, `${what}[${i}] is ${String(x)}, not a finite number.`);
      if (typeof lo !== 'number' || Number.isNaN(lo) || lo === Infinity)
        bad(`/${i}`, `lower[${i}] is ${String(lo)}.`);
      if (typeof hi !== 'number' || Number.isNaN(hi) || hi === -Infinity)
        bad(`/${i}`, `upper[${i}] is ${String(hi)}.`);
      if (lo > hi) bad(`/${i}`, `lower[${i}] (${lo}) is greater than upper[${i}] (${hi}).`);
      else if (x < lo || x > hi) bad(`/${i}`, `${what}[${i}] (${x}) is outside [${lo}, ${hi}].`);
    }
  }
  if (problems.length) {
    throw new TwinloopError(
      'ValidationFailed',
      problems.map((p) => `${p.pointer}: ${p.message}`).join('\n'),
      {
        problems,
      },
    );
  }
  return {
    x0: Float64Array.from(x0),
    bounds: {
      lower: Float64Array.from({ length: n }, (_, i) => lower?.[i] ?? -Infinity),
      upper: Float64Array.from({ length: n }, (_, i) => upper?.[i] ?? Infinity),
    },
  };
}

export function clampInto(x: Float64Array, b: Bounds): Float64Array {
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.min(b.upper[i] as number, Math.max(b.lower[i] as number, x[i] as number));
  }
  return x;
}

/** Internal (unbounded) coordinate -> external (bounded) value. */
export function toExternal(z: number, lo: number, hi: number): number {
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    if (lo === hi) return lo;
    return Math.min(hi, Math.max(lo, lo + ((hi - lo) * (Math.sin(z) + 1)) / 2));
  }
  if (Number.isFinite(lo)) return lo - 1 + Math.sqrt(z * z + 1);
  if (Number.isFinite(hi)) return hi + 1 - Math.sqrt(z * z + 1);
  return z;
}

/** External value (inside its bounds) -> internal coordinate; inverse of toExternal. */
export function toInternal(x: number, lo: number, hi: number): number {
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    if (lo === hi) return 0;
    return Math.asin(Math.min(1, Math.max(-1, (2 * (x - lo)) / (hi - lo) - 1)));
  }
  if (Number.isFinite(lo)) return Math.sqrt((x - lo + 1) ** 2 - 1);
  if (Number.isFinite(hi)) return Math.sqrt((hi - x + 1) ** 2 - 1);
  return x;
}
