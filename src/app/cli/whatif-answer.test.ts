import { describe, expect, it } from 'vitest';
import { limitChecks, type TrajectoryLike } from './whatif-answer.js';

const pump = (twinId: string, vibration: number[], limit = 7.1): TrajectoryLike => ({
  twinId,
  times: vibration.map((_, i) => i * 3600),
  telemetry: { vibration, temperature: vibration.map(() => 40) },
  properties: { vibrationLimit: vibration.map(() => limit) },
  units: { vibration: 'mm/s' },
});

describe('the what-if answer', () => {
  it('finds when each twin first crosses its <name>Limit, earliest first, with the peak', () => {
    const checks = limitChecks([
      pump('pump-3b', [1, 1.1, 1.2, 1.1]),
      pump('pump-3a', [2, 5, 7.2, 9]),
      pump('pump-3c', [6, 7.5, 7, 8]),
    ]);
    expect(checks.map((c) => [c.twinId, c.crossedAt, c.crossedValue, c.peak, c.peakAt])).toEqual([
      ['pump-3c', 3600, 7.5, 8, 10800],
      ['pump-3a', 7200, 7.2, 9, 10800],
      ['pump-3b', undefined, undefined, 1.2, 7200],
    ]);
    expect(checks[0]).toMatchObject({
      series: 'vibration',
      limitName: 'vibrationLimit',
      limit: 7.1,
      unit: 'mm/s',
    });
  });

  it('takes a limit from the live twin when the run has none, and lower limits from <name>Min', () => {
    const tank: TrajectoryLike = {
      twinId: 'tank-3',
      times: [0, 60, 120],
      telemetry: { level: [2, 1.2, 0.4] },
      properties: {},
    };
    const [c] = limitChecks([tank], { 'tank-3': { levelMin: 0.5, capacity: 9 } });
    expect(c).toMatchObject({ direction: 'below', limit: 0.5, crossedAt: 120, crossedValue: 0.4, peak: 0.4 });
  });

  it('ignores gaps (null) and twins without limits', () => {
    const t = pump('pump-1a', [1, 8, 2]);
    t.telemetry.vibration![1] = null;
    expect(limitChecks([t])[0]?.crossedAt).toBeUndefined();
    expect(limitChecks([{ twinId: 'x', times: [0], telemetry: { a: [1] }, properties: {} }])).toEqual([]);
  });
});
