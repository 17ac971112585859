/**
 * A what-if trajectory drawn after the twin's history on one time axis: the history (measured) as the
 * line up to the fork, the run (simulated, seconds after the fork) as the dashed overlay after it.
 */
export interface JoinedSeries {
  xs: number[];
  ys: (number | null)[];
  overlay: (number | null)[];
}

/**
 * @param history measured points (ms, value), in time order
 * @param forkMs the wall-clock time of the fork (the run's sample time 0)
 * @param times the run's sample times, seconds after the fork
 * @param values the run's values (null or non-finite: a gap)
 */
export function joinHistoryAndRun(
  history: { xs: readonly number[]; ys: readonly (number | null)[] },
  forkMs: number,
  times: ArrayLike<number>,
  values: ArrayLike<number | null>,
): JoinedSeries {
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  const overlay: (number | null)[] = [];
  for (let i = 0; i < history.xs.length; i++) {
    const x = history.xs[i]!;
    if (!(x < forkMs)) break; // measured points after the fork would overlap the run
    xs.push(x);
    ys.push(history.ys[i] ?? null);
    overlay.push(null);
  }
  for (let i = 0; i < times.length; i++) {
    const v = values[i];
    xs.push(forkMs + times[i]! * 1000);
    ys.push(null);
    overlay.push(typeof v === 'number' && Number.isFinite(v) ? v : null);
  }
  return { xs, ys, overlay };
}
