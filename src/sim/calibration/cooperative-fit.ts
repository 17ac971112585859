/**
 * Runs a calibration without holding the event loop: the fit is cut into slices of `sliceMs`,
 * with the event loop given back (`yieldNow`) between them, so MQTT acknowledgements, the live
 * stream and /healthz keep answering while a twin is calibrated.
 *
 * How, without rewriting the optimisers as coroutines: the optimisers are deterministic, so the
 * fit can be re-run from the start after a pause and will ask for the same simulations in the same
 * order. Every simulation's result is kept (keyed by its exact parameter values); a re-run answers
 * the simulations already made from that memo (only the optimiser's small linear algebra runs
 * again) and makes new ones until the slice is over, then stops by throwing FitSuspended. Each
 * slice makes at least one new simulation, so the fit always progresses; one simulation is the
 * smallest slice (a model whose single run takes 50 ms holds the loop that long).
 */
import { calibrateTwin, type TwinCalibrationInput, type TwinCalibrationResult } from './twin-calibration.js';

/** Thrown through the optimiser to stop a slice; calibrate.ts lets it pass (never a failed run). */
export class FitSuspended extends Error {
  constructor() {
    super('calibration slice over');
    this.name = 'FitSuspended';
  }
}

export interface CooperativeFitOptions {
  /** Gives the event loop back between slices (default: setImmediate). */
  yieldNow?: () => Promise<void>;
  /** Time one slice may take before it yields, ms (default 10). */
  sliceMs?: number;
  /** Clock, ms (default performance.now). */
  now?: () => number;
}

export interface CooperativeFitResult extends TwinCalibrationResult {
  /** How many times the fit gave the event loop back. */
  pauses: number;
}

/**
 * calibrateTwin in slices: the same result, the same errors.
 * @example
 * const r = await calibrateTwinCooperative(input, { yieldNow: () => new Promise((ok) => setImmediate(ok)) });
 */
export async function calibrateTwinCooperative(
  input: TwinCalibrationInput,
  options: CooperativeFitOptions = {},
): Promise<CooperativeFitResult> {
  const yieldNow = options.yieldNow ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const sliceMs = options.sliceMs ?? 10;
  const now = options.now ?? (() => performance.now());
  const memo = new Map<string, Float64Array>();
  let pauses = 0;
  for (;;) {
    const sliceEnd = now() + sliceMs;
    let fresh = 0;
    try {
      const result = calibrateTwin({
        ...input,
        wrapSimulate: (simulate) => (p) => {
          const key = p.join(',');
          const hit = memo.get(key);
          if (hit) return hit;
          if (fresh > 0 && now() >= sliceEnd) throw new FitSuspended();
          fresh++;
          const out = simulate(p);
          memo.set(key, out);
          return out;
        },
      });
      return { ...result, pauses };
    } catch (e) {
      if (!(e instanceof FitSuspended)) throw e;
    }
    pauses++;
    await yieldNow();
  }
}
