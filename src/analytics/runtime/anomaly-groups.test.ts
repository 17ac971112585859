/**
 * The anomaly operator's multivariate groups with the real detectors: a reading set that breaks
 * the relation between a twin's streams scores high and raises the group's alarm while each stream
 * alone looks normal; missing components; the cap; and a restart whose detectors are rebuilt from
 * the readings stored in a real SQLite history.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import type { AlarmConditionCleared, AlarmRaise, TelemetryObservation } from '../analytics-types.js';
import { createDetector } from '../anomaly/create-detector.js';
import { alignByTime, recentPoints } from './anomaly-history.js';
import { AnomalyOperator, type AnomalyOperatorOptions } from './anomaly-operator.js';
import { createGroupDetector } from './anomaly-plan.js';

const PUMP = 'dtmi:x:Pump;1';
const T0 = Date.UTC(2026, 0, 1);
const STEP = 10_000;

/** A deterministic pseudo-random generator (mulberry32), in [-0.5, 0.5). */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

/**
 * A pump's day: speed swings slowly; flow follows it and vibration rises with it (flow ≈ 50·speed,
 * vibration ≈ 1 + 2·speed), each with its own small noise.
 */
function readings(n: number, seed = 1): { flow: number; vibration: number }[] {
  const r = noise(seed);
  return Array.from({ length: n }, (_, i) => {
    const speed = 0.75 + 0.2 * Math.sin(i / 60);
    return { flow: 50 * speed + 0.5 * r(), vibration: 1 + 2 * speed + 0.02 * r() };
  });
}

const obs = (twinId: string, i: number, values: Record<string, unknown>): TelemetryObservation => ({
  workspace: 'default',
  twinId,
  modelId: PUMP,
  time: T0 + i * STEP,
  values,
});

function setup(extra: Partial<AnomalyOperatorOptions> = {}) {
  const written: [string, number, Record<string, number>][] = [];
  const raised: AlarmRaise[] = [];
  const cleared: AlarmConditionCleared[] = [];
  const op = new AnomalyOperator({
    streamsOf: (_ws, m) => (m === PUMP ? ['flow', 'vibration'] : undefined),
    createDetector: () => createDetector('resonance'),
    groupsOf: (_ws, m) => (m === PUMP ? [{ name: 'pump', telemetry: ['flow', 'vibration'] }] : undefined),
    createGroupDetector,
    sink: { write: (_ws, id, t, v) => written.push([id, t, { ...v }]) },
    alarms: { raise: (a) => raised.push(a), conditionCleared: (c) => cleared.push(c) },
    threshold: 0.8,
    quietMs: 10 * 60_000,
    ...extra,
  });
  return { op, written, raised, cleared };
}

describe('AnomalyOperator: multivariate groups', () => {
  it('scores a reading set that breaks the relation high, while each stream alone looks normal', () => {
    const { op, written, raised, cleared } = setup();
    const day = readings(2000);
    day.forEach((v, i) => op.observe(obs('p1', i, v)));
    // Learnt (after the 750-reading probation) and quiet: no alarm on the normal day.
    const normal = written.slice(800).map(([, , s]) => s.pumpAnomalyScore as number);
    expect(Math.max(...normal)).toBeLessThan(0.5);
    expect(raised).toEqual([]);

    // Full flow (speed ≈ 0.95) with the vibration of a slow pump (speed ≈ 0.55): both values are
    // ordinary ones for their stream, but not together.
    op.observe(obs('p1', 2000, { flow: 47.5, vibration: 2.1 }));
    const [twin, time, scores] = written.at(-1)!;
    expect([twin, time]).toEqual(['p1', T0 + 2000 * STEP]);
    // One write with the stream scores and the group's, as the writer batches them.
    expect(Object.keys(scores).sort()).toEqual([
      'flowAnomalyScore',
      'pumpAnomalyScore',
      'vibrationAnomalyScore',
    ]);
    expect(scores.flowAnomalyScore).toBeLessThan(0.8);
    expect(scores.vibrationAnomalyScore).toBeLessThan(0.8);
    expect(scores.pumpAnomalyScore).toBeGreaterThanOrEqual(0.95);
    expect(raised).toEqual([
      expect.objectContaining({
        twinId: 'p1',
        ruleId: 'anomaly.pump',
        severity: 'warning',
        time: T0 + 2000 * STEP,
        message: expect.stringMatching(/^pump is anomalous: score 0\.9\d\d at flow 47\.5, vibration 2\.1$/),
      }),
    ]);
    expect(raised[0]).not.toHaveProperty('value');

    // Normal again: cleared once the scores stayed below 0.5 for 10 minutes of readings' time.
    day.slice(0, 200).forEach((v, i) => op.observe(obs('p1', 2001 + i, v)));
    expect(raised).toHaveLength(1);
    expect(cleared).toEqual([expect.objectContaining({ twinId: 'p1', ruleId: 'anomaly.pump' })]);
    expect(cleared[0]!.time - T0).toBeLessThanOrEqual((2001 + 200) * STEP);
    expect(op.stats()).toMatchObject({ streams: 2, groups: 1, groupsScored: 2201, scored: 2 * 2201 });
  });

  it('scores a reading set with part of the group (the rest as expected), not one with none of it', () => {
    const { op, written } = setup({ streamsOf: () => [] });
    op.observe(obs('p1', 0, { flow: 40 }));
    op.observe(obs('p1', 1, { vibration: 2.6, flow: 'broken' }));
    op.observe(obs('p1', 2, { running: true }));
    op.observe(obs('p1', 3, { flow: Number.NaN, vibration: Number.POSITIVE_INFINITY }));
    expect(written).toEqual([
      ['p1', T0, { pumpAnomalyScore: 0 }],
      ['p1', T0 + STEP, { pumpAnomalyScore: 0 }],
    ]);
    // A component's reading of a twin is not the twin's own telemetry.
    op.observe({ ...obs('p1', 4, { flow: 40, vibration: 2 }), component: 'motor' });
    expect(written).toHaveLength(2);
  });

  it('counts a group of d telemetry as d streams against the cap, and frees them with the twin', () => {
    const { op, written } = setup({ streamsOf: () => [], maxStreams: 3 });
    op.observe(obs('p1', 0, { flow: 40, vibration: 2 }));
    op.observe(obs('p2', 0, { flow: 40, vibration: 2 }));
    expect(written.map(([id]) => id)).toEqual(['p1']);
    expect(op.stats()).toMatchObject({ groups: 1, groupsSkipped: 1 });
    op.forgetTwin('default', 'p1');
    op.observe(obs('p2', 1, { flow: 40, vibration: 2 }));
    expect(written.map(([id]) => id)).toEqual(['p1', 'p2']);
    expect(op.stats()).toMatchObject({ groups: 1, groupsSkipped: 1 });
  });

  it("aligns a group's history by timestamp, leaving out what one stream was cut off from", () => {
    const p = (time: number, value: number) => ({ time, value });
    // flow filled its limit of 3 from t=20; vibration has all of its (shorter) history.
    const v = alignByTime(
      [
        [p(20, 1), p(30, 2), p(40, 3)],
        [p(10, 9), p(30, 8), p(35, 7)],
      ],
      3,
    );
    expect(v).toEqual([
      { time: 30, values: [2, 8] },
      { time: 35, values: [Number.NaN, 7] },
      { time: 40, values: [3, Number.NaN] },
    ]);
    expect(alignByTime([[p(20, 1)], [p(10, 9), p(20, Number.NaN)]], 3)).toEqual([
      { time: 10, values: [Number.NaN, 9] },
      { time: 20, values: [1, Number.NaN] },
    ]);
  });

  describe('after a restart (real SQLite history)', () => {
    let w: TestWorkspace | undefined;
    afterEach(async () => {
      await w?.close();
    });

    it('rebuilds the group detector from the stored readings: the same scores and alarm as without a restart', async () => {
      w = await openTestWorkspace();
      const history = w.storage.history;
      // 1,200 reading sets (900 before the restart); every tenth lacks vibration, sent on its own
      // a moment later, so the warm-up has to align the two streams by timestamp.
      const day = readings(1200, 3);
      const sets = day.map((v, i): Record<string, number> => (i % 10 === 0 ? { flow: v.flow } : { ...v }));
      const late = sets.map((s, i) => (i % 10 === 0 ? { vibration: day[i]!.vibration } : undefined));
      const all: TelemetryObservation[] = [];
      sets.forEach((s, i) => {
        all.push(obs('p1', i, s));
        const l = late[i];
        if (l) all.push({ ...obs('p1', i, l), time: T0 + i * STEP + 1 });
      });
      all.push(obs('p1', 1200, { flow: 47.5, vibration: 2.1 }));
      const restartAt = all.findIndex((o) => o.time >= T0 + 900 * STEP);

      // Without a restart: every reading through one operator.
      const unbroken = setup();
      for (const o of all) unbroken.op.observe(o);

      // With one: what came before the restart is only in the store.
      await history.append(
        all.slice(0, restartAt).flatMap((o) =>
          Object.entries(o.values).map(([path, value]) => ({
            workspace: 'default',
            twinId: 'p1',
            path,
            kind: 'telemetry' as const,
            ts: o.time,
            value: value as number,
          })),
        ),
      );
      const restarted = setup({
        recent: (ws, id, name, before, limit) => recentPoints(history, ws, id, name, before, limit),
      });
      for (const o of all.slice(restartAt)) restarted.op.observe(o);
      expect(restarted.written).toEqual([]); // waiting for the warm-up's reads
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 50 && restarted.written.length < all.length - restartAt; i++)
        await new Promise((r) => setTimeout(r, 20));

      const byTime = (xs: [string, number, Record<string, number>][]) => {
        const m = new Map<number, Record<string, number>>();
        for (const [, t, s] of xs) m.set(t, { ...m.get(t), ...s });
        return m;
      };
      const a = byTime(unbroken.written);
      const b = byTime(restarted.written);
      const after = [...a.keys()].filter((t) => t >= all[restartAt]!.time);
      expect(after.length).toBeGreaterThan(300);
      for (const t of after) expect(b.get(t), `at ${t}`).toEqual(a.get(t));
      expect(b.get(T0 + 1200 * STEP)!.pumpAnomalyScore).toBeGreaterThanOrEqual(0.8);
      expect(restarted.raised.map((x) => x.ruleId)).toEqual(['anomaly.pump']);
      expect(unbroken.raised.map((x) => x.ruleId)).toEqual(['anomaly.pump']);
      expect(restarted.op.stats()).toMatchObject({ warmUpFailures: 0, groups: 1 });
    });
  });
});
