import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addReading,
  BUFFER_POINTS,
  bufferFromJson,
  bufferShape,
  bufferSize,
  forecastBuffer,
  MIN_FIT_POINTS,
  type ForecastBuffer,
} from './forecast-buffer.js';

const H = 3_600_000;

describe('forecast buffer', () => {
  it('averages readings into cells of history / 512, keeping their mean time and value', () => {
    const shape = bufferShape(512_000); // cells of 1 s
    expect(shape).toEqual({ historyMs: 512_000, spacingMs: 1000 });
    let b: ForecastBuffer | undefined;
    for (const [t, v] of [
      [100, 1],
      [300, 3],
      [900, 5], // same cell
      [1500, 10], // next cell
      [1200, 99], // older than the newest cell's readings but in it: averaged in
      [400, 7], // an older cell: ignored
    ] as const)
      b = addReading(b, shape, t, v);
    const [t0, v0, t1, v1] = b!.points;
    expect(t0).toBeCloseTo(1300 / 3, 9);
    expect([v0, t1, v1]).toEqual([3, 1350, 54.5]);
    expect(b!.lastCount).toBe(2);
    expect(b!.lastTime).toBe(1500);
    expect(addReading(b, shape, NaN, 1)).toBe(b);
    expect(addReading(b, shape, 2000, Infinity)!.points).toHaveLength(4);
  });

  it('keeps at most 512 cells and drops those older than the history, whatever the rate', () => {
    const shape = bufferShape(H);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 100, max: 3000 }), (gap, n) => {
        let b: ForecastBuffer | undefined;
        for (let i = 0; i < n; i++) b = addReading(b, shape, i * gap, i);
        expect(bufferSize(b)).toBeLessThanOrEqual(BUFFER_POINTS);
        const p = b!.points;
        expect(p[0]!).toBeGreaterThanOrEqual((n - 1) * gap - shape.historyMs - shape.spacingMs);
        for (let i = 2; i < p.length; i += 2) expect(p[i]!).toBeGreaterThan(p[i - 2]!);
      }),
      { numRuns: 50 },
    );
  });

  it('forecasts a ramp exactly from readings at any rate, counting the horizon from `from`', () => {
    for (const gap of [1000, 10_000, 60_000, 300_000]) {
      const shape = bufferShape(4 * H);
      let b: ForecastBuffer | undefined;
      const last = 6 * H;
      for (let t = 0; t <= last; t += gap) b = addReading(b, shape, t, 2 + t / H);
      const f = forecastBuffer(b, shape, H, { from: last, trends: ['N', 'A'] })!;
      expect(f.fitted.model).toBe('ETS(A,A,N)');
      expect(f.points.at(-1)!.time).toBeGreaterThanOrEqual(last + H);
      for (const p of f.points) expect(p.value).toBeCloseTo(2 + p.time / H, 6);
    }
  });

  it('fits nothing before 16 cells hold readings', () => {
    const shape = bufferShape(H);
    let b: ForecastBuffer | undefined;
    for (let i = 0; i < MIN_FIT_POINTS - 1; i++) b = addReading(b, shape, i * shape.spacingMs, i);
    expect(forecastBuffer(b, shape, H)).toBeUndefined();
    b = addReading(b, shape, MIN_FIT_POINTS * shape.spacingMs, 1);
    expect(forecastBuffer(b, shape, H)).toBeDefined();
    expect(forecastBuffer(undefined, shape, H)).toBeUndefined();
  });

  it('reads back only sound buffers from JSON', () => {
    expect(bufferFromJson({ points: [1, 2, 3, 4], lastCount: 2, lastTime: 3 })).toEqual({
      points: [1, 2, 3, 4],
      lastCount: 2,
      lastTime: 3,
    });
    for (const bad of [
      null,
      [],
      { points: [], lastCount: 1, lastTime: 1 },
      { points: [1, 2, 3], lastCount: 1, lastTime: 1 },
      { points: [3, 2, 1, 4], lastCount: 1, lastTime: 1 },
      { points: [1, 2, 1, 4], lastCount: 1, lastTime: 1 },
      { points: [1, '2'], lastCount: 1, lastTime: 1 },
      { points: [1, 2], lastCount: 0, lastTime: 1 },
      { points: [1, 2], lastCount: 1.5, lastTime: 1 },
      { points: [1, 2], lastCount: 1, lastTime: NaN },
      { points: Array.from({ length: 2 * BUFFER_POINTS + 2 }, (_, i) => i), lastCount: 1, lastTime: 1 },
      Object.create({ points: [1, 2], lastCount: 1, lastTime: 1 }) as unknown,
    ])
      expect(bufferFromJson(bad)).toBeUndefined();
  });
});
