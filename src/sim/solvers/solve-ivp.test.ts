import { describe, expect, it } from 'vitest';
import { isTwinloopError } from '../../core/errors/errors.js';
import type { OdeRhs, SolverMethod } from './ode-types.js';
import { solveIvp, type SolveIvpOptions } from './solve-ivp.js';
import { decay, harmonic } from './test-problems.js';

const G = 9.81;
/** A ball dropped from 10 m: y = [height, velocity]. */
const ball: OdeRhs = (_t, y, d) => {
  d[0] = y[1]!;
  d[1] = -G;
};

const methods: [SolverMethod, SolveIvpOptions][] = [
  ['dopri5', { rtol: 1e-9, atol: 1e-12 }],
  ['rk4', { h: 0.01 }],
];

function thrown(fn: () => unknown): { code: string; message: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (e) {
    expect(isTwinloopError(e)).toBe(true);
    return e as { code: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected an error');
}

describe('solveIvp: output', () => {
  it('without tEval outputs t0 and every step end; with tEval exactly the requested times', () => {
    const all = solveIvp(decay.f, 0, [1], 10, { rtol: 1e-8 });
    expect(all.t[0]).toBe(0);
    expect(all.t[all.t.length - 1]).toBe(10);
    expect(all.t.length).toBe(all.stats.steps + 1);
    expect(all.y.length).toBe(all.t.length);
    const some = solveIvp(harmonic.f, 0, [1, 0], 10, { rtol: 1e-10, atol: 1e-13, tEval: [0, 2.5, 7, 10] });
    expect(Array.from(some.t)).toEqual([0, 2.5, 7, 10]);
    expect(some.row(2)[0]).toBeCloseTo(Math.cos(7), 8);
    expect(some.component(1)[1]).toBeCloseTo(-Math.sin(2.5), 8);
  });

  it('tEnd = t0 returns the initial state', () => {
    const sol = solveIvp(decay.f, 3, [2], 3);
    expect(Array.from(sol.t)).toEqual([3]);
    expect(Array.from(sol.yFinal)).toEqual([2]);
    expect(sol.status).toBe('completed');
  });
});

describe('solveIvp: zero-crossing events', () => {
  for (const [method, opts] of methods) {
    it(`${method}: a falling ball hits the floor at √(2h/g) (terminal)`, () => {
      const sol = solveIvp(ball, 0, [10, 0], 10, {
        ...opts,
        method,
        events: [{ name: 'floor', g: (_t, y) => y[0]!, direction: 'falling', terminal: true }],
      });
      const exact = Math.sqrt((2 * 10) / G);
      expect(sol.status).toBe('terminated');
      expect(sol.events).toHaveLength(1);
      const ev = sol.events[0]!;
      expect(ev).toMatchObject({ kind: 'crossing', name: 'floor', direction: 'falling', terminal: true });
      expect(Math.abs(ev.t - exact)).toBeLessThan(1e-9);
      expect(Math.abs(ev.y[1]! + G * exact)).toBeLessThan(1e-8); // impact velocity
      expect(sol.tFinal).toBe(ev.t);
      expect(sol.t[sol.t.length - 1]).toBe(ev.t);
    });
  }

  it('a tank fills to full: terminal event at the analytic time', () => {
    // level' = q - a·level; full at cap: t = -ln(1 - a·cap/q)/a.
    const q = 2,
      a = 0.1,
      cap = 15;
    const sol = solveIvp((_t, y, d) => void (d[0] = q - a * y[0]!), 0, [0], 1000, {
      rtol: 1e-10,
      atol: 1e-12,
      events: [{ name: 'full', g: (_t, y) => y[0]! - cap, direction: 'rising', terminal: true }],
    });
    const exact = -Math.log(1 - (a * cap) / q) / a;
    expect(sol.status).toBe('terminated');
    expect(Math.abs(sol.tFinal - exact)).toBeLessThan(1e-8);
    expect(sol.yFinal[0]).toBeCloseTo(cap, 8);
  });

  it('direction filters: cos t crosses zero 5× rising and 5× falling on [0, 10π]', () => {
    const g = (_t: number, y: Float64Array): number => y[0]!;
    const run = (direction: 'rising' | 'falling' | 'both') =>
      solveIvp(harmonic.f, 0, [1, 0], 10 * Math.PI, { rtol: 1e-10, atol: 1e-13, events: [{ g, direction }] })
        .events;
    const rising = run('rising');
    const falling = run('falling');
    const both = run('both');
    expect(rising).toHaveLength(5);
    expect(falling).toHaveLength(5);
    expect(both).toHaveLength(10);
    rising.forEach((e, k) => {
      expect(e.direction).toBe('rising');
      expect(Math.abs(e.t - (1.5 * Math.PI + 2 * Math.PI * k))).toBeLessThan(1e-8);
    });
    falling.forEach((e, k) => expect(Math.abs(e.t - (0.5 * Math.PI + 2 * Math.PI * k))).toBeLessThan(1e-8));
    for (let i = 1; i < both.length; i++) expect(both[i]!.t).toBeGreaterThan(both[i - 1]!.t);
  });

  it('non-terminal events do not stop the run; a terminal one stops at the first crossing', () => {
    const sol = solveIvp(harmonic.f, 0, [1, 0], 20, {
      rtol: 1e-9,
      events: [
        { name: 'x=0', g: (_t, y) => y[0]! },
        { name: 'v>0.5', g: (_t, y) => y[1]! - 0.5, direction: 'rising', terminal: true },
      ],
    });
    // v = -sin t rises through 0.5 first at t = π + π/6; x = cos t crosses 0 at π/2 before that.
    expect(sol.events.map((e) => e.name)).toEqual(['x=0', 'v>0.5']);
    expect(sol.tFinal).toBeCloseTo(Math.PI + Math.PI / 6, 8);
  });
});

describe('solveIvp: discrete events', () => {
  it('stops exactly at scheduled times and integrates on from the changed state', () => {
    // y' = -0.7 y with a dose of +1 at t = 1, 2, 3.
    const times: number[] = [];
    const dose = (t: number, y: Float64Array): void => {
      times.push(t);
      y[0]! += 1;
    };
    for (const [method, opts] of methods) {
      times.length = 0;
      const sol = solveIvp(decay.f, 0, [1], 4, {
        ...opts,
        method,
        discrete: [3, 1, 2].map((t) => ({ name: `dose@${t}`, t, action: dose })),
      });
      expect(times).toEqual([1, 2, 3]);
      let exact = 1;
      for (let k = 0; k < 3; k++) exact = exact * Math.exp(-0.7) + 1;
      exact *= Math.exp(-0.7);
      expect(Math.abs(sol.yFinal[0]! - exact)).toBeLessThan(method === 'rk4' ? 1e-9 : 1e-8);
      expect(sol.events.map((e) => e.t)).toEqual([1, 2, 3]);
      expect(sol.events[0]!.kind).toBe('discrete');
      // The run passes through t = 1 exactly, with the pre- and post-dose states.
      const at1 = Array.from(sol.t).flatMap((t, i) => (t === 1 ? [sol.row(i)[0]!] : []));
      expect(at1).toHaveLength(2);
      expect(at1[1]! - at1[0]!).toBeCloseTo(1, 12);
    }
  });

  it('tEval at a discrete time samples the state before the action; an action at t0 applies first', () => {
    const sol = solveIvp(decay.f, 0, [1], 2, {
      rtol: 1e-10,
      atol: 1e-13,
      tEval: [0, 1, 2],
      discrete: [
        { t: 0, action: (_t, y) => void (y[0] = 2) },
        { t: 1, action: (_t, y) => void (y[0]! += 1) },
      ],
    });
    expect(sol.row(0)[0]).toBe(1); // before the t0 action
    expect(sol.row(1)[0]).toBeCloseTo(2 * Math.exp(-0.7), 9); // left limit at t = 1
    expect(sol.row(2)[0]).toBeCloseTo((2 * Math.exp(-0.7) + 1) * Math.exp(-0.7), 9);
    expect(sol.events.map((e) => [e.t, e.y[0]])).toEqual([
      [0, 2],
      [1, expect.closeTo(2 * Math.exp(-0.7) + 1, 9)],
    ]);
  });

  it("an action returning 'stop' ends the run there", () => {
    const sol = solveIvp(decay.f, 0, [1], 10, { discrete: [{ t: 2.5, action: () => 'stop' }] });
    expect(sol.status).toBe('terminated');
    expect(sol.tFinal).toBe(2.5);
  });

  it('an action writing NaN is reported, not integrated', () => {
    const e = thrown(() =>
      solveIvp(decay.f, 0, [1], 10, { discrete: [{ t: 1, action: (_t, y) => void (y[0] = Number.NaN) }] }),
    );
    expect(e.code).toBe('ValidationFailed');
  });
});

describe('solveIvp: bad input and failures', () => {
  it('NaN in y0 names the component', () => {
    const e = thrown(() => solveIvp(decay.f, 0, [1, Number.NaN], 1));
    expect(e.code).toBe('ValidationFailed');
    expect(e.message).toMatch(/\/1: component 1 is NaN/);
  });

  it('tEnd < t0 is refused (forward integration only)', () => {
    expect(thrown(() => solveIvp(decay.f, 1, [1], 0)).code).toBe('BadRequest');
  });

  it('rtol <= 0, negative atol, non-finite t0, missing rk4 step, unknown method', () => {
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { rtol: 0 })).code).toBe('ValidationFailed');
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { rtol: -1e-6 })).message).toMatch(/rtol/);
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { atol: -1 })).message).toMatch(/atol/);
    expect(thrown(() => solveIvp(decay.f, Number.NaN, [1], 1)).message).toMatch(/t0/);
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { method: 'rk4' })).message).toMatch(/options\.h/);
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { method: 'euler' as SolverMethod })).code).toBe(
      'BadRequest',
    );
  });

  it('tEval out of range or unsorted, discrete time out of range, event without g', () => {
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { tEval: [0, 2] })).message).toMatch(/tEval\[1\]/);
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { tEval: [0.5, 0.2] })).message).toMatch(/ascending/);
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { discrete: [{ t: 5 }] })).message).toMatch(
      /discrete\[0\]/,
    );
    const noG = { g: undefined } as unknown as { g: () => number };
    expect(thrown(() => solveIvp(decay.f, 0, [1], 1, { events: [noG] })).message).toMatch(/events\[0\]/);
  });

  it('a solution blowing up (y′ = y², singular at t = 1) ends in an error with the time reached', () => {
    const e = thrown(() => solveIvp((_t, y, d) => void (d[0] = y[0]! * y[0]!), 0, [1], 2, { rtol: 1e-8 }));
    expect(e.code).toBe('BadRequest');
    expect(['stepUnderflow', 'maxSteps']).toContain(e.details?.reason);
    expect(e.details?.t as number).toBeGreaterThan(0.99);
    expect(e.details?.t as number).toBeLessThan(1.001); // the numerical solution may pass t = 1 by its error
  });

  it('a right-hand side returning NaN ends in an error, not an endless loop', () => {
    const f: OdeRhs = (t, _y, d) => void (d[0] = t > 0.5 ? Number.NaN : 1);
    const e = thrown(() => solveIvp(f, 0, [0], 1));
    expect(e.details?.reason).toBe('stepUnderflow');
    expect(e.details?.t as number).toBeLessThanOrEqual(0.5);
  });

  it('maxSteps is enforced with the time reached', () => {
    const e = thrown(() => solveIvp(harmonic.f, 0, [1, 0], 100, { rtol: 1e-10, maxSteps: 50 }));
    expect(e.details).toMatchObject({ reason: 'maxSteps' });
    expect(e.details?.t as number).toBeGreaterThan(0);
    expect(e.details?.t as number).toBeLessThan(100);
  });
});
