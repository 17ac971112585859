import { describe, expect, it } from 'vitest';
import { workSlicer } from './work-slicer.js';

describe('workSlicer', () => {
  it('yields once a slice of work has run, and not before', async () => {
    let t = 0;
    let yields = 0;
    const pace = workSlicer({ sliceMs: 10, now: () => t, yieldNow: async () => void yields++ });
    for (let i = 0; i < 9; i++) {
      t += 1;
      await pace();
    }
    expect(yields).toBe(0);
    t += 1; // 10 ms of work since the start
    await pace();
    expect(yields).toBe(1);
    t += 5;
    await pace();
    expect(yields).toBe(1); // a new slice began at the yield
    t += 5;
    await pace();
    expect(yields).toBe(2);
  });

  it('lets a timer run during a long synchronous-looking loop', async () => {
    const pace = workSlicer({
      sliceMs: 5,
      now: () => performance.now(),
      yieldNow: () => new Promise((r) => setImmediate(r)),
    });
    let ticked = false;
    setTimeout(() => (ticked = true), 0);
    const end = performance.now() + 60;
    while (performance.now() < end && !ticked) {
      for (let s = performance.now(); performance.now() - s < 1;); // 1 ms of work
      await Promise.resolve(); // what awaiting a synchronous store does: microtasks only
      await pace();
    }
    expect(ticked).toBe(true);
  });
});
