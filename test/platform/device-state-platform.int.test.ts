/**
 * The device side through the whole platform (issue 12): the composition root builds the
 * DeviceStateService; what it stores shows in GET /digitaltwins and POST /query, survives a
 * restart, and writes of writable properties count the desired version. (The MQTT broker feeding
 * it is wired by the control inbox; here the service is called as the inbox calls it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

let platform: Platform;
const data = tempDataDir('twinloop-device-state-');

async function call(method: string, route: string, body?: unknown) {
  const res = await fetch(`${platform.runtime.httpUrl}${route}?${API}`, {
    method,
    headers: { 'content-type': body === undefined ? 'application/json' : 'application/json-patch+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}
const query = async (q: string): Promise<string[]> => {
  const res = await fetch(`${platform.runtime.httpUrl}/query?${API}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: q }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: { $dtId: string }[] }).value.map((t) => t.$dtId).sort();
};
const meta = async () =>
  (await call('GET', '/digitaltwins/pump-1a')).body.$metadata as Record<string, Record<string, unknown>>;

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('device state across the platform', () => {
  it('presence and reported state show in $metadata and queries, and survive a restart', async () => {
    const before = (await call('GET', '/digitaltwins/pump-1a')).body;
    const now = Date.now();
    await platform.deviceState.presence('pump-1a', 'connected', now - 2000, 'broker');
    await platform.deviceState.presence('pump-1a', 'disconnected', now - 1000, 'broker');
    const flow = (before as { flowSetpoint?: number }).flowSetpoint;
    await platform.deviceState.reported('pump-1a', {
      topic: 'twins/pump-1a/reported',
      payload: Buffer.from(JSON.stringify({ flowSetpoint: (flow ?? 0) + 1 })),
      receivedAt: now,
    });
    expect(
      await query("SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$metadata.$connection.state = 'disconnected'"),
    ).toEqual(['pump-1a']);
    const m = await meta();
    expect(m.$connection).toMatchObject({ state: 'disconnected', since: new Date(now - 1000).toISOString() });
    expect(m.flowSetpoint).toMatchObject({
      reportedValue: (flow ?? 0) + 1,
      reportedTime: new Date(now).toISOString(),
    });
    const after = (await call('GET', '/digitaltwins/pump-1a')).body;
    expect(after.$etag).toBe(before.$etag);

    // a user write of the writable property counts the desired version; the device did not apply it
    expect(
      (await call('PATCH', '/digitaltwins/pump-1a', [{ op: 'add', path: '/flowSetpoint', value: 42 }]))
        .status,
    ).toBe(204);
    const m2 = await meta();
    expect(m2.flowSetpoint).toMatchObject({ desiredValue: 42, pending: true });
    const version = m2.flowSetpoint!.desiredVersion as number;
    expect(version).toBeGreaterThanOrEqual(1);
    // (the pilot's other pumps never reported: their desired values are pending too)
    expect(
      await query('SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$metadata.flowSetpoint.pending = true'),
    ).toContain('pump-1a');
    await platform.deviceState.reported('pump-1a', {
      topic: 'twins/pump-1a/reported',
      payload: Buffer.from(JSON.stringify({ flowSetpoint: 42, $ack: { version, code: 200 } })),
      receivedAt: Date.now(),
    });
    expect(
      await query('SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$metadata.flowSetpoint.pending = false'),
    ).toEqual(['pump-1a']);

    await platform.stop();
    platform = await startTestPlatform(data.dir);
    const m3 = await meta();
    expect(m3.$connection).toMatchObject({ state: 'disconnected' });
    expect(m3.flowSetpoint).toMatchObject({
      desiredValue: 42,
      desiredVersion: version,
      reportedValue: 42,
      ackVersion: version,
      ackCode: 200,
      pending: false,
    });
  });
});
