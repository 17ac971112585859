import { describe, expect, it } from 'vitest';
import type { TelemetryObservation } from '../analytics-types.js';
import type { HistoryReading } from './anomaly-operator.js';
import { ForecastOperator } from './forecast-operator.js';
import type { ForecastStreamSpec } from './forecast-plan.js';

const TANK = 'dtmi:x:Tank;1';
const MIN = 60_000;
const H = 3_600_000;

const obs = (
  twinId: string,
  time: number,
  values: Record<string, unknown>,
  modelId = TANK,
): TelemetryObservation => ({
  workspace: 'w',
  twinId,
  modelId,
  time,
  values,
});

/** Standard normal draws from a seeded generator (Box–Muller over a Park–Miller LCG). */
function gaussian(seed: number): () => number {
  let s = seed;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const level = (o: Partial<ForecastStreamSpec> = {}): ForecastStreamSpec => ({
  telemetry: 'level',
  horizonMs: H,
  everyMs: 5 * MIN,
  historyMs: 4 * H,
  interval: 95,
  ...o,
});

function setup(
  spec: ForecastStreamSpec = level(),
  extra: Partial<ConstructorParameters<typeof ForecastOperator>[0]> = {},
) {
  const written: { twinId: string; time: number; values: Record<string, number> }[] = [];
  const op = new ForecastOperator({
    streamsOf: (_ws, m) => (m === TANK ? [spec] : undefined),
    sink: { write: (_ws, twinId, time, values) => written.push({ twinId, time, values: { ...values } }) },
    ...extra,
  });
  return { op, written };
}

describe('ForecastOperator', () => {
  it('writes the forecast a horizon ahead beside the source, at most every `every`, from a ramp exactly', () => {
    const { op, written } = setup();
    // 0.5 m/h, a reading every 10 s for 6 h; another model and other telemetry are not forecast.
    for (let t = 0; t <= 6 * H; t += 10_000) {
      op.tick();
      op.observe(obs('t1', t, { level: (0.5 * t) / H, inflow: 3 }));
      op.observe(obs('p1', t, { level: 1 }, 'dtmi:x:Pump;1'));
    }
    expect(written.length).toBeGreaterThan(60);
    expect(new Set(written.map((w) => w.twinId))).toEqual(new Set(['t1']));
    for (const w of written) {
      expect(Object.keys(w.values).sort()).toEqual([
        'levelForecast',
        'levelForecastLower',
        'levelForecastUpper',
      ]);
      // The forecast of a straight line an hour ahead: where the line is an hour later.
      expect(w.values.levelForecast).toBeCloseTo((0.5 * (w.time + H)) / H, 6);
      expect(w.values.levelForecastLower).toBeLessThanOrEqual(w.values.levelForecast!);
      expect(w.values.levelForecastUpper).toBeGreaterThanOrEqual(w.values.levelForecast!);
    }
    // Stamped with readings' times, every 5 minutes of them.
    for (let i = 1; i < written.length; i++) expect(written[i]!.time - written[i - 1]!.time).toBe(5 * MIN);
    expect(op.stats()).toMatchObject({ streams: 1, refitsDeferred: 0, written: written.length });
    expect(op.stats().refits).toBe(written.length);
  });

  it('on noise around a level: the 95 % interval holds the value an horizon later about 95 % of the time; 80 % is narrower', () => {
    const g = gaussian(17);
    const series: [number, number][] = [];
    for (let t = 0; t <= 48 * H; t += MIN) series.push([t, 10 + g()]);
    const valueAt = new Map(series);
    const coverage = (interval: 80 | 95) => {
      const { op, written } = setup(level({ interval, everyMs: 20 * MIN }));
      for (const [t, v] of series) {
        op.tick();
        op.observe(obs('t1', t, { level: v }));
      }
      let inside = 0;
      let n = 0;
      let width = 0;
      for (const w of written) {
        const actual = valueAt.get(w.time + H);
        if (actual === undefined) continue;
        n++;
        width += w.values.levelForecastUpper! - w.values.levelForecastLower!;
        if (actual >= w.values.levelForecastLower! && actual <= w.values.levelForecastUpper!) inside++;
      }
      return { share: inside / n, width: width / n, n };
    };
    const c95 = coverage(95);
    const c80 = coverage(80);
    expect(c95.n).toBeGreaterThan(100);
    expect(c95.share).toBeGreaterThan(0.88);
    expect(c80.share).toBeGreaterThan(0.7);
    expect(c80.share).toBeLessThan(c95.share);
    // ±1.96 σ vs ±1.28 σ with σ ≈ 1
    expect(c95.width).toBeGreaterThan(3.4);
    expect(c95.width).toBeLessThan(4.6);
    expect(c80.width / c95.width).toBeCloseTo(1.2816 / 1.96, 2);
  });

  it('budgets refits per tick; the others wait and run at the next ticks from their newest reading', () => {
    const { op, written } = setup(level(), { maxRefitsPerTick: 3 });
    // Ten tanks, cells of 28.125 s: the 16th cell makes every refit due at once.
    let t = 0;
    for (let cell = 0; cell < 16; cell++, t += 28_125)
      for (let i = 0; i < 10; i++) op.observe(obs(`t${i}`, t, { level: 1 + t / H }));
    expect(op.stats()).toMatchObject({ refits: 3, refitsDeferred: 7, refitsPending: 7 });
    // One more reading each while they wait: the waiting refits use it.
    for (let i = 0; i < 10; i++) op.observe(obs(`t${i}`, t, { level: 1 + t / H }));
    expect(op.stats().refitsPending).toBe(7);
    op.tick();
    op.tick();
    expect(op.stats()).toMatchObject({ refits: 9, refitsPending: 1 });
    op.tick();
    expect(op.stats()).toMatchObject({ refits: 10, refitsPending: 0 });
    expect(written.map((w) => w.twinId)).toEqual([...Array(10).keys()].map((i) => `t${i}`));
    expect(written.slice(3).every((w) => w.time === t)).toBe(true);
  });

  it('forecasts at most maxStreams streams, counts the others; forgets a deleted twin', () => {
    const { op } = setup(level(), { maxStreams: 2 });
    for (let i = 0; i < 5; i++) op.observe(obs(`t${i}`, 0, { level: 1 }));
    expect(op.stats()).toMatchObject({ streams: 2, streamsSkipped: 3 });
    op.forgetTwin('w', 't0');
    expect(op.stats().streams).toBe(1);
    op.observe(obs('t4', 1, { level: 1 }));
    expect(op.stats().streams).toBe(2);
  });

  it('ignores what is not a finite number, components, and readings older than the newest', () => {
    const { op, written } = setup(level({ everyMs: MIN }));
    for (let t = 0; t <= 2 * H; t += 30_000) op.observe(obs('t1', t, { level: 2 }));
    const before = written.length;
    for (const v of [NaN, Infinity, '3', null, true]) op.observe(obs('t1', 3 * H, { level: v }));
    op.observe({ ...obs('t1', 3 * H, { level: 100 }), component: 'c' });
    op.observe(obs('t1', H, { level: 100 }));
    expect(written.length).toBe(before);
    expect(written.every((w) => Math.abs(w.values.levelForecast! - 2) < 1e-9)).toBe(true);
  });

  it('warms up a new stream from history, folding in what came meanwhile, and starts cold when the read fails', async () => {
    const asked: [string, number, number, number][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { op, written } = setup(level(), {
      recent: async (_ws, id, _name, from, to, spacing) => {
        asked.push([id, from, to, spacing]);
        await gate;
        const out: HistoryReading[] = [];
        for (let c = from; c < to; c += spacing) out.push({ time: c + spacing / 2, value: (0.5 * c) / H });
        return out;
      },
    });
    const t = 10 * H;
    op.observe(obs('t1', t, { level: (0.5 * t) / H }));
    op.observe(obs('t1', t + 10_000, { level: (0.5 * (t + 10_000)) / H }));
    expect(asked).toEqual([['t1', Math.floor((t - 4 * H) / 28_125) * 28_125, t, 28_125]]);
    expect(written).toEqual([]);
    release();
    await gate;
    await new Promise((r) => setImmediate(r));
    // A forecast at once, from the newest reading, on 4 h of history.
    expect(written).toHaveLength(1);
    expect(written[0]!.time).toBe(t + 10_000);
    expect(written[0]!.values.levelForecast).toBeCloseTo((0.5 * (t + 10_000 + H)) / H, 2);

    const failing = setup(level(), { recent: () => Promise.reject(new Error('store down')) });
    failing.op.observe(obs('t1', 0, { level: 1 }));
    await new Promise((r) => setImmediate(r));
    expect(failing.op.stats()).toMatchObject({ warmUpFailures: 1, streams: 1 });
    for (let s = 1; s <= 40; s++) failing.op.observe(obs('t1', s * 30_000, { level: 1 }));
    expect(failing.written.length).toBeGreaterThan(0);
  });
});
