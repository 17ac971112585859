import { describe, expect, it } from 'vitest';
import { TurnBatcher } from './turn-batcher.js';

describe('TurnBatcher', () => {
  it('runs the items of one turn together, once, and the next turn separately', async () => {
    const runs: number[][] = [];
    const b = new TurnBatcher<number>(async (items) => {
      runs.push([...items]);
      await Promise.resolve();
    });
    const first = [b.add(1), b.add(2), b.add(3)];
    await Promise.all(first);
    await b.add(4);
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });

  it("rejects every waiter of a failed run, and the next turn's run is independent", async () => {
    let fail = true;
    const b = new TurnBatcher<string>(async () => {
      await Promise.resolve();
      if (fail) throw new Error('disk full');
    });
    const results = await Promise.allSettled([b.add('a'), b.add('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(b.add('c')).resolves.toBeUndefined();
  });

  it('splits a turn into runs of at most the limit, each waiter waiting only for its own run', async () => {
    const runs: number[][] = [];
    const release: (() => void)[] = [];
    const b = new TurnBatcher<number>(
      (items) =>
        new Promise<void>((r) => {
          runs.push([...items]);
          release.push(r);
        }),
      10,
      (n) => n,
    );
    const done: number[] = [];
    const all = [4, 5, 3, 20, 1].map((n) => b.add(n).then(() => done.push(n)));
    await new Promise((r) => setImmediate(r));
    expect(runs).toEqual([[4, 5], [3], [20], [1]]); // 4+5 ≤ 10; 3 would pass it; 20 alone; then 1
    release[2]!();
    await new Promise((r) => setImmediate(r));
    expect(done).toEqual([20]);
    for (const r of release) r();
    await Promise.all(all);
    expect(done.sort((x, y) => x - y)).toEqual([1, 3, 4, 5, 20]);
  });

  it('a synchronous throw in run rejects the waiters instead of escaping', async () => {
    const b = new TurnBatcher<number>(() => {
      throw new Error('sync');
    });
    await expect(b.add(1)).rejects.toThrow('sync');
  });
});
