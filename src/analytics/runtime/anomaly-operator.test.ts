import { describe, expect, it } from 'vitest';
import type { AlarmConditionCleared, AlarmRaise, TelemetryObservation } from '../analytics-types.js';
import type { StreamDetector } from './anomaly-operator.js';
import { AnomalyOperator } from './anomaly-operator.js';

/** A detector whose score is |value - mean of what it saw| / 10, capped at 1: simple and exact. */
class MeanDistance implements StreamDetector {
  n = 0;
  sum = 0;
  score(_t: number, v: number): number {
    const mean = this.n ? this.sum / this.n : v;
    this.n++;
    this.sum += v;
    return Math.min(1, Math.abs(v - mean) / 10);
  }
}

const obs = (
  twinId: string,
  time: number,
  values: Record<string, unknown>,
  modelId = 'dtmi:x:Pump;1',
): TelemetryObservation => ({
  workspace: 'w',
  twinId,
  modelId,
  time,
  values,
});

function setup(extra: Partial<ConstructorParameters<typeof AnomalyOperator>[0]> = {}) {
  const written: [string, number, Record<string, number>][] = [];
  const raised: AlarmRaise[] = [];
  const cleared: AlarmConditionCleared[] = [];
  const op = new AnomalyOperator({
    streamsOf: (_ws, m) => (m === 'dtmi:x:Pump;1' ? ['vibration'] : undefined),
    createDetector: () => new MeanDistance(),
    sink: { write: (_ws, id, t, v) => written.push([id, t, { ...v }]) },
    alarms: { raise: (a) => raised.push(a), conditionCleared: (c) => cleared.push(c) },
    threshold: 0.9,
    clearBelow: 0.5,
    quietMs: 100,
    ...extra,
  });
  return { op, written, raised, cleared };
}

describe('AnomalyOperator', () => {
  it('scores the configured streams of the configured models, beside the source', () => {
    const { op, written } = setup();
    op.observe(obs('p1', 1, { vibration: 2, temperature: 50 }));
    op.observe(obs('p1', 2, { vibration: 4 }));
    op.observe(obs('v1', 2, { vibration: 4 }, 'dtmi:x:Valve;1'));
    op.observe(obs('p1', 3, { vibration: 'loud', temperature: 1 }));
    op.observe(obs('p1', 4, { vibration: Number.NaN }));
    expect(written).toEqual([
      ['p1', 1, { vibrationAnomalyScore: 0 }],
      ['p1', 2, { vibrationAnomalyScore: 0.2 }],
    ]);
    expect(op.stats()).toMatchObject({ streams: 1, scored: 2 });
  });

  it('raises once at the threshold and clears after the quiet time, with the rule id and value', () => {
    const { op, raised, cleared } = setup();
    for (let t = 0; t < 10; t++) op.observe(obs('p1', t, { vibration: 0 }));
    op.observe(obs('p1', 10, { vibration: 50 })); // score 1
    op.observe(obs('p1', 11, { vibration: 60 })); // still high: no second raise
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({
      twinId: 'p1',
      ruleId: 'anomaly.vibration',
      severity: 'warning',
      value: 50,
      time: 10,
    });
    // Back to normal-ish values (the mean is now ~9): quiet from t=20, cleared once 100 ms of quiet passed.
    op.observe(obs('p1', 20, { vibration: 9 }));
    op.observe(obs('p1', 90, { vibration: 9 }));
    expect(cleared).toHaveLength(0);
    op.observe(obs('p1', 120, { vibration: 9 }));
    expect(cleared).toEqual([
      expect.objectContaining({ twinId: 'p1', ruleId: 'anomaly.vibration', time: 120 }),
    ]);
  });

  it('takes up its alarms open from before a restart: quiet scores clear them, no second raise', () => {
    const { op, raised, cleared } = setup();
    op.observe(obs('p2', 0, { vibration: 5 })); // a stream that exists already
    const n = op.resumeOpen([
      { workspace: 'w', twinId: 'p1', ruleId: 'anomaly.vibration' }, // its stream comes later
      { workspace: 'w', twinId: 'p2', ruleId: 'anomaly.vibration' },
      { workspace: 'w', twinId: 'p1', ruleId: 'vib-high' }, // a rule's: not the detectors'
    ]);
    expect(n).toBe(2);
    for (const t of [10, 60, 120]) {
      op.observe(obs('p1', t, { vibration: 5 }));
      op.observe(obs('p2', t, { vibration: 5 }));
    }
    expect(raised).toHaveLength(0);
    expect(cleared.map((c) => [c.twinId, c.ruleId, c.time])).toEqual([
      ['p1', 'anomaly.vibration', 120],
      ['p2', 'anomaly.vibration', 120],
    ]);
  });

  it('warms a new stream from its history before scoring, holding readings meanwhile', async () => {
    const asked: [string, string, number, number][] = [];
    let release: (v: { time: number; value: number }[]) => void = () => {};
    const { op, written } = setup({
      recent: (_ws, id, name, before, limit) => {
        asked.push([id, name, before, limit]);
        return new Promise((r) => (release = r));
      },
      warmUpPoints: 3,
    });
    op.observe(obs('p1', 100, { vibration: 10 }));
    op.observe(obs('p1', 101, { vibration: 20 }));
    expect(written).toHaveLength(0);
    expect(asked).toEqual([['p1', 'vibration', 100, 3]]);
    release([
      { time: 1, value: 10 },
      { time: 2, value: 10 },
      { time: 3, value: 10 },
    ]);
    await new Promise((r) => setImmediate(r));
    // Scored as if the detector had seen the history: mean 10 → 0, then mean 10 → |20-10|/10 = 1.
    expect(written).toEqual([
      ['p1', 100, { vibrationAnomalyScore: 0 }],
      ['p1', 101, { vibrationAnomalyScore: 1 }],
    ]);
    op.observe(obs('p1', 102, { vibration: 12 }));
    expect(written).toHaveLength(3);
  });

  it('starts cold when the warm-up read fails, and bounds the streams it keeps', async () => {
    const errors: unknown[] = [];
    const { op, written } = setup({
      recent: () => Promise.reject(new Error('store down')),
      onWarmUpError: (e) => errors.push(e),
      maxStreams: 1,
    });
    op.observe(obs('p1', 1, { vibration: 1 }));
    op.observe(obs('p2', 1, { vibration: 1 }));
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect(written).toEqual([['p1', 1, { vibrationAnomalyScore: 0 }]]);
    expect(op.stats()).toMatchObject({ streams: 1, streamsSkipped: 1, warmUpFailures: 1 });
  });
});
