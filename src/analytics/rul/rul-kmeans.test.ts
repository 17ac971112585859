import { describe, expect, it } from 'vitest';
import { kmeans, kmeansAuto } from './rul-kmeans.js';
import { createRng } from './rul-random.js';
import { SIX_REGIMES } from './rul-test-fixture.js';

function standardised(points: number[][]): Float64Array {
  const d = points[0]!.length;
  const out = new Float64Array(points.length * d);
  for (let t = 0; t < d; t++) {
    const col = points.map((p) => p[t]!);
    const m = col.reduce((a, b) => a + b, 0) / col.length;
    const sd = Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length) || 1;
    col.forEach((v, i) => (out[i * d + t] = (v - m) / sd));
  }
  return out;
}

describe('k-means', () => {
  it('finds six separated clusters and chooses k = 6 (FD002-like settings)', () => {
    const rng = createRng(3);
    const pts: number[][] = [];
    const truth: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const r = rng.int(6);
      const c = SIX_REGIMES[r]!;
      pts.push([c[0] + 0.003 * (rng.next() - 0.5), c[1] + 0.0003 * (rng.next() - 0.5), c[2]]);
      truth.push(r);
    }
    const res = kmeansAuto(standardised(pts), 3, 1);
    expect(res.k).toBe(6);
    // every true regime maps to exactly one cluster
    const map = new Map<number, Set<number>>();
    truth.forEach((t, i) => {
      if (!map.has(t)) map.set(t, new Set());
      map.get(t)!.add(res.labels[i]!);
    });
    expect([...map.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set([...map.values()].map((s) => [...s][0])).size).toBe(6);
  });

  it('chooses k = 1 for the jitter of one operating condition (FD001-like settings)', () => {
    const rng = createRng(5);
    const pts: number[][] = [];
    for (let i = 0; i < 3000; i++) {
      const g = () => rng.next() + rng.next() + rng.next() - 1.5;
      pts.push([0.0022 * g(), 0.0003 * g()]);
    }
    const res = kmeansAuto(standardised(pts), 2, 1);
    expect(res.k).toBe(1);
    expect(res.silhouettes.length).toBeGreaterThan(0);
    expect(Math.max(...res.silhouettes.map((s) => s.silhouette))).toBeLessThan(0.7);
  });

  it('is deterministic for a seed and finds the centres of two blobs', () => {
    const pts = new Float64Array([0, 0, 0.1, 0, 0, 0.1, 10, 10, 10.1, 10, 10, 10.1]);
    const a = kmeans(pts, 2, 2, 42);
    const b = kmeans(pts, 2, 2, 42);
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    const cs = [Array.from(a.centroids.subarray(0, 2)), Array.from(a.centroids.subarray(2, 4))].sort(
      (p, q) => p[0]! - q[0]!,
    );
    expect(cs[0]![0]).toBeCloseTo(0.0333, 3);
    expect(cs[1]![0]).toBeCloseTo(10.0333, 3);
    expect(a.labels[0]).toBe(a.labels[1]);
    expect(a.labels[0]).not.toBe(a.labels[3]);
  });
});
