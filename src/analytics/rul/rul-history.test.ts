import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { readRulAssets } from './rul-history.js';

const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2020, 0, 1);
const fixtures: ReturnType<typeof tempStorage>[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.cleanup();
});

function point(twinId: string, path: string, ts: number, value: number): HistoryPoint {
  return { workspace: 'default', twinId, path, kind: 'telemetry', ts, value, once: true };
}

describe('readRulAssets', () => {
  it('resamples each twin to one row per step, numbered from its first step, NaN where a step had no reading', async () => {
    const fx = tempStorage();
    fixtures.push(fx);
    const h = fx.storage.history;
    // engine-1: cycles 1..5 at origin + cycle hours; s2 has no reading in cycle 3; cycle 4 has two s1 readings
    const pts: HistoryPoint[] = [];
    for (let c = 1; c <= 5; c++) {
      pts.push(point('engine-1', 's1', ORIGIN + c * HOUR, c * 10));
      if (c !== 3) pts.push(point('engine-1', 's2', ORIGIN + c * HOUR, -c));
    }
    pts.push(point('engine-1', 's1', ORIGIN + 4 * HOUR + 60_000, 50)); // cycle 4: avg of 40 and 50
    pts.push(point('engine-2', 's1', ORIGIN + 7 * HOUR, 1));
    pts.push(point('engine-2', 's1', ORIGIN + 9 * HOUR, 3));
    await h.append(pts);
    const seen: number[] = [];
    let paced = 0;
    const r = await readRulAssets({
      history: h,
      workspace: 'default',
      twinIds: ['engine-1', 'engine-2', 'engine-3'],
      columns: ['s1', 's2'],
      stepMs: HOUR,
      onAsset: (done) => seen.push(done),
      pace: async () => void paced++,
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(r.skipped).toEqual([{ twinId: 'engine-3', reason: 'no reading of any chosen telemetry' }]);
    const [e1, e2] = r.assets;
    expect([...e1!.steps]).toEqual([1, 2, 3, 4, 5]);
    expect([...e1!.columns.s1!]).toEqual([10, 20, 30, 45, 50]);
    expect([...e1!.columns.s2!]).toEqual([-1, -2, NaN, -4, -5]);
    expect([...e2!.steps]).toEqual([1, 2, 3]);
    expect([...e2!.columns.s1!]).toEqual([1, NaN, 3]);
    expect([...e2!.columns.s2!]).toEqual([NaN, NaN, NaN]);
    expect(r.range).toEqual({ from: ORIGIN + HOUR, to: ORIGIN + 9 * HOUR, rows: 8 });
    // Paced after every series read: 3 twins × 2 spans, then 2 twins with readings × 2 columns.
    expect(paced).toBe(3 * 2 + 2 * 2);
  });

  it('keeps the latest rows with their true step numbers, and ends at a given failure time', async () => {
    const fx = tempStorage();
    fixtures.push(fx);
    const h = fx.storage.history;
    const pts: HistoryPoint[] = [];
    for (let c = 1; c <= 100; c++) pts.push(point('p', 'x', ORIGIN + c * HOUR, c));
    await h.append(pts);
    const latest = await readRulAssets({
      history: h,
      workspace: 'default',
      twinIds: ['p'],
      columns: ['x'],
      stepMs: HOUR,
      maxStepsPerAsset: 30,
    });
    expect([...latest.assets[0]!.steps]).toEqual(Array.from({ length: 30 }, (_, i) => 71 + i));
    expect(latest.assets[0]!.columns.x![29]).toBe(100);
    const failed = await readRulAssets({
      history: h,
      workspace: 'default',
      twinIds: ['p'],
      columns: ['x'],
      stepMs: HOUR,
      failureOf: () => ORIGIN + 60 * HOUR,
    });
    expect(failed.assets[0]!.steps.length).toBe(60);
    const early = await readRulAssets({
      history: h,
      workspace: 'default',
      twinIds: ['p'],
      columns: ['x'],
      stepMs: HOUR,
      failureOf: () => ORIGIN,
    });
    expect(early.skipped[0]!.reason).toMatch(/before its first reading/);
  });

  it('refuses a step that is not a positive whole number of ms', async () => {
    const fx = tempStorage();
    fixtures.push(fx);
    for (const stepMs of [0, -1, 0.5, NaN])
      await expect(
        readRulAssets({
          history: fx.storage.history,
          workspace: 'default',
          twinIds: ['p'],
          columns: ['x'],
          stepMs,
        }),
      ).rejects.toMatchObject({ code: 'ValidationFailed' });
  });
});
