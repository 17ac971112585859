/**
 * Derived properties in the running platform (pump-line pilot): readings sent over HTTP make the
 * analytics compute the pump's healthIndex (pilots/pump-line/derived/pump.derived.yaml, target:
 * property) and patch it into the twin through the twin service — GET /digitaltwins/{id} shows it
 * with a new etag and its sourceTime, a query finds it, and /metrics counts the writes; a value
 * within `every` (1 min of the readings' time) of the last write waits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir, waitFor } from './platform-fixture.js';
import { post, query } from './core-loop-suite.js';

const data = tempDataDir('twinloop-dprop-');
let p: Platform;

beforeAll(async () => {
  p = await startTestPlatform(data.dir);
}, 60_000);
afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

interface TwinJson {
  $etag: string;
  healthIndex?: number;
  $metadata: Record<string, { sourceTime?: string } | string>;
}

const getTwin = async (id: string): Promise<TwinJson> => {
  const r = await fetch(`${p.runtime.httpUrl}/digitaltwins/${id}?${API}`);
  expect(r.status).toBe(200);
  return (await r.json()) as TwinJson;
};

/** What the pilot's expression gives for a steady vibration (its EWMA is then that value). */
const health = (vibration: number, temperature: number) =>
  Math.min(Math.max((7.1 - vibration) / 7.1, 0), 1) * Math.min(Math.max((80 - temperature) / 60, 0), 1);

describe('derived properties in the platform', () => {
  it('readings over HTTP → healthIndex on the twin (new etag, sourceTime), queryable, counted', async () => {
    const T0 = Date.now() - 10 * 60_000;
    const send = async (t: number, values: Record<string, unknown>) => {
      const r = await post(p, '/digitaltwins/pump-1a/telemetry', values, {
        'telemetry-source-time': new Date(t).toISOString(),
      });
      expect(r.status).toBe(204);
    };
    const before = await getTwin('pump-1a');
    expect(before.healthIndex).toBeUndefined();

    await send(T0, { vibration: 2, temperature: 40, flow: 40, dischargePressure: 4, running: true });
    await waitFor('healthIndex on pump-1a', () => written() >= 1);
    const first = await getTwin('pump-1a');
    expect(first.healthIndex).toBeCloseTo(health(2, 40), 12);
    expect(first.$etag).not.toBe(before.$etag);
    expect(first.$metadata.healthIndex).toMatchObject({ sourceTime: new Date(T0).toISOString() });

    // Two minutes later (the readings' time), the bearing hot: written as it comes.
    await send(T0 + 120_000, { vibration: 2, temperature: 65 });
    await waitFor('the second healthIndex', () => written() >= 2);
    const second = await getTwin('pump-1a');
    expect(second.healthIndex).toBeCloseTo(health(2, 65), 12);
    expect(second.healthIndex).toBeLessThan(0.5);
    expect(second.$etag).not.toBe(first.$etag);

    // Ten seconds after that: computed, but it waits for its minute (or a later value replaces it).
    await send(T0 + 130_000, { vibration: 2, temperature: 75 });
    await waitFor(
      'the third value seen',
      () => (p.analytics.stats().derivedEngine?.propertyValues ?? 0) >= 3,
    );
    await new Promise((r) => setTimeout(r, 200));
    const third = await getTwin('pump-1a');
    expect(third.healthIndex).toBe(second.healthIndex);
    expect(third.$etag).toBe(second.$etag);
    expect(p.analytics.stats().derivedProperties).toMatchObject({ written: 2, failed: 0, pendingTwins: 1 });

    // An ADT query over the property the analytics maintain.
    const low = (await query(p, 'SELECT T.$dtId FROM DIGITALTWINS T WHERE T.healthIndex < 0.5')) as {
      $dtId: string;
    }[];
    expect(low.map((r) => r.$dtId)).toEqual(['pump-1a']);

    const metrics = await (await fetch(`${p.runtime.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^twinloop_analytics_derived_property_written_total 2$/m);
    expect(metrics).toMatch(/^twinloop_analytics_derived_property_failed_total 0$/m);
    expect(metrics).toMatch(/^twinloop_analytics_derived_property_pending 1$/m);
  }, 60_000);
});

const written = (): number => p.analytics.stats().derivedProperties?.written ?? 0;
