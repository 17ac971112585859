/**
 * A compact Nelder–Mead minimiser for the ETS fit. The layering keeps analytics from importing
 * sim/ (where the general, bounded one lives: src/sim/calibration/nelder-mead.ts); this one is
 * unconstrained, and the caller maps bounded parameters through a logistic. Standard coefficients
 * (reflection 1, expansion 2, contraction 1/2, shrink 1/2); stops when the spread of the values
 * is below fatol or the evaluation budget runs out. A non-finite value counts as +Infinity.
 */

export interface SimplexResult {
  x: Float64Array;
  fun: number;
  evaluations: number;
}

/** Minimises f from x0 with initial steps `step` (one per coordinate). */
export function simplexMinimise(
  f: (x: Float64Array) => number,
  x0: ArrayLike<number>,
  step: ArrayLike<number>,
  options: { maxEvaluations: number; fatol: number },
): SimplexResult {
  const n = x0.length;
  let evaluations = 0;
  const evaluate = (x: Float64Array): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  const pts: Float64Array[] = [Float64Array.from(x0)];
  for (let i = 0; i < n; i++) {
    const p = Float64Array.from(x0);
    p[i] = (p[i] as number) + (step[i] as number);
    pts.push(p);
  }
  const vals = pts.map(evaluate);
  const order = (): void => {
    const idx = pts.map((_, k) => k).sort((a, b) => (vals[a] as number) - (vals[b] as number));
    const p = idx.map((k) => pts[k] as Float64Array);
    const v = idx.map((k) => vals[k] as number);
    for (let k = 0; k <= n; k++) {
      pts[k] = p[k] as Float64Array;
      vals[k] = v[k] as number;
    }
  };
  const along = (c: Float64Array, w: Float64Array, t: number): Float64Array =>
    Float64Array.from(c, (ci, j) => ci + t * ((w[j] as number) - ci));
  order();
  while (evaluations < options.maxEvaluations) {
    if (Math.abs((vals[n] as number) - (vals[0] as number)) <= options.fatol) break;
    const worst = pts[n] as Float64Array;
    const c = new Float64Array(n);
    for (let k = 0; k < n; k++)
      for (let j = 0; j < n; j++) c[j] = (c[j] as number) + ((pts[k] as Float64Array)[j] as number) / n;
    const xr = along(c, worst, -1);
    const fr = evaluate(xr);
    if (fr < (vals[0] as number)) {
      const xe = along(c, worst, -2);
      const fe = evaluate(xe);
      [pts[n], vals[n]] = fe < fr ? [xe, fe] : [xr, fr];
    } else if (fr < (vals[n - 1] as number)) {
      [pts[n], vals[n]] = [xr, fr];
    } else {
      const outside = fr < (vals[n] as number);
      const xc = along(c, worst, outside ? -0.5 : 0.5);
      const fc = evaluate(xc);
      if (fc < (outside ? fr : (vals[n] as number))) {
        [pts[n], vals[n]] = [xc, fc];
      } else {
        for (let k = 1; k <= n; k++) {
          pts[k] = along(pts[0] as Float64Array, pts[k] as Float64Array, 0.5);
          vals[k] = evaluate(pts[k] as Float64Array);
        }
      }
    }
    order();
  }
  return { x: pts[0] as Float64Array, fun: vals[0] as number, evaluations };
}
