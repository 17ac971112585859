/**
 * Synthetic run-to-failure fleets for the RUL tests (FD001-like: a hidden degradation that
 * accelerates towards failure, seen through noisy sensors; optionally in six operating regimes
 * that shift and scale every sensor, like FD002/FD004). Test support only.
 */
import { createRng } from './rul-random.js';
import type { RulAssetSeries } from './rul-types.js';

/** FD002's six flight conditions (altitude-ish, Mach-ish, throttle resolver angle). */
export const SIX_REGIMES = [
  [0, 0, 100],
  [10, 0.25, 100],
  [20, 0.7, 100],
  [25, 0.62, 60],
  [35, 0.84, 100],
  [42, 0.84, 100],
] as const;

export interface FleetOptions {
  assets: number;
  /** 1 (settings jitter around one condition) or 6 (SIX_REGIMES). */
  regimes: 1 | 6;
  seed: number;
  minLife?: number;
  maxLife?: number;
  /** Share of sensor values replaced by NaN. */
  nanRate?: number;
}

export const SYN_SENSORS = ['a', 'b', 'c', 'd', 'e', 'flat', 'noise'];
export const SYN_SETTINGS = ['alt', 'mach', 'tra'];
const GAIN = [3, -2.5, 2, 1.5, -3, 0, 0];
/** Each regime shifts and scales each sensor its own way (a fixed table, not a linear pattern). */
const table = createRng(77);
const OFFSET = Array.from({ length: 42 }, () => 200 * (table.next() - 0.5));
const SCALE = Array.from({ length: 42 }, () => 0.5 + table.next());
const NOISE = [0.2, 0.25, 0.3, 0.2, 0.3, 0, 1];

/**
 * A fleet; the underlying degradation and noise depend only on the seed (not on `regimes`), so the
 * same seed with 1 and 6 regimes gives the same hidden signals seen through different regimes.
 */
export function syntheticFleet(o: FleetOptions): RulAssetSeries[] {
  const signal = createRng(o.seed);
  const regime = createRng(o.seed + 1000);
  const nan = createRng(o.seed + 2000);
  const minLife = o.minLife ?? 130;
  const maxLife = o.maxLife ?? 360;
  const gauss = () => {
    const u = Math.max(1e-12, signal.next());
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * signal.next());
  };
  const fleet: RulAssetSeries[] = [];
  for (let a = 0; a < o.assets; a++) {
    const life = minLife + signal.int(maxLife - minLife + 1);
    const span = 70 + signal.int(80);
    const onset = Math.max(1, life - span);
    const wear = 0.2 * signal.next(); // initial wear, unknown to the learner
    const steps = Float64Array.from({ length: life }, (_, i) => i + 1);
    const columns: Record<string, Float64Array> = {};
    for (const s of [...SYN_SENSORS, ...SYN_SETTINGS]) columns[s] = new Float64Array(life);
    for (let i = 0; i < life; i++) {
      const t = i + 1;
      const d = wear + 0.3 * (t / life) + (t > onset ? ((t - onset) / (life - onset)) ** 1.6 : 0);
      const r = o.regimes === 6 ? regime.int(6) : 0;
      const centre = SIX_REGIMES[r] as readonly number[];
      (columns.alt as Float64Array)[i] =
        o.regimes === 6
          ? (centre[0] as number) + 0.002 * (regime.next() - 0.5)
          : 0.004 * (regime.next() - 0.5);
      (columns.mach as Float64Array)[i] =
        o.regimes === 6
          ? (centre[1] as number) + 0.0002 * (regime.next() - 0.5)
          : 0.0006 * (regime.next() - 0.5);
      (columns.tra as Float64Array)[i] = o.regimes === 6 ? (centre[2] as number) : 100;
      SYN_SENSORS.forEach((s, j) => {
        const base = 10 * (j + 1) + (GAIN[j] as number) * d + (NOISE[j] as number) * gauss();
        // each regime shifts and scales each sensor differently
        const v =
          o.regimes === 6 ? base * (SCALE[r * 7 + j] as number) + (OFFSET[r * 7 + j] as number) : base;
        (columns[s] as Float64Array)[i] = o.nanRate && nan.next() < o.nanRate ? NaN : v;
      });
    }
    fleet.push({ id: `asset-${a + 1}`, steps, columns });
  }
  return fleet;
}
