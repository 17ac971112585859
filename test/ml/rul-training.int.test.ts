/**
 * Predictive maintenance in a running platform (docs/predictive-maintenance.md): pumps of the
 * pump-line pilot run to failure (simulated from the pilot's behaviour, stored as their history),
 * a training over HTTP (its job, its progress, the model in the registry, promoted), the prediction
 * route, live inference writing `rul` for a new reading (and after a restart), a cancelled training,
 * and hostile requests refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import {
  PUMP_MODEL,
  PUMP_SENSORS,
  pumpRunsToFailure,
} from '../../src/analytics/rul/rul-pump-test-fixture.js';
import { httpCaller, type HttpCall } from '../support/http-call.js';
import { pumpTraining, seedPumpRuns, trainingEnd } from '../support/rul-pumps.js';
import { API, startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';

const data = tempDataDir('twinloop-rul-');
let platform: Platform;
let call: HttpCall;
const SAMPLE_S = 600;
const ORIGIN = Date.UTC(2026, 0, 5);
const runs = pumpRunsToFailure({ count: 10, seed: 5, sampleSeconds: SAMPLE_S });

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { auth: 'on' });
  call = httpCaller(() => platform.runtime.httpUrl, platform.token!);
  await seedPumpRuns(platform, call, runs, ORIGIN);
}, 60_000);

afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('RUL training and inference over HTTP', () => {
  it(
    'trains, stores and promotes a model, predicts from history and live',
    { timeout: 120_000 },
    async () => {
      const start = await call('POST', '/ml/training', pumpTraining(runs.slice(0, 9), SAMPLE_S));
      expect(start.status).toBe(202);
      const id = (start.json as { id: string }).id;
      expect(start.headers.get('location')).toBe(`/ml/training/${id}`);
      const job = await trainingEnd(call, id);
      expect(job.status).toBe('succeeded');
      expect(job.progress.fraction).toBe(1);
      expect(job.result!.promoted).toBe(true);
      const model = await call('GET', `/ml/models/${job.result!.modelId}`);
      expect(model.json).toMatchObject({ status: 'active', target: PUMP_MODEL, kind: 'rul' });

      const held = runs[9]!;
      const now = await call('GET', `/digitaltwins/${held.id}/rul`);
      expect(now.status).toBe(200);
      const answer = now.json as { rul: number; step: number; modelId: string; stepSeconds: number };
      expect(answer.modelId).toBe(job.result!.modelId);
      expect(answer.stepSeconds).toBe(SAMPLE_S);
      expect(answer.step).toBe(held.times.length);
      expect(Math.abs(answer.rul)).toBeLessThan(10); // it has just failed

      // Live: a new reading of the held-out pump, one step later: `rul` is written beside it.
      // A reading of the held-out pump at `at` (ms), then its `rul` written for that time.
      const readingGetsRul = async (at: number, values: Record<string, number>): Promise<number> => {
        const send = await call('POST', `/digitaltwins/${held.id}/telemetry?${API}`, {
          ...values,
          $ts: new Date(at).toISOString(),
        });
        expect(send.status).toBeLessThan(300);
        await waitFor(
          `rul written for ${new Date(at).toISOString()}`,
          () => platform.graph.getTwin(held.id)?.telemetry.rul !== undefined,
          30_000,
        );
        await waitFor(
          'rul of that reading',
          () => platform.graph.getTwin(held.id)?.telemetry.rul?.time === at,
        );
        return platform.graph.getTwin(held.id)!.telemetry.rul!.value as number;
      };
      const t = ORIGIN + (held.times.at(-1)! + SAMPLE_S) * 1000;
      await readingGetsRul(t, { vibration: 7.3, temperature: 40, flow: 45, dischargePressure: 4.5 });
      expect(platform.graph.getTwin(held.id)!.telemetry.rul!.time).toBe(t);

      // After a restart the model is still active and live inference goes on: the next step's
      // reading gets its `rul`, from a window warmed up from history, equal to what the route
      // answers from the same history.
      await platform.stop();
      platform = await startTestPlatform(data.dir, { auth: 'on' });
      const t2 = t + SAMPLE_S * 1000;
      const live = await readingGetsRul(t2, {
        vibration: 7.4,
        temperature: 40.5,
        flow: 44,
        dischargePressure: 4.4,
      });
      const fromHistory = (await call('GET', `/digitaltwins/${held.id}/rul`)).json as { rul: number };
      expect(live).toBeCloseTo(fromHistory.rul, 6);
    },
  );

  it('refuses hostile and wrong requests with clear codes', async () => {
    const proto = await call(
      'POST',
      '/ml/training',
      `{"target":"${PUMP_MODEL}","__proto__":{"promote":true}}`,
    );
    expect(proto.status).toBe(400);
    expect((await call('POST', '/ml/training', { target: 'dtmi:nope:X;1' })).status).toBe(404);
    expect((await call('POST', '/ml/training', { target: PUMP_MODEL, window: 1e9 })).status).toBe(400);
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    expect((await call('POST', '/ml/training', deep)).status).toBe(400);
    const cross = await call(
      'POST',
      '/ml/training',
      { target: PUMP_MODEL },
      { origin: 'https://evil.example' },
    );
    expect(cross.status).toBe(403);
    const badUtf8 = await fetch(`${platform.runtime.httpUrl}/ml/training`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.token!}`, 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from('{"target":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    });
    expect(badUtf8.status).toBe(400);
    expect((await call('POST', '/ml/training', 'x'.repeat(17 * 1024 * 1024))).status).toBe(413);
    expect((await call('GET', '/ml/training/nope')).status).toBe(404);
    expect((await call('GET', '/digitaltwins/nope/rul')).status).toBe(404);
  });

  it('cancels a training: the job ends cancelled, without an error, and adds no model', async () => {
    const before = ((await call('GET', '/ml/models')).json as { value: unknown[] }).value.length;
    const start = await call('POST', '/ml/training', {
      target: PUMP_MODEL,
      sensors: [...PUMP_SENSORS],
      stepSeconds: SAMPLE_S,
      cap: 200,
    });
    expect(start.status).toBe(202);
    const id = (start.json as { id: string }).id;
    const del = await call('DELETE', `/ml/training/${id}`);
    expect(del.status).toBe(200);
    const job = await trainingEnd(call, id, 60_000);
    expect(job.status).toBe('cancelled');
    expect(job.error).toBeUndefined();
    expect(((await call('GET', '/ml/models')).json as { value: unknown[] }).value).toHaveLength(before);
    // A finished job cannot be cancelled again: 409 with the reason.
    expect((await call('DELETE', `/ml/training/${id}`)).status).toBe(409);
  }, 60_000);
});
