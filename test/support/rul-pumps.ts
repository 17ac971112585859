/**
 * Test support for predictive maintenance in a running platform: pumps of the pump-line pilot run
 * to failure (simulated from the pilot's behaviour by rul-pump-test-fixture.ts) created as twins with
 * that history, and a training over HTTP waited for to its end.
 */
import { expect } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';
import {
  PUMP_MODEL,
  PUMP_SENSORS,
  type pumpRunsToFailure,
} from '../../src/analytics/rul/rul-pump-test-fixture.js';
import type { HttpCall } from './http-call.js';
import { API } from '../platform/platform-fixture.js';

export type PumpRun = ReturnType<typeof pumpRunsToFailure>[number];

/** Creates each run's pump twin and stores its readings (from `origin`, epoch ms) as history. */
export async function seedPumpRuns(
  platform: Platform,
  call: HttpCall,
  runs: readonly PumpRun[],
  origin: number,
): Promise<void> {
  for (const r of runs) {
    const put = await call('PUT', `/digitaltwins/${r.id}?${API}`, {
      $metadata: { $model: PUMP_MODEL },
      motor: { $metadata: {} },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    const points: HistoryPoint[] = [];
    r.times.forEach((t, i) => {
      for (const s of PUMP_SENSORS)
        if (Number.isFinite(r.values[s][i]))
          points.push({
            workspace: 'default',
            twinId: r.id,
            path: s,
            kind: 'telemetry',
            ts: origin + t * 1000,
            value: r.values[s][i]!,
            once: true,
          });
    });
    await platform.storage.history.append(points);
  }
}

/** The training request of these tests: pumps' sensors, the given twins, one step a sample, cap 200, promoted. */
export function pumpTraining(twins: readonly PumpRun[], sampleSeconds: number): Record<string, unknown> {
  return {
    target: PUMP_MODEL,
    sensors: [...PUMP_SENSORS],
    twins: twins.map((r) => r.id),
    stepSeconds: sampleSeconds,
    cap: 200,
    promote: true,
  };
}

export interface TrainingJobJson {
  status: string;
  progress: { fraction: number };
  error?: unknown;
  result?: { modelId: string; promoted: boolean };
}

/** Polls GET /ml/training/{id} until the job has ended; returns it. */
export async function trainingEnd(call: HttpCall, id: string, ms = 120_000): Promise<TrainingJobJson> {
  const until = Date.now() + ms;
  for (;;) {
    const job = (await call('GET', `/ml/training/${id}`)).json as unknown as TrainingJobJson;
    if (!['queued', 'running'].includes(job.status)) return job;
    if (Date.now() > until) throw new Error(`training ${id} still ${job.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
