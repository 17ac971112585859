/**
 * Report by exception: what is stored and published of a derived series, on streams with known
 * answers (deadband, heartbeat, threshold, time going back), and hostile names.
 */
import { describe, expect, it } from 'vitest';
import { ReportFilter, type ReportPolicy } from './report-filter.js';

const S = 1000;
const band: ReportPolicy = { deadband: 0.1, heartbeatMs: 60 * S };

function filterOf(policies: Record<string, ReportPolicy>, twins: string[] = ['p1']) {
  const asked: string[] = [];
  const f = new ReportFilter((ws, id) => {
    asked.push(`${ws}/${id}`);
    return twins.includes(id) ? new Map(Object.entries(policies)) : undefined;
  });
  return { f, asked };
}

describe('ReportFilter', () => {
  it('reports the first value, then only moves beyond the deadband or after the heartbeat', () => {
    const { f } = filterOf({ x: band });
    const seen = [
      [0, 1.0], // first: reported
      [1, 1.05], // within 0.1 of 1.0: held
      [2, 1.08], // still within the deadband of the last report: held
      [3, 1.2], // moved 0.2 from 1.0: reported
      [4, 1.15], // within 0.1 of 1.2: held
      [64, 1.15], // 61 s after the last report: the heartbeat
      [65, 1.0], // moved 0.15: reported
    ].map(([t, v]) => f.reportable('ws', 'p1', t! * S, { x: v! })?.x);
    expect(seen).toEqual([1.0, undefined, undefined, 1.2, undefined, 1.15, 1.0]);
    expect(f.stats()).toEqual({ reported: 4, held: 3 });
  });

  it('reports a value at or above atOrAbove every time (an anomaly score at its threshold)', () => {
    const { f } = filterOf({ s: { deadband: 0.05, heartbeatMs: 300 * S, atOrAbove: 0.8 } });
    const out = [0.1, 0.12, 0.81, 0.82, 0.83, 0.5, 0.52].map(
      (v, i) => f.reportable('ws', 'p1', i * S, { s: v })?.s,
    );
    expect(out).toEqual([0.1, undefined, 0.81, 0.82, 0.83, 0.5, undefined]);
  });

  it('keeps values without a policy, and gives back the same object when nothing is held', () => {
    const { f } = filterOf({ x: band });
    const first = { x: 1, other: 5 };
    expect(f.reportable('ws', 'p1', 0, first)).toBe(first);
    const second = { x: 1.01, other: 6 };
    const r = f.reportable('ws', 'p1', S, second);
    expect(r).toEqual({ other: 6 });
    expect(r).not.toBe(second);
    expect(second).toEqual({ x: 1.01, other: 6 }); // never changed in place
    expect(f.reportable('ws', 'p1', 2 * S, { x: 1.02 })).toBeUndefined();
  });

  it('reports everything of a twin without policies, asking for its policies once', () => {
    const { f, asked } = filterOf({ x: band }, []);
    for (let i = 0; i < 5; i++) expect(f.reportable('ws', 'other', i * S, { x: 1 })).toEqual({ x: 1 });
    expect(asked).toEqual(['ws/other']);
    expect(f.stats()).toEqual({ reported: 5, held: 0 });
  });

  it('keeps series apart per workspace, twin and name', () => {
    const { f } = filterOf({ x: band, y: band }, ['p1', 'p2']);
    expect(f.reportable('a', 'p1', 0, { x: 1, y: 2 })).toEqual({ x: 1, y: 2 });
    expect(f.reportable('a', 'p2', 0, { x: 1.01 })).toEqual({ x: 1.01 }); // another twin: its first
    expect(f.reportable('b', 'p1', 0, { x: 1.01 })).toEqual({ x: 1.01 }); // another workspace
    expect(f.reportable('a', 'p1', S, { x: 1.01, y: 2.5 })).toEqual({ y: 2.5 });
  });

  it('says again a value earlier than the last report (a replay), and starts afresh after forgetTwin', () => {
    const { f } = filterOf({ x: band });
    expect(f.reportable('ws', 'p1', 10 * S, { x: 1 })).toEqual({ x: 1 });
    expect(f.reportable('ws', 'p1', 5 * S, { x: 1 })).toEqual({ x: 1 });
    expect(f.reportable('ws', 'p1', 6 * S, { x: 1 })).toBeUndefined();
    f.forgetTwin('ws', 'p1');
    expect(f.reportable('ws', 'p1', 7 * S, { x: 1 })).toEqual({ x: 1 });
  });

  it('treats hostile names as data: __proto__ and constructor never touch a prototype', () => {
    const { f } = filterOf({ ['__proto__']: band, constructor: band });
    const v: Record<string, number> = {};
    Object.defineProperty(v, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
    v.constructor = 2 as never;
    v.toString = 3 as never;
    expect(f.reportable('ws', 'p1', 0, v)).toBe(v);
    const w: Record<string, number> = {};
    Object.defineProperty(w, '__proto__', { value: 5, enumerable: true, writable: true, configurable: true });
    w.constructor = 2.01 as never;
    const r = f.reportable('ws', 'p1', S, w)!;
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(Object.keys(r)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(r, '__proto__')?.value).toBe(5);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('treats a non-finite stored value as moved: NaN never silences a series', () => {
    const { f } = filterOf({ x: band });
    expect(f.reportable('ws', 'p1', 0, { x: NaN })).toBeDefined();
    expect(f.reportable('ws', 'p1', S, { x: 1 })).toEqual({ x: 1 });
  });
});
