import { describe, expect, it } from 'vitest';
import { RefitBudget } from './refit-budget.js';

describe('RefitBudget', () => {
  it('runs at most maxPerTick between ticks; the rest wait once per key and run oldest first', () => {
    let now = 0;
    const b = new RefitBudget<string>(2, () => now);
    const ran: string[] = [];
    const refit = (k: string) => () => {
      now += 5;
      ran.push(k);
    };
    for (const k of ['a', 'b', 'c', 'd', 'c', 'e']) b.due(k, k, refit(k));
    expect(ran).toEqual(['a', 'b']);
    expect(b.stats()).toEqual({ refits: 2, refitsDeferred: 3, refitsPending: 3, refitMs: 10 });
    // While some wait, a new due refit waits behind them even with budget left.
    b.tick((k) => (k === 'd' ? undefined : refit(k))); // d no longer applies: costs nothing
    expect(ran).toEqual(['a', 'b', 'c', 'e']);
    b.due('f', 'f', refit('f'));
    expect(ran).toEqual(['a', 'b', 'c', 'e']);
    b.cancel('f');
    b.tick(refit);
    expect(b.stats()).toMatchObject({ refits: 4, refitsPending: 0, refitMs: 20 });
    b.due('g', 'g', refit('g'));
    expect(ran.at(-1)).toBe('g');
  });

  it('a budget below one is one', () => {
    const b = new RefitBudget<string>(0);
    let n = 0;
    b.due('a', 'a', () => n++);
    expect(n).toBe(1);
  });
});
