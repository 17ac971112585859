import { describe, expect, it } from 'vitest';
import { OwnDerivedValues } from './own-derived-values.js';

describe('OwnDerivedValues', () => {
  it('knows a stored set once, when its event comes back, and forgets what never came back', async () => {
    const own = new OwnDerivedValues();
    const a = { values: { x: 1 } };
    const b = { values: { x: 2 } };
    const stored = own.storing([a, b], async (sets) => {
      expect(own.size).toBe(2);
      // a's event comes back on the bus before the store call settles; b was refused (no event).
      expect(own.take(a.values)).toBe(true);
      expect(own.take(a.values)).toBe(false);
      // Another set with equal values is not the run's own: identity, not equality.
      expect(own.take({ x: 1 })).toBe(false);
      return sets.length;
    });
    await expect(stored).resolves.toBe(2);
    expect(own.size).toBe(0);
    expect(own.take(b.values)).toBe(false);
  });

  it('forgets the sets of a store call that fails', async () => {
    const own = new OwnDerivedValues();
    const s = { values: { x: 1 } };
    await expect(own.storing([s], () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(own.size).toBe(0);
  });
});
