import { describe, expect, it } from 'vitest';
import {
  answerOf,
  answerSentence,
  limitChecks,
  spokenDuration,
  type TrajectoryLike,
} from './what-if-answer.js';

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
    (t.telemetry.vibration as (number | null)[])[1] = null;
    expect(limitChecks([t])[0]?.crossedAt).toBeUndefined();
    expect(limitChecks([{ twinId: 'x', times: [0], telemetry: { a: [1] }, properties: {} }])).toEqual([]);
  });

  it('says the earliest crossing in words, or that none was crossed within the horizon', () => {
    const crossed = limitChecks([pump('pump-3b', [1, 1, 1, 1]), pump('pump-3a', [2, 5, 7.2, 9])]);
    expect(answerSentence(crossed, 86400)).toBe('pump-3a crosses its vibrationLimit (> 7.1 mm/s) in 2 h.');
    const two = limitChecks([pump('pump-3c', [8, 8, 8, 8]), pump('pump-3a', [2, 5, 7.2, 9])]);
    expect(answerSentence(two, 86400)).toBe(
      'pump-3c crosses its vibrationLimit (> 7.1 mm/s) in 0 s; 1 more limit crossed within 24 h.',
    );
    expect(answerSentence(limitChecks([pump('pump-3b', [1, 1, 1, 1])]), 86400)).toBe(
      'No limit crossed within 24 h (1 limit checked).',
    );
    expect(answerSentence([], 3600)).toMatch(/^No limits to check/);
    expect(spokenDuration(21 * 3600)).toBe('21 h');
    expect(spokenDuration(75_600 + 1800)).toBe('21 h 30 min');
  });

  it("reads limits the behaviour does not map from the live twin, for the run's series only", () => {
    const t: TrajectoryLike = {
      twinId: 'pump-3a',
      times: Float64Array.from([0, 3600, 7200]),
      telemetry: { vibration: Float64Array.from([1, 3, 9]) },
      properties: {},
    };
    const asked: string[] = [];
    const a = answerOf({ id: 'w1', horizon: 7200 }, [t], (twin, name) => {
      asked.push(`${twin}.${name}`);
      return name === 'vibrationLimit' ? 7.1 : name === 'vibrationMin' ? 'not a number' : undefined;
    });
    expect(asked.sort()).toEqual(['pump-3a.vibrationLimit', 'pump-3a.vibrationMax', 'pump-3a.vibrationMin']);
    expect(a).toMatchObject({ id: 'w1', sentence: 'pump-3a crosses its vibrationLimit (> 7.1) in 2 h.' });
    expect(a.checks).toHaveLength(1);
  });
});
