/**
 * Test problems with known solutions, shared by the solver tests and bench/solver: exponential
 * decay, the harmonic oscillator, the logistic curve and Van der Pol (no closed form).
 */
import type { OdeRhs } from './ode-types.js';

export interface TestProblem {
  name: string;
  f: OdeRhs;
  t0: number;
  y0: number[];
  tEnd: number;
  /** Exact solution, when there is one: writes y(t) into out. */
  exact?: (t: number, out: Float64Array) => void;
}

export const DECAY_RATE = 0.7;
export const decay: TestProblem = {
  name: 'decay',
  f: (_t, y, d) => {
    d[0] = -DECAY_RATE * y[0]!;
  },
  t0: 0,
  y0: [1],
  tEnd: 10,
  exact: (t, out) => {
    out[0] = Math.exp(-DECAY_RATE * t);
  },
};

export const harmonic: TestProblem = {
  name: 'harmonic',
  f: (_t, y, d) => {
    d[0] = y[1]!;
    d[1] = -y[0]!;
  },
  t0: 0,
  y0: [1, 0],
  tEnd: 100,
  exact: (t, out) => {
    out[0] = Math.cos(t);
    out[1] = -Math.sin(t);
  },
};

const R = 1,
  K = 10,
  L0 = 0.1;
export const logistic: TestProblem = {
  name: 'logistic',
  f: (_t, y, d) => {
    d[0] = R * y[0]! * (1 - y[0]! / K);
  },
  t0: 0,
  y0: [L0],
  tEnd: 15,
  exact: (t, out) => {
    out[0] = K / (1 + (K / L0 - 1) * Math.exp(-R * t));
  },
};

export const VDP_MU = 10;
export const vanDerPol: TestProblem = {
  name: 'vanderpol-mu10',
  f: (_t, y, d) => {
    const x = y[0]!,
      v = y[1]!;
    d[0] = v;
    d[1] = VDP_MU * (1 - x * x) * v - x;
  },
  t0: 0,
  y0: [2, 0],
  tEnd: 100,
};
