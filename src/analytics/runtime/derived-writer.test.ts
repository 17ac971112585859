import { describe, expect, it } from 'vitest';
import { DerivedWriter } from './derived-writer.js';

describe('DerivedWriter', () => {
  it('merges values of one twin and time into one write, in the background', async () => {
    const calls: [string, string, number, Record<string, number>][] = [];
    let appends = 0;
    const w = new DerivedWriter({
      write: async (sets) => {
        appends++;
        for (const s of sets) calls.push([s.workspace, s.twinId, s.time, s.values]);
        return { refused: [] };
      },
    });
    w.write('w', 'p1', 10, { a: 1 });
    w.write('w', 'p1', 10, { b: 2 });
    w.write('w', 'p2', 10, { a: 3 });
    expect(calls).toHaveLength(0);
    await w.flush();
    expect(calls).toEqual([
      ['w', 'p1', 10, { a: 1, b: 2 }],
      ['w', 'p2', 10, { a: 3 }],
    ]);
    expect(appends).toBe(1); // one store call for the turn
    expect(w.stats()).toMatchObject({ written: 3, failed: 0 });
  });

  it('merges a twin and time written again later in the turn; groups by workspace then twin; each turn starts empty', async () => {
    const batches: [string, string, number, Record<string, number>][][] = [];
    const w = new DerivedWriter({
      schedule: () => undefined, // flushed by hand below
      write: async (sets) => {
        batches.push(sets.map((s) => [s.workspace, s.twinId, s.time, s.values]));
        return { refused: [] };
      },
    });
    w.write('w', 'p1', 10, { a: 1 });
    w.write('w', 'p2', 10, { a: 2 });
    w.write('v', 'p1', 10, { a: 3 });
    w.write('w', 'p1', 11, { a: 4 });
    w.write('w', 'p1', 10, { b: 5 });
    await w.flush();
    w.write('w', 'p2', 12, { c: 6 });
    await w.flush();
    await w.flush(); // nothing left
    expect(batches).toEqual([
      [
        ['w', 'p1', 10, { a: 1, b: 5 }],
        ['w', 'p1', 11, { a: 4 }],
        ['w', 'p2', 10, { a: 2 }],
        ['v', 'p1', 10, { a: 3 }],
      ],
      [['w', 'p2', 12, { c: 6 }]],
    ]);
    expect(w.stats()).toMatchObject({ written: 6, failed: 0, dropped: 0 });
  });

  it('takes a merged set whole (writeSet): same object, same turn, before the merged ones; bounded; non-finite values go through write', async () => {
    const batches: [string, string, number, Record<string, number>][][] = [];
    const w = new DerivedWriter({
      schedule: () => undefined, // flushed by hand below
      maxPendingSets: 3,
      write: async (sets) => {
        batches.push(sets.map((s) => [s.workspace, s.twinId, s.time, s.values]));
        return { refused: [] };
      },
    });
    const whole = JSON.parse('{"a":1,"__proto__":2}') as Record<string, number>;
    w.write('w', 'p2', 10, { c: 3 });
    w.writeSet('w', 'p1', 10, whole);
    w.writeSet('w', 'p3', 10, { a: Number.NaN, b: 4 }); // merged: only b is kept
    w.writeSet('w', 'p4', 10, { a: 5 }); // past maxPendingSets (3): dropped, counted
    w.writeSet('w', 'p5', 10, {}); // nothing to store
    await w.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]![0]![3]).toBe(whole); // taken over, not copied
    expect(Object.getPrototypeOf(batches[0]![0]![3])).toBe(Object.prototype);
    expect(batches[0]!.map(([ws, id, t, v]) => [ws, id, t, { ...v }])).toEqual([
      ['w', 'p1', 10, whole],
      ['w', 'p2', 10, { c: 3 }],
      ['w', 'p3', 10, { b: 4 }],
    ]);
    expect(w.stats()).toEqual({ written: 4, failed: 0, dropped: 1, nonFinite: 1 });
  });

  it('skips non-finite values, keeps __proto__ as data, counts failures and overflow without throwing', async () => {
    const errors: unknown[] = [];
    const seen: Record<string, number>[] = [];
    const w = new DerivedWriter({
      maxPendingSets: 2,
      write: async (sets) => {
        const refused: { index: number; error: unknown }[] = [];
        sets.forEach((s, index) => {
          if (s.twinId === 'gone') refused.push({ index, error: new Error('no twin') });
          else seen.push(s.values);
        });
        return { refused };
      },
      onError: (e) => errors.push(e),
    });
    const hostile = JSON.parse('{"__proto__": 5, "ok": 1}') as Record<string, number>;
    w.write('w', 'p', 1, { ...hostile, nan: NaN, inf: Infinity });
    w.write('w', 'gone', 1, { a: 1 });
    w.write('w', 'third', 1, { a: 1 }); // over the bound
    await w.flush();
    expect(seen).toHaveLength(1);
    expect(Object.getPrototypeOf(seen[0])).toBe(Object.prototype);
    expect(Object.keys(seen[0] as object).sort()).toEqual(['__proto__', 'ok']);
    expect(w.stats()).toEqual({ written: 2, failed: 1, dropped: 1, nonFinite: 2 });
    expect(errors).toHaveLength(1);
  });

  it('counts a failed append as failed for every value in it, and goes on', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const w = new DerivedWriter({
      write: async () => {
        if (fail) throw new Error('disk full');
        return { refused: [] };
      },
      onError: (e) => errors.push(e),
    });
    w.write('w', 'p', 1, { a: 1, b: 2 });
    await w.flush();
    expect(w.stats()).toMatchObject({ written: 0, failed: 2 });
    fail = false;
    w.write('w', 'p', 2, { a: 1 });
    await w.flush();
    expect(w.stats()).toMatchObject({ written: 1, failed: 2 });
    expect(errors).toHaveLength(1);
  });
});
