/**
 * Forecasts in the running platform (pump-line pilot, real SQLite, simulator off): a tank's level
 * readings go through ingestion; the continuous forecast of forecast.yaml writes levelForecast,
 * levelForecastLower and levelForecastUpper beside them (stored in history and queryable like any
 * telemetry), the forecast rule tank-level-forecast-low raises its alarm before the level is low,
 * and after a restart a stream's forecast resumes at its first reading, from the stored history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { post } from './core-loop-suite.js';
import { startTestPlatform, tempDataDir, waitFor } from './platform-fixture.js';

const MIN = 60_000;
const H = 3_600_000;
const data = tempDataDir('twinloop-forecast-');
let p: Platform;

beforeAll(async () => {
  p = await startTestPlatform(data.dir);
}, 60_000);
afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

/** Level readings of tank-1 through ingestion, with their source times, 60 to a message. */
async function ingestLevels(readings: readonly [number, number][]): Promise<void> {
  for (let i = 0; i < readings.length; i += 60) {
    const payload = readings.slice(i, i + 60).map(([t, level]) => ({ $ts: t, level }));
    const out = await p.ingest.ingest({
      source: 'http',
      workspace: 'default',
      receivedAt: Date.now(),
      payload: Buffer.from(JSON.stringify(payload)),
      twinId: 'tank-1',
    });
    expect(out).toMatchObject({ ok: true });
  }
}

const forecastsOf = async (from: number, to: number) =>
  (
    await p.storage.history.queryRaw({
      workspace: 'default',
      twinId: 'tank-1',
      path: 'levelForecast',
      from,
      to,
      limit: 1000,
      order: 'asc',
    })
  ).points;

describe('forecasts in the platform', () => {
  // 1.6 m for 150 min, then falling 1 m/h: 1.1 m at 180 min, 1 m would be reached at 186 min.
  const t0 = Math.floor((Date.now() - 4 * H) / 10_000) * 10_000;
  const levelAt = (t: number) => (t < t0 + 150 * MIN ? 1.6 : 1.6 - (t - t0 - 150 * MIN) / H);
  const end = t0 + 180 * MIN;

  it('writes the continuous forecast as telemetry, and the forecast rule raises before the level is low', async () => {
    const readings: [number, number][] = [];
    for (let t = t0; t <= end; t += 10_000) readings.push([t, levelAt(t)]);
    await ingestLevels(readings);
    // Refits are budgeted per tick (docs/forecasting.md): wait for the one at the last reading.
    let latestForecastTime: number | undefined;
    await waitFor(
      'a forecast at the last reading',
      () => {
        void forecastsOf(end, end + 1).then((pts) => (latestForecastTime = pts.at(-1)?.ts));
        return latestForecastTime === end;
      },
      30_000,
    );
    // Readings that come in a burst make refits wait for ticks; a waiting refit uses its stream's
    // newest reading, so a burst makes few forecasts, the last at its last reading.
    const all = await forecastsOf(t0, end + 1);
    expect(all.length).toBeGreaterThan(0);
    // The last one: half an hour after 1.1 m falling 1 m/h is 0.6 m.
    const last = all.at(-1)!;
    expect(last.value as number).toBeGreaterThan(0.5);
    expect(last.value as number).toBeLessThan(0.7);
    const bound = async (path: string) =>
      (
        await p.storage.history.queryRaw({
          workspace: 'default',
          twinId: 'tank-1',
          path,
          from: end,
          to: end + 1,
          limit: 1,
          order: 'asc',
        })
      ).points[0]?.value as number;
    expect(await bound('levelForecastLower')).toBeLessThan(last.value as number);
    expect(await bound('levelForecastUpper')).toBeGreaterThan(last.value as number);
    // Queryable as the twin's latest telemetry.
    const q = await post(p, '/query', {
      query: "SELECT T.$telemetry.levelForecast AS f FROM DIGITALTWINS T WHERE T.$dtId = 'tank-1'",
    });
    expect(q.status).toBe(200);
    expect((JSON.parse(q.body) as { value: { f: number }[] }).value[0]!.f).toBeCloseTo(
      last.value as number,
      9,
    );

    // The forecast rule raised (the level is 1.1 m: tank-level-low has not), with an ETA.
    let alarms: { value: { ruleId: string; message: string }[] } = { value: [] };
    for (let i = 0; i < 150 && alarms.value.length === 0; i++) {
      await p.alarms.flush();
      alarms = (await (await fetch(`${p.runtime.httpUrl}/alarms?twin=tank-1`)).json()) as typeof alarms;
      if (alarms.value.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(alarms.value.map((a) => a.ruleId)).toEqual(['tank-level-forecast-low']);
    const metrics = await (await fetch(`${p.runtime.httpUrl}/metrics`)).text();
    expect(Number(/^twinloop_analytics_forecast_refits_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(1);
    expect(alarms.value[0]!.message).toMatch(
      /^tank tank-1 level 1\.\d+ m, forecast to fall below 1 m in \d+ min/,
    );
  }, 60_000);

  it('after a restart, a stream forecasts from its first reading, warmed up from history', async () => {
    await p.stop();
    p = await startTestPlatform(data.dir);
    const t = end + MIN;
    await ingestLevels([[t, levelAt(t)]]);
    let pts: { ts: number; value: unknown }[] = [];
    await waitFor(
      'a forecast at the first reading after the restart',
      () => {
        void forecastsOf(t, t + 1).then((x) => (pts = x));
        return pts.length > 0;
      },
      30_000,
    );
    expect(pts[0]!.value as number).toBeGreaterThan(0.45);
    expect(pts[0]!.value as number).toBeLessThan(0.7);
  }, 60_000);
});
