/**
 * Root finding for event location: the Illinois variant of regula falsi on a bracket [a, b] where
 * g changes sign. Superlinear, needs only g values (here: g evaluated on a step's dense output),
 * and always keeps a bracket, so it cannot wander off or loop forever.
 */

/** Result: the root's bracket end on the side AFTER the crossing (g there has the new sign or is 0). */
export interface RootResult {
  t: number;
  iterations: number;
}

/**
 * Finds t in [a, b] with g(t) = 0, given ga = g(a) and gb = g(b) of opposite signs (or gb = 0).
 * Stops when the bracket is narrower than `tol` (absolute) or after 200 iterations. Returns the
 * end on b's side, so that restarting from it never re-detects the same crossing.
 */
export function illinoisRoot(
  g: (t: number) => number,
  a: number,
  b: number,
  ga: number,
  gb: number,
  tol: number,
): RootResult {
  if (gb === 0) return { t: b, iterations: 0 };
  let side = 0;
  let it = 0;
  const minTol = Math.max(tol, 4 * Number.EPSILON * Math.max(Math.abs(a), Math.abs(b)));
  while (Math.abs(b - a) > minTol && it < 200) {
    it++;
    // Secant point of the bracket, kept strictly inside it.
    let c = (a * gb - b * ga) / (gb - ga);
    if (!(c > Math.min(a, b) && c < Math.max(a, b))) c = 0.5 * (a + b);
    const gc = g(c);
    if (gc === 0) return { t: c, iterations: it };
    if (gc * gb > 0) {
      // c replaces b (same sign as b); a stays: halve ga if a stayed twice (the Illinois rule).
      b = c;
      gb = gc;
      if (side === -1) ga *= 0.5;
      side = -1;
    } else {
      a = c;
      ga = gc;
      if (side === 1) gb *= 0.5;
      side = 1;
    }
  }
  return { t: b, iterations: it };
}
