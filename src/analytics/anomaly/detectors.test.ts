/**
 * Every detector's contract: scores in [0, 1], bounded state after millions of readings,
 * snapshot → JSON → restore gives the same scores afterwards, hostile input never throws nor
 * poisons the state, bad configurations and snapshots are catalogue errors; and the detectors find
 * an obvious anomaly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { createDetector } from './create-detector.js';
import { DETECTOR_KINDS, type AnomalyDetector } from './detector.js';
import { createMultivariateDetector, relationScore } from './multivariate-detector.js';

/** A deterministic pseudo-random generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function signal(i: number, r: () => number): number {
  return 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + 2 * (r() - 0.5);
}

const json = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe.each(DETECTOR_KINDS)('%s detector', (kind) => {
  it('keeps its state bounded over two million readings, scores within [0, 1]', () => {
    const d = createDetector(kind, { probation: 500 });
    const r = rng(1);
    const sizeAt = (): number => JSON.stringify(d.snapshot()).length;
    let early = 0;
    for (let i = 0; i < 2_000_000; i++) {
      const s = d.score(i * 60_000, signal(i, r) * (1 + i / 1e6));
      if (!(s >= 0 && s <= 1)) throw new Error(`score ${s} at ${i}`);
      if (i === 500_000) early = sizeAt();
    }
    // Numbers may print longer, never more numbers: the size stays put, and small.
    expect(sizeAt()).toBeLessThan(early * 1.2 + 200);
    expect(sizeAt()).toBeLessThan(100_000);
  });

  it('restores from a JSON snapshot and then scores exactly as the original', () => {
    const a = createDetector(kind, { probation: 300 });
    const r = rng(2);
    for (let i = 0; i < 5000; i++) a.score(i, signal(i, r));
    const b = createDetector(kind, undefined, json(a.snapshot()));
    const r2 = rng(3);
    for (let i = 5000; i < 15_000; i++) {
      const v = i === 9000 ? 500 : signal(i, r2);
      expect(b.score(i, v)).toBe(a.score(i, v));
    }
    expect(json(b.snapshot())).toEqual(json(a.snapshot()));
  });

  it('survives hostile readings without throwing or poisoning its state', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.double(),
            fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -1e308, 0, -0, 5e-324),
            fc.anything() as fc.Arbitrary<unknown>,
          ),
          { maxLength: 200 },
        ),
        fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 200 }),
        (hostile, times) => {
          const d = createDetector(kind, { probation: 20 });
          hostile.forEach((v, i) => {
            const s = d.score(times[i % times.length] as number, v as number);
            expect(s >= 0 && s <= 1).toBe(true);
          });
          const snap = JSON.stringify(d.snapshot());
          expect(snap).not.toMatch(/null|NaN|Infinity/);
          // Still usable afterwards: a restored copy agrees, scores stay in range.
          const e = createDetector(kind, undefined, JSON.parse(snap));
          for (let i = 0; i < 50; i++) {
            const s = d.score(i, i % 7);
            expect(e.score(i, i % 7)).toBe(s);
            expect(s >= 0 && s <= 1).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects bad configurations and corrupt snapshots with catalogue errors', () => {
    expect(() => createDetector(kind, { probation: -1 })).toThrow(TwinloopError);
    expect(() => createDetector(kind, { nope: 1 })).toThrow(/Unknown setting/);
    expect(() => createDetector(kind, { __proto__: { probation: 1 } })).not.toThrow();
    expect(() => createDetector(kind, 'x')).toThrow(TwinloopError);
    const snap = json(createDetector(kind).snapshot()) as { state: Record<string, unknown> };
    for (const bad of [null, 42, { ...snap, kind: 'other' }, { ...snap, state: { ...snap.state, n: 'x' } }]) {
      try {
        createDetector(kind, undefined, bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        expect((e as TwinloopError).code).toBe('StorageCorrupt');
      }
    }
  });

  it('scores a large spike far above the readings around it', () => {
    const d: AnomalyDetector = createDetector(kind, { probation: 600 });
    const r = rng(4);
    let before = 0;
    let spike = 0;
    for (let i = 0; i < 3000; i++) {
      const s = d.score(i, i === 2500 ? 200 : signal(i, r));
      if (i >= 1000 && i < 2500) before = Math.max(before, s);
      if (i >= 2500 && i < 2510) spike = Math.max(spike, s);
    }
    expect(spike).toBeGreaterThan(0.5);
    expect(spike).toBeGreaterThan(before + 0.2);
  });
});

describe('resonance detector', () => {
  /** Low half a day, high the other half; on day 10 the high half does not come. */
  function missingPeak(config: Record<string, number>): { before: number; missing: number } {
    const d = createDetector('resonance', { probation: 600, ...config });
    const r = rng(7);
    let before = 0;
    let missing = 0;
    for (let i = 0; i < 4000; i++) {
      const high = i % 288 >= 144 && Math.floor(i / 288) !== 10;
      const s = d.score(i, (high ? 80 : 20) + 2 * (r() - 0.5));
      if (i >= 1500 && i < 2880) before = Math.max(before, s);
      if (i >= 2880 + 144 && i < 2880 + 288) missing = Math.max(missing, s);
    }
    return { before, missing };
  }

  it('finds a slow change that creeps past vigilance step by step (a daily peak that does not come)', () => {
    const { before, missing } = missingPeak({});
    expect(missing).toBeGreaterThan(0.2);
    expect(missing).toBeGreaterThan(before + 0.1);
    // Measured against every prototype, the newest included, the change stays below the alert.
    expect(missingPeak({ mature: 0 }).missing).toBeLessThan(0.2);
  });
});

describe('resonance detector memory', () => {
  it('keeps enough prototypes that a long recurring pattern is not forgotten and found novel again', () => {
    // 120 levels held for 32 readings each, repeated: about a hundred distinct fine vectors a cycle.
    const r0 = rng(11);
    const levels = Array.from({ length: 120 }, () => Math.round(r0() * 100));
    const period = 120 * 32;
    const alertsFrom3rdCycle = (config: Record<string, number>): number => {
      const d = createDetector('resonance', { probation: 600, ...config });
      const r = rng(12);
      let alerts = 0;
      for (let i = 0; i < 6 * period; i++) {
        const s = d.score(i, (levels[Math.floor(i / 32) % 120] as number) + (r() - 0.5));
        if (i >= 3 * period && s >= 0.2) alerts++;
      }
      return alerts;
    };
    // 48 prototypes (the old default) recycle shapes that come back a cycle later.
    expect(alertsFrom3rdCycle({ prototypes: 48 })).toBeGreaterThan(0);
    expect(alertsFrom3rdCycle({})).toBe(0);
  });
});

describe('resonance detector echoes', () => {
  /**
   * Alerts (score ≥ 0.2) on a daily wave whose level drops by 8 at reading `at` and stays there;
   * `restore`: right after reading `at`, go on with a copy restored from a snapshot edited by it.
   */
  function shiftAlerts(
    echo: number,
    at = 2500,
    restore?: (state: Record<string, unknown>) => void,
  ): number[] {
    let d = createDetector('resonance', { probation: 600, echo });
    const r = rng(8);
    const alerts: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const v = 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + 2 * (r() - 0.5) - (i >= at ? 8 : 0);
      if (d.score(i, v) >= 0.2) alerts.push(i);
      if (i === at && restore) {
        const snap = json(d.snapshot()) as { state: Record<string, unknown> };
        restore(snap.state);
        d = createDetector('resonance', undefined, snap);
      }
    }
    return alerts;
  }

  it('does not report an event again while a layer window still holds it', () => {
    const without = shiftAlerts(0);
    const withEcho = shiftAlerts(1);
    expect(withEcho[0]).toBe(2500);
    expect(without[0]).toBe(2500);
    // The coarse window (8 × 8 buckets of 4 readings) holds the shift for 256 readings, beyond the
    // 150-reading mask: without the echo mask its vectors report the same shift again.
    expect(without.filter((i) => i > 2500 && i <= 2756).length).toBeGreaterThan(0);
    expect(withEcho.filter((i) => i > 2500 && i <= 2756)).toEqual([]);
    expect(withEcho.length).toBeLessThan(without.length);
  });

  it('counts the echo from the close of the bucket that holds the alert, wherever the alert fell in it', () => {
    // Buckets of 600 / 150 = 4 readings; the one holding 2500..2503 closes at 2503. Whichever of its
    // readings alerts, the coarse window holds the event until that bucket leaves it.
    const after = [2500, 2501, 2502, 2503].map((at) => {
      const alerts = shiftAlerts(1, at);
      expect(alerts[0]).toBe(at);
      return alerts.filter((i) => i > at);
    });
    expect(after[3]!.length).toBeGreaterThan(0);
    for (const a of after) expect(a).toEqual(after[3]);
    // A snapshot taken before the count started at the bucket's close (no alertPad) restores, and
    // counts from the alerting reading as it did then: for an alert early in its bucket the
    // coarse window reports the event again before it has left.
    const old = shiftAlerts(1, 2500, (state) => delete state.alertPad).filter((i) => i > 2500);
    expect(old[0]).toBeLessThan(after[0]![0]!);
    const same = shiftAlerts(1, 2500, () => undefined).filter((i) => i > 2500);
    expect(same).toEqual(after[0]);
    // A snapshot of the old defaults (48 prototypes, no alertPad) keeps its own configuration.
    const oldDefaults = createDetector('resonance', { probation: 600, prototypes: 48 });
    for (let i = 0; i < 3000; i++) oldDefaults.score(i, i % 10);
    const snap = json(oldDefaults.snapshot()) as {
      config: Record<string, number>;
      state: Record<string, unknown>;
    };
    delete snap.state.alertPad;
    const restored = createDetector('resonance', undefined, snap);
    expect(restored.snapshot().config.prototypes).toBe(48);
    for (let i = 3000; i < 4000; i++) expect(restored.score(i, i % 10)).toBe(oldDefaults.score(i, i % 10));
  });

  it('rejects a snapshot whose alertPad is not a count of readings within a bucket', () => {
    const d = createDetector('resonance', { probation: 600 });
    for (let i = 0; i < 1000; i++) d.score(i, i % 10);
    const snap = json(d.snapshot()) as { state: Record<string, unknown> };
    for (const bad of [-1, 1.5, 4, 'x', null]) {
      try {
        createDetector('resonance', undefined, { ...snap, state: { ...snap.state, alertPad: bad } });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        expect((e as TwinloopError).code).toBe('StorageCorrupt');
      }
    }
    expect(() =>
      createDetector('resonance', undefined, { ...snap, state: { ...snap.state, alertPad: 3 } }),
    ).not.toThrow();
  });
});

describe('multivariate detector', () => {
  it('flags a reading that breaks the relation between streams, restores exactly, survives hostile input', () => {
    const a = createMultivariateDetector({ streams: 3, probation: 500, perStreamResonance: 0 });
    const r = rng(5);
    let normalMax = 0;
    for (let i = 0; i < 5000; i++) {
      const x = 10 * Math.sin(i / 50) + r();
      normalMax = Math.max(normalMax, a.score(i, [x, 2 * x + r(), 20 + r()]));
    }
    const b = createMultivariateDetector(undefined, json(a.snapshot()));
    // Each value within its usual range, but the second no longer follows the first.
    const broken = [8, -16, 20.5];
    const sa = a.score(5000, broken);
    expect(b.score(5000, broken)).toBe(sa);
    expect(sa).toBeGreaterThan(0.5);
    expect(sa).toBeGreaterThan(normalMax + 0.2);
    for (const hostile of [
      [Number.NaN, 1, 2],
      [Infinity],
      [],
      [1e308, -1e308, 1e308],
      'x',
      null,
    ] as unknown[]) {
      const s = a.score(5001, hostile as number[]);
      expect(s >= 0 && s <= 1).toBe(true);
    }
    expect(JSON.stringify(a.snapshot())).not.toMatch(/null|NaN|Infinity/);
    const c = createMultivariateDetector(undefined, json(a.snapshot()));
    for (let i = 0; i < 100; i++) expect(c.score(i, [i, 2 * i, 20])).toBe(a.score(i, [i, 2 * i, 20]));
  });

  it('without per-stream detectors scores the relation alone: same scores after a restore, small state', () => {
    const a = createMultivariateDetector({ streams: 2, probation: 300, perStreamDetectors: 0 });
    const r = rng(7);
    let normalMax = 0;
    for (let i = 0; i < 3000; i++) {
      const x = 10 * Math.sin(i / 40) + r();
      normalMax = Math.max(normalMax, a.score(i, [x, -x + r()]));
    }
    const snap = json(a.snapshot()) as { perStream: unknown[] };
    expect(snap.perStream).toEqual([]);
    expect(JSON.stringify(snap).length).toBeLessThan(2000);
    const b = createMultivariateDetector(undefined, snap);
    // Both within their usual ranges, but they move together instead of against each other.
    expect(b.score(3000, [6, 6])).toBe(a.score(3000, [6, 6]));
    expect(a.score(3001, [6, 6])).toBeGreaterThan(Math.max(0.5, normalMax + 0.2));
    // A missing component counts as expected (its expectation given the other): -0.5 is an
    // ordinary value of the second stream, scored low although the two are strongly correlated;
    // and it teaches nothing about the missing one.
    const cov = (): number[] => (a.snapshot().state as { cov: number[] }).cov;
    const before = cov();
    expect(a.score(3002, [Number.NaN, -0.5])).toBeLessThan(0.2);
    expect(cov()[0]).toBe(before[0]);
    expect(cov()[1]).toBe(before[1]);
    expect(cov()[2]).toBe(before[2]);
    expect(() => createMultivariateDetector(undefined, { ...snap, perStream: [{}] })).toThrow(TwinloopError);
  });

  it('scores a healthy asset 0 most of the time; the score crosses 0.8 at q = 36 as before', () => {
    expect(relationScore(0)).toBe(0);
    expect(relationScore(3)).toBe(0);
    expect(relationScore(11.25)).toBeCloseTo(0.5, 12);
    expect(relationScore(36)).toBeCloseTo(0.8, 12);
    expect(36 / (36 + 9)).toBeCloseTo(0.8, 12); // the earlier map's crossing
    expect(relationScore(1e300)).toBeLessThanOrEqual(1);
    // Four correlated Gaussian streams (one asset, healthy): after the probation, at most a few
    // per cent of vectors score above 0, and with a 0.05 deadband few scores would be stored.
    const a = createMultivariateDetector({ streams: 4, probation: 750, perStreamDetectors: 0 });
    const r = rng(11);
    const gauss = (): number => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    let above = 0;
    let stored = 0;
    let last = -1;
    for (let i = 0; i < 20_750; i++) {
      const load = gauss();
      const s = a.score(i, [
        load + 0.3 * gauss(),
        50 + gauss(),
        2 * load + gauss(),
        4 - load + 0.5 * gauss(),
      ]);
      if (i < 750) continue;
      if (s > 0) above++;
      if (last < 0 || Math.abs(s - last) > 0.05) {
        stored++;
        last = s;
      }
    }
    expect(above / 20_000).toBeLessThan(0.05);
    expect(stored / 20_000).toBeLessThan(0.05);
  });

  it('keeps its state bounded with resonance per stream, and rejects corrupt snapshots', () => {
    const d = createMultivariateDetector({ streams: 4, probation: 200 });
    const r = rng(6);
    let early = 0;
    for (let i = 0; i < 300_000; i++) {
      const s = d.score(i, [r(), r() * 2, signal(i, r), r() + i / 1e4]);
      if (!(s >= 0 && s <= 1)) throw new Error(`score ${s}`);
      // By then every prototype slot of the noise streams is in use (a used slot prints longer than an empty one).
      if (i === 200_000) early = JSON.stringify(d.snapshot()).length;
    }
    expect(JSON.stringify(d.snapshot()).length).toBeLessThan(early * 1.2 + 200);
    expect(JSON.stringify(d.snapshot()).length).toBeLessThan(400_000);
    expect(() => createMultivariateDetector(undefined, { kind: 'multivariate' })).toThrow(TwinloopError);
    expect(() => createMultivariateDetector(undefined, { kind: 'ewma' })).toThrow(TwinloopError);
  });
});
