import { describe, expect, it } from 'vitest';
import { mergeReadings, type SceneValues } from './scene-state.js';

describe("a scene's latest values", () => {
  it('merges a batch: newer readings win, older ones never replace them, in any order', () => {
    const empty: SceneValues = new Map();
    const v = mergeReadings(empty, [
      { twinId: 'p1', time: 2000, values: { vibration: 2 } },
      { twinId: 'p1', time: 1000, values: { vibration: 1, flow: 10 } }, // older: flow is new, vibration is not
      { twinId: 'p2', time: 500, values: { level: 0.5 } },
    ]);
    expect(v.get('p1')?.get('vibration')).toEqual({ value: 2, time: 2000 });
    expect(v.get('p1')?.get('flow')).toEqual({ value: 10, time: 1000 });
    expect(v.get('p2')?.get('level')).toEqual({ value: 0.5, time: 500 });
    expect(empty.size).toBe(0); // the input is not changed
    const w = mergeReadings(v, [{ twinId: 'p1', time: 3000, values: { vibration: 3 } }]);
    expect(w.get('p1')?.get('vibration')?.value).toBe(3);
    expect(v.get('p1')?.get('vibration')?.value).toBe(2);
    expect(w.get('p2')).toBe(v.get('p2')); // an untouched twin is shared, not copied
  });

  it('answers the same object when nothing is newer (no render)', () => {
    const v = mergeReadings(new Map(), [{ twinId: 'p1', time: 2000, values: { vibration: 2 } }]);
    expect(mergeReadings(v, [{ twinId: 'p1', time: 1000, values: { vibration: 1 } }])).toBe(v);
    expect(mergeReadings(v, [])).toBe(v);
  });

  it('takes hostile names as data', () => {
    const v = mergeReadings(new Map(), [
      {
        twinId: '__proto__',
        time: 1,
        values: JSON.parse('{"__proto__": 1, "constructor": 2}') as Record<string, unknown>,
      },
    ]);
    expect(v.get('__proto__')?.get('__proto__')?.value).toBe(1);
    expect(v.get('__proto__')?.get('constructor')?.value).toBe(2);
  });
});
