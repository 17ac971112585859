/**
 * The multivariate anomaly group of the pump-line pilot in the running platform: a pump's reading
 * sets get `pumpAnomalyScore` stored beside the stream scores; after a restart the group's detector
 * is rebuilt from the stored history, so the first reading set that breaks the relation between
 * the pump's streams (each value ordinary for its stream) is scored high and raises `anomaly.pump`
 * at once — a cold detector would still be in its probation and score 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from './platform-fixture.js';

/** Every score stored (no report by exception): the test counts one score per reading set. */
const EVERY_SCORE = { analytics: { deadbands: false } };

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const STEP = 10_000;
const N = 900; // above the detector's 750-vector probation, below the 1,000 replayed at warm-up

const data = tempDataDir('twinloop-multivariate-');
let p: Platform;
let pump: string;
const T0 = Date.now() - 2 * N * STEP;

/** A healthy pump at speed s: flow, pressure, vibration and temperature all follow it. */
function reading(i: number): {
  flow: number;
  dischargePressure: number;
  vibration: number;
  temperature: number;
} {
  const s = 0.8 + 0.15 * Math.sin(i / 50);
  const jitter = (k: number) => Math.sin(i * 12.9898 + k * 78.233) * 0.5; // deterministic noise in ±0.5
  return {
    flow: 50 * s + 0.3 * jitter(1),
    dischargePressure: 1 + 4 * s * s + 0.01 * jitter(2),
    vibration: 1.2 * (0.3 + 0.7 * s) + 0.05 * jitter(3),
    temperature: 30 + 10 * s + 0.1 * jitter(4),
  };
}

async function send(sets: Record<string, number>[], firstIndex: number): Promise<void> {
  const payload = sets.map((v, k) => ({ $ts: T0 + (firstIndex + k) * STEP, ...v }));
  const out = await p.ingest.ingest({
    source: 'http',
    workspace: 'default',
    receivedAt: Date.now(),
    twinId: pump,
    payload: Buffer.from(JSON.stringify(payload)),
  });
  expect(out).toEqual({ ok: true, readings: 4 * sets.length });
}

/** Polls `f` every 50 ms until `ok` holds for its answer; throws naming `what` after 30 s. */
async function until<T>(what: string, f: () => Promise<T>, ok: (x: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const x = await f();
    if (ok(x)) return x;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function scores(from: number): Promise<{ ts: number; value: unknown }[]> {
  const page = await p.storage.history.queryRaw({
    workspace: 'default',
    twinId: pump,
    path: 'pumpAnomalyScore',
    from,
    to: Date.now() + 1,
    limit: 10_000,
    order: 'asc',
  });
  return page.points;
}

beforeAll(async () => {
  p = await startTestPlatform(data.dir, {}, EVERY_SCORE);
  pump = [...p.graph.allTwins()].find((t) => t.modelId === PUMP)!.id;
}, 60_000);
afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

describe('multivariate anomaly group in the platform', () => {
  it('stores the group score, and after a restart scores a broken relation high at once', async () => {
    for (let i = 0; i < N; i += 100)
      await send(
        Array.from({ length: 100 }, (_, k) => reading(i + k)),
        i,
      );
    const stored = await until(
      'pumpAnomalyScore of every reading set',
      () => scores(T0),
      (x) => x.length === N,
    );
    expect(stored.every((x) => typeof x.value === 'number' && x.value >= 0 && x.value < 0.8)).toBe(true);

    await p.stop();
    p = await startTestPlatform(data.dir, {}, EVERY_SCORE);
    // Full flow and pressure with the vibration and temperature of a slow pump.
    const fast = reading(Math.round(50 * (Math.PI / 2))); // s ≈ 0.95
    const slow = reading(Math.round(50 * ((3 * Math.PI) / 2))); // s ≈ 0.65
    await send([{ ...fast, vibration: slow.vibration, temperature: slow.temperature }], N);
    const after = await until(
      'the score of the reading set sent after the restart',
      () => scores(T0 + N * STEP),
      (x) => x.length === 1,
    );
    expect(after[0]!.value as number).toBeGreaterThanOrEqual(0.8);
    await p.alarms.flush();
    const alarms = await p.alarms.list({ workspace: 'default', twinId: pump, limit: 10 });
    expect(alarms.map((a) => a.ruleId)).toContain('anomaly.pump');
  }, 120_000);
});
