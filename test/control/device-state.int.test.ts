/**
 * Desired versus reported and presence end to end (docs/control.md), through the embedded broker
 * with real MQTT devices: a desired value written while the device is away reaches it when it
 * reconnects (retained, with its $version); it reports back with an $ack and the twin's
 * $metadata stops being pending. Presence follows the broker's own view of the connection and
 * the device's last will, and is queryable.
 */
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { httpCaller, type HttpCall } from '../support/http-call.js';
import { API, startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';

const data = tempDataDir('twinloop-device-state-e2e-');
let platform: Platform;
let call: HttpCall;

async function metaOf(twinId: string): Promise<Record<string, Record<string, unknown>>> {
  const r = await call('GET', `/digitaltwins/${twinId}?${API}`);
  return r.json.$metadata as Record<string, Record<string, unknown>>;
}

async function disconnectedTwins(): Promise<string[]> {
  const r = await call('POST', `/query?${API}`, {
    query: "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$metadata.$connection.state = 'disconnected'",
  });
  return (r.json.value ?? []).map((t) => t.$dtId as string).sort();
}

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
  call = httpCaller(() => platform.runtime.httpUrl, platform.token ?? '');
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('desired versus reported, presence', () => {
  it('converge after a disconnect: the desired value waits, the device applies and reports it', async () => {
    const connect = () =>
      mqtt.connectAsync(platform.runtime.mqttUrl, {
        clientId: 'pump-3b',
        protocolVersion: 5,
        reconnectPeriod: 0,
      });
    let device: MqttClient = await connect();
    await device.endAsync(); // away
    await waitFor(
      'pump-3b to be disconnected',
      () => platform.graph.getTwin('pump-3b')?.device?.connection?.state === 'disconnected',
    );

    const patch = await call('PATCH', `/digitaltwins/pump-3b?${API}`, [
      { op: 'replace', path: '/flowSetpoint', value: 33 },
    ]);
    expect(patch.status).toBe(204);
    let meta = await metaOf('pump-3b');
    expect(meta.flowSetpoint).toMatchObject({ desiredValue: 33, pending: true });
    const version = meta.flowSetpoint!.desiredVersion as number;
    expect(version).toBeGreaterThan(0);

    // Back: the retained desired document is there at once, with its version.
    device = await connect();
    const docs: { desired: Record<string, unknown>; $version: number }[] = [];
    device.on('message', (_t, p) => docs.push(JSON.parse(p.toString()) as (typeof docs)[number]));
    await device.subscribeAsync('twins/pump-3b/desired', { qos: 1 });
    await waitFor('the desired document', () => docs.length > 0);
    expect(docs[0]!.desired.flowSetpoint).toBe(33);
    expect(docs[0]!.$version).toBe(version);
    // It applies it and reports, acknowledging the version (PUBACK once stored).
    await device.publishAsync(
      'twins/pump-3b/reported',
      JSON.stringify({
        flowSetpoint: 33,
        $ack: { version: docs[0]!.$version, code: 200, description: 'applied' },
      }),
      { qos: 1 },
    );
    meta = await metaOf('pump-3b');
    expect(meta.flowSetpoint).toMatchObject({
      desiredValue: 33,
      reportedValue: 33,
      ackVersion: version,
      ackCode: 200,
      ackDescription: 'applied',
      pending: false,
    });
    expect(meta.$connection).toMatchObject({ state: 'connected' });
    // A client that sends the twin back as it got it (GET then PUT, as ADT clients do) is not refused
    // for the read-only device members of $metadata.
    const twin = (await call('GET', `/digitaltwins/pump-3b?${API}`)).json;
    const put = await call('PUT', `/digitaltwins/pump-3b?${API}`, twin);
    expect(put.status, JSON.stringify(put.json)).toBe(200);
    await device.endAsync();
  });

  it('presence follows the broker and the last will, and is queryable', async () => {
    const device = await mqtt.connectAsync(platform.runtime.mqttUrl, {
      clientId: 'pump-3d',
      protocolVersion: 5,
      reconnectPeriod: 0,
      will: {
        topic: 'twins/pump-3d/connection',
        payload: Buffer.from('{"state":"disconnected"}'),
        qos: 1,
        retain: true,
      },
    });
    await device.publishAsync('twins/pump-3d/connection', '{"state":"connected"}', { qos: 1, retain: true });
    let meta = await metaOf('pump-3d');
    expect(meta.$connection).toMatchObject({ state: 'connected' });
    const since = Date.parse(meta.$connection!.since as string);
    expect(await disconnectedTwins()).not.toContain('pump-3d');

    // The device drops without DISCONNECT: the broker publishes its will, and sees it go.
    device.stream.destroy();
    await waitFor(
      'pump-3d disconnected',
      () => platform.graph.getTwin('pump-3d')?.device?.connection?.state === 'disconnected',
    );
    meta = await metaOf('pump-3d');
    expect(meta.$connection).toMatchObject({ state: 'disconnected' });
    expect(Date.parse(meta.$connection!.since as string)).toBeGreaterThanOrEqual(since);
    expect(await disconnectedTwins()).toContain('pump-3d');
    // The will was kept by the broker (retained) and was no dead letter.
    const letters = await call('GET', '/deadletters?limit=50');
    expect((letters.json.value ?? []).filter((l) => String(l.topic).includes('pump-3d'))).toEqual([]);
  });

  it('a bad report is kept as a dead letter with its reason, and changes nothing', async () => {
    const device = await mqtt.connectAsync(platform.runtime.mqttUrl, {
      clientId: 'pump-1c',
      reconnectPeriod: 0,
    });
    try {
      const before = await metaOf('pump-1c');
      await device.publishAsync('twins/pump-1c/reported', JSON.stringify({ flowSetpoint: 'fast' }), {
        qos: 1,
      });
      await device.publishAsync('twins/pump-1c/reported', '{"__proto__": {"x": 1}}', { qos: 1 });
      const letters = (await call('GET', '/deadletters?limit=50')).json.value ?? [];
      const mine = letters.filter((l) => l.topic === 'twins/pump-1c/reported');
      expect(mine).toHaveLength(2);
      expect(mine.map((l) => l.reason).join('\n')).toMatch(/flowSetpoint/);
      expect((await metaOf('pump-1c')).flowSetpoint).toEqual(before.flowSetpoint);
      expect(device.connected).toBe(true);
    } finally {
      await device.endAsync();
    }
  });
});
