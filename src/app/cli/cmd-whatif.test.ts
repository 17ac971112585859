import { describe, expect, it } from 'vitest';
import type { WhatIfJob } from '../../sim/whatif/what-if-types.js';
import { answerText, parseEventFlag, progressBar, whatIfRequest } from './cmd-whatif.js';

const job: WhatIfJob = {
  id: 'j1',
  status: 'running',
  progress: 0.5,
  simulatedSeconds: 43_200,
  horizon: 86_400,
  sampleInterval: 172.8,
  method: 'rk4',
  step: 1,
  twins: ['pump-3a', 'pump-3b'],
  skipped: [],
  createdAt: '2026-12-02T10:00:00.000Z',
};

describe('twinloop whatif', () => {
  it('draws a progress bar with the simulated time', () => {
    expect(progressBar(job, 10)).toBe('[#####.....]  50%  12 h of 24 h simulated');
  });

  it('builds the request from flags, defaulting the horizon to 24 h', () => {
    expect(
      whatIfRequest(undefined, {
        root: 'line-3',
        fault: ['1h pump-3a bearingDamage'],
        command: ['2h pump-3c setRunning false'],
        timeout: '10min',
      }),
    ).toEqual({
      root: 'line-3',
      horizon: '24h',
      events: [
        { at: '1h', twin: 'pump-3a', fault: 'bearingDamage' },
        { at: '2h', twin: 'pump-3c', command: 'setRunning', payload: false },
      ],
    });
    expect(parseEventFlag('command', '5min pump-1a setpoint {"a": 1}')).toEqual({
      at: '5min',
      twin: 'pump-1a',
      command: 'setpoint',
      payload: { a: 1 },
    });
    expect(() => whatIfRequest(undefined, { fault: [], command: [], timeout: '1min' })).toThrow(/--root/);
  });

  it('says when nothing crosses a limit, and when there is nothing to check', () => {
    const done = { ...job, status: 'succeeded' as const, progress: 1 };
    const within = answerText(
      done,
      [
        {
          twinId: 'pump-3b',
          series: 'vibration',
          limitName: 'vibrationLimit',
          direction: 'above',
          limit: 7.1,
          peak: 1.2,
          peakAt: 0,
        },
      ],
      'http://h',
    );
    expect(within).toContain('No limit crossed within 24 h.');
    expect(within).toContain('Within limits: pump-3b vibration (peak 1.2, limit > 7.1)');
    expect(within).toContain('http://h/simulations/j1/trajectories');
    expect(answerText(done, [], 'http://h')).toContain('No limits to check');
  });
});
