/**
 * Properties of derived values: a sliding window equals brute force over random streams (every
 * aggregate, with time and point bounds), and an engine snapshotted, serialised and restored midway
 * writes exactly what an engine left running writes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DerivedEngine } from './derived-engine.js';
import { PUMP, recordingSink, sets, testGraph } from './derived-test-fixture.js';
import { WINDOW_AGGREGATES } from './derived-types.js';
import { SlidingWindow } from './sliding-window.js';

function brute(points: readonly [number, number][], sizeMs: number, maxPoints: number, agg: string): number {
  const last = points.at(-1)?.[0] ?? 0;
  const kept = points
    .filter(([t]) => t > last - sizeMs)
    .slice(-maxPoints)
    .map(([, v]) => v);
  const n = kept.length;
  const mean = kept.reduce((a, b) => a + b, 0) / n;
  switch (agg) {
    case 'count':
      return n;
    case 'sum':
      return kept.reduce((a, b) => a + b, 0);
    case 'mean':
      return mean;
    case 'min':
      return Math.min(...kept);
    case 'max':
      return Math.max(...kept);
    default:
      return Math.sqrt(kept.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  }
}

const stream = fc.array(
  fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  { minLength: 1, maxLength: 400 },
);

describe('derived value properties', () => {
  it('a sliding window equals brute force over random streams', () => {
    fc.assert(
      fc.property(
        stream,
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom(...WINDOW_AGGREGATES),
        (steps, sizeMs, maxPoints, agg) => {
          const w = new SlidingWindow(sizeMs, maxPoints);
          const points: [number, number][] = [];
          let t = 0;
          for (const [dt, x] of steps) {
            t += dt;
            w.push(t, x);
            points.push([t, x]);
            const expected = brute(points, sizeMs, maxPoints, agg);
            const got = w.value(agg);
            // Sums carry rounding ~ n·ε·max|x|; a standard deviation near 0 is a square root of
            // such rounding, so it is accurate to about √ε of the values' range.
            const scale = Math.max(1, ...points.map(([, v]) => Math.abs(v)));
            const tol =
              agg === 'stddev' ? 1e-6 * scale : agg === 'sum' ? 1e-9 * scale * points.length : 1e-9 * scale;
            expect(Math.abs(got - expected)).toBeLessThanOrEqual(tol);
          }
          // The snapshot restores the same window.
          const r = SlidingWindow.restore(JSON.parse(JSON.stringify(w.snapshot())), sizeMs, maxPoints);
          expect(r.value(agg)).toBeCloseTo(w.value(agg), 6);
          expect(r.count).toBe(w.count);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('snapshot → JSON → restore midway gives the same writes as running on', () => {
    const defs = sets(`model: ${PUMP}
values:
  power: { expr: 'flow * head' }
  pMean: { tumbling: { of: power, size: 5s, aggregate: mean } }
  vMax: { sliding: { of: vibration, size: 4s, aggregate: max } }
  vStd: { sliding: { of: vibration, size: 4s, aggregate: stddev } }
  vEwma: { ewma: { of: vibration, halfLife: 3s } }
  fRate: { rate: { of: flow, per: s } }
  quiet: { since: { of: flow } }
  up: { expr: 'sum(feeds, flow)' }
`);
    const reading = fc.record({
      twin: fc.constantFrom('p1', 'p2'),
      dt: fc.integer({ min: 0, max: 2500 }),
      flow: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: undefined }),
      head: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
      vibration: fc.option(fc.double({ min: 0, max: 20, noNaN: true }), { nil: undefined }),
      tick: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(reading, { maxLength: 120 }), fc.nat(), (rs, cutAt) => {
        const cut = rs.length === 0 ? 0 : cutAt % rs.length;
        const run = (restoreAt: number | undefined) => {
          const sink = recordingSink();
          const context = testGraph();
          const make = () => new DerivedEngine({ sets: defs, context, sink, windowGraceMs: 500 });
          let e = make();
          let t = 0;
          rs.forEach((r, i) => {
            if (i === restoreAt) {
              const snap: unknown = JSON.parse(JSON.stringify(e.snapshot()));
              e = make();
              e.restore(snap as ReturnType<DerivedEngine['snapshot']>);
            }
            t += r.dt;
            const values: Record<string, number> = {};
            for (const k of ['flow', 'head', 'vibration'] as const) if (r[k] !== undefined) values[k] = r[k];
            e.observe({ workspace: 'w', twinId: r.twin, modelId: PUMP, time: t, values });
            if (r.tick) e.tick(t + 100);
          });
          return sink.writes;
        };
        const straight = run(undefined);
        const resumed = run(cut);
        expect(resumed).toEqual(straight);
      }),
      { numRuns: 150 },
    );
  });

  it('restore ignores hostile or mismatched snapshots', () => {
    const defs = sets(
      `model: ${PUMP}\nvalues:\n  vMax: { sliding: { of: vibration, size: 4s, aggregate: max } }`,
    );
    const sink = recordingSink();
    const e = new DerivedEngine({ sets: defs, context: testGraph(), sink });
    const hostile = JSON.parse(
      `{"version":1,"twins":[{"workspace":"w","twinId":"p1","modelId":"${PUMP}","latest":[["__proto__",1],["x","y"],["vibration",1e400]],"lastTime":{},"ops":[{"name":"vMax","signature":"sliding:vibration:4000:max:10000","state":{"t":[1,"a",0],"v":[5,6]}},{"name":"__proto__","signature":"x","state":null}]}]}`,
    ) as ReturnType<DerivedEngine['snapshot']>;
    e.restore(hostile);
    e.restore({ version: 2 } as never);
    e.restore(hostile);
    e.observe({ workspace: 'w', twinId: 'p1', modelId: PUMP, time: 2, values: { vibration: 1 } });
    expect(sink.writes).toEqual([{ twin: 'p1', time: 2, values: { vMax: 5 } }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.parse(JSON.stringify(e.snapshot()))).toEqual(e.snapshot());
  });
});
