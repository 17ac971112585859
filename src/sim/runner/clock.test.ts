/** The virtual clock's ordering and the real-time adapter over injected host timers. */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { createRealClock, VirtualClock } from './clock.js';

describe('VirtualClock', () => {
  it('fires due timers in time order (ties in set order) with now() at their due time', () => {
    const clock = new VirtualClock(100);
    const fired: string[] = [];
    clock.setTimer(50, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(5, () => fired.push(`a2@${clock.now()}`)); // set while firing, still due
    });
    clock.setTimer(50, () => fired.push(`c@${clock.now()}`));
    const gone = clock.setTimer(20, () => fired.push('cancelled'));
    clock.clearTimer(gone);
    clock.advance(49);
    expect(fired).toEqual(['a@110', 'a2@115']);
    expect(clock.now()).toBe(149);
    clock.advanceTo(150);
    expect(fired).toEqual(['a@110', 'a2@115', 'b@150', 'c@150']);
    expect(clock.pending).toBe(0);
  });

  it('refuses going back and bad delays', () => {
    const clock = new VirtualClock(10);
    expect(() => clock.advanceTo(5)).toThrow(TwinloopError);
    expect(() => clock.setTimer(-1, () => undefined)).toThrow(/delay/);
    expect(() => clock.setTimer(Number.NaN, () => undefined)).toThrow(/delay/);
  });
});

describe('createRealClock', () => {
  it('delegates to the injected host timers and cancels through them', () => {
    let now = 1_000;
    const host = new Map<number, () => void>();
    let next = 0;
    const clock = createRealClock<number>({
      now: () => now,
      setTimeout: (fn) => {
        host.set(++next, fn);
        return next;
      },
      clearTimeout: (h) => host.delete(h),
    });
    const fired: number[] = [];
    clock.setTimer(10, () => fired.push(1));
    const h2 = clock.setTimer(20, () => fired.push(2));
    clock.clearTimer(h2);
    expect([...host.keys()]).toEqual([1]);
    now = 1_010;
    host.get(1)?.();
    expect(fired).toEqual([1]);
    expect(clock.now()).toBe(1_010);
    clock.clearTimer(h2); // already cleared: ignored
    expect(() => clock.setTimer(-5, () => undefined)).toThrow(/delay/);
  });
});
