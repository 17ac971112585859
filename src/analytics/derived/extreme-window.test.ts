/**
 * The sliding maximum/minimum that keeps only its deque: equal to brute force over random streams
 * (time and point bounds), the same after snapshot → JSON → restore midway, restored from the
 * every-point snapshot of a SlidingWindow, bounded in what it keeps, and safe with hostile snapshots.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExtremeWindow } from './extreme-window.js';
import { SlidingWindow } from './sliding-window.js';

function brute(
  points: readonly [number, number][],
  sizeMs: number,
  maxPoints: number,
  agg: 'max' | 'min',
): number {
  const last = points.at(-1)?.[0] ?? 0;
  const kept = points
    .filter(([t]) => t > last - sizeMs)
    .slice(-maxPoints)
    .map(([, v]) => v + 0); // −0 counts as 0 (the window keeps it so: JSON snapshots cannot hold −0)
  return agg === 'max' ? Math.max(...kept) : Math.min(...kept);
}

const stream = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  { minLength: 1, maxLength: 400 },
);
const agg = fc.constantFrom<'max' | 'min'>('max', 'min');

describe('ExtremeWindow', () => {
  it('answers 0 for −0, before and after a snapshot (found by the property below: JSON drops the sign)', () => {
    const w = new ExtremeWindow(1, 1, 'max');
    w.push(0, -0);
    expect(Object.is(w.value(), 0)).toBe(true);
    const r = ExtremeWindow.restore(JSON.parse(JSON.stringify(w.snapshot())), 1, 1, 'max');
    expect(Object.is(r.value(), 0)).toBe(true);
  });

  it('equals brute force, and a snapshot restored midway goes on exactly like the original', () => {
    fc.assert(
      fc.property(
        stream,
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 300 }),
        agg,
        fc.nat(),
        (steps, sizeMs, maxPoints, a, cut) => {
          const w = new ExtremeWindow(sizeMs, maxPoints, a);
          let r: ExtremeWindow | undefined;
          const at = cut % steps.length;
          const points: [number, number][] = [];
          let t = 0;
          steps.forEach(([dt, x], i) => {
            t += dt;
            w.push(t, x);
            r?.push(t, x);
            points.push([t, x]);
            expect(w.value()).toBe(brute(points, sizeMs, maxPoints, a));
            if (r) expect(r.value()).toBe(w.value());
            if (i === at)
              r = ExtremeWindow.restore(JSON.parse(JSON.stringify(w.snapshot())), sizeMs, maxPoints, a);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("takes up a SlidingWindow's snapshot (a definition's state survives the change of operator)", () => {
    fc.assert(
      fc.property(
        stream,
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 300 }),
        agg,
        (steps, sizeMs, maxPoints, a) => {
          const old = new SlidingWindow(sizeMs, maxPoints);
          const half = Math.floor(steps.length / 2);
          const points: [number, number][] = [];
          let t = 0;
          for (const [dt, x] of steps.slice(0, half)) {
            t += dt;
            old.push(t, x);
            points.push([t, x]);
          }
          const w = ExtremeWindow.restore(JSON.parse(JSON.stringify(old.snapshot())), sizeMs, maxPoints, a);
          if (half > 0) expect(w.value()).toBe(brute(points, sizeMs, maxPoints, a));
          for (const [dt, x] of steps.slice(half)) {
            t += dt;
            w.push(t, x);
            points.push([t, x]);
            expect(w.value()).toBe(brute(points, sizeMs, maxPoints, a));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a handful of points for noisy readings, where a SlidingWindow keeps them all', () => {
    const w = new ExtremeWindow(600_000, 100_000, 'max');
    let seed = 1;
    for (let i = 0; i < 100_000; i++) {
      seed = (seed * 16807) % 2147483647;
      w.push(i * 50, 2 + seed / 2147483647);
    }
    // 12,000 readings in the window; the deque of a random stream holds about ln(12,000) ≈ 10.
    expect(w.kept).toBeLessThan(100);
    expect(w.value()).toBeGreaterThan(2.99);
  });

  it('restores nothing wrong from hostile snapshots, and never throws', () => {
    const hostile: unknown[] = [
      {},
      { t: 'x', v: [1] },
      { t: [1, 2], v: [3] },
      { seq: [-1, -1], t: [1, 2], v: [3, 4] },
      { seq: [0], t: [1], v: [1] },
      { seq: [-2, -1], t: [2, 1], v: [1, 2] },
      { seq: [-1], t: [Number.NaN], v: [1] },
      { seq: [-1], t: [1], v: ['1e400'] },
      { seq: [-1e300], t: [1], v: [1] },
      JSON.parse('{"__proto__": {"polluted": true}, "t": [1], "v": [1]}'),
      { t: new Array(10_000).fill(1), v: new Array(10_000).fill(1) },
    ];
    for (const s of hostile) {
      const w = ExtremeWindow.restore(s as Record<string, unknown>, 60_000, 100, 'max');
      expect(w.kept).toBeLessThanOrEqual(100);
      const v = w.value();
      expect(Number.isNaN(v) || Number.isFinite(v)).toBe(true);
      w.push(1_000_000, 5);
      expect(w.value()).toBe(5);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
