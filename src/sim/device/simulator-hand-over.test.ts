import { describe, expect, it } from 'vitest';
import { handOverState } from './simulator-hand-over.js';

const names = new Set(['vibration', 'temperature', 'flow']);

function setup() {
  let t = 1_000_000;
  const logged: string[] = [];
  const h = handOverState({ handOverMs: 60_000, now: () => t, log: { info: (m) => logged.push(m) } });
  return { h, logged, advance: (ms: number) => (t += ms), now: () => t };
}

describe('the hand-over rule', () => {
  it("ignores the simulator's own readings (by their $ts) and derived values", () => {
    const { h } = setup();
    h.stamped('pump-3a', 500, ['vibration']);
    h.seen('pump-3a', 500, { vibration: 1.2 }, names, () => undefined);
    h.seen('pump-3a', 777, { vibrationResidual: 0.1 }, names, () => undefined);
    expect(h.list('pump-3a')).toEqual([]);
    expect(h.filter('pump-3a', { vibration: 1, flow: 2 })).toEqual({ vibration: 1, flow: 2 });
  });

  it('hands over only the names sent, renews with each reading, and gives them back when the time is up', () => {
    const { h, advance, now, logged } = setup();
    const taken: [string, unknown][] = [];
    h.seen('pump-3a', 999, { vibration: 7.4, current: 3 }, names, (n, v) => taken.push([n, v]));
    expect(taken).toEqual([['vibration', 7.4]]);
    expect(h.list('pump-3a')).toEqual([{ name: 'vibration', until: now() + 60_000 }]);
    expect(h.filter('pump-3a', { vibration: 1, flow: 2 })).toEqual({ flow: 2 });
    advance(50_000);
    h.seen('pump-3a', 1999, { vibration: 7.5 }, names, () => undefined); // renewed
    advance(50_000);
    expect(h.filter('pump-3a', { vibration: 1 })).toEqual({});
    expect(h.twins()).toBe(1);
    advance(11_000);
    expect(h.filter('pump-3a', { vibration: 1 })).toEqual({ vibration: 1 });
    expect(h.twins()).toBe(0);
    expect(logged.some((m) => m.includes('publishes all its telemetry again'))).toBe(true);
  });

  it('asks for the sent values to be repeated when a simulated reading of them crossed in flight', () => {
    const { h } = setup();
    h.stamped('pump-3a', 1000, ['vibration', 'flow']);
    h.stamped('pump-3a', 1200, ['dischargePressure']); // not a name sent: no crossing by itself
    // Sent at 990, committed after the simulator's 1000: the simulator's would stand as the latest.
    expect(h.seen('pump-3a', 990, { vibration: 7.4 }, names, () => undefined)).toEqual({
      repeatAfter: 1200,
      names: ['vibration'],
    });
    // Nothing crossed: a value sent after the simulator's last reading.
    expect(h.seen('pump-3a', 1300, { flow: 50 }, names, () => undefined)).toBeUndefined();
    // Old history sent with its own time (a backfill) is not repeated.
    expect(h.seen('pump-3a', -5000, { vibration: 5 }, names, () => undefined)).toBeUndefined();
  });

  it('gives a twin back at once on a command or a fault', () => {
    const { h } = setup();
    h.seen('pump-3a', 1, { vibration: 7.4, flow: 52 }, names, () => undefined);
    h.giveBack('pump-3a', 'fault bearingDamage');
    expect(h.list('pump-3a')).toEqual([]);
    expect(h.filter('pump-3a', { vibration: 1 })).toEqual({ vibration: 1 });
  });
});
