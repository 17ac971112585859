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

  it('a synchronous throw in run rejects the waiters instead of escaping', async () => {
    const b = new TurnBatcher<number>(() => {
      throw new Error('sync');
    });
    await expect(b.add(1)).rejects.toThrow('sync');
  });
});
