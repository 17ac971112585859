/**
 * MQTT endpoints: a route to a topic publishes CloudEvents through the platform's own broker
 * connection (the embedded broker here), QoS 1, for any MQTT client to subscribe to.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';

const data = tempDataDir('twinloop-routes-mqtt-');
let p: Platform;

beforeAll(async () => {
  p = await startTestPlatform(data.dir);
}, 60_000);

afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

describe('event routes to an MQTT topic', () => {
  it('publishes routed events to the topic through the platform broker', async () => {
    const client = await mqtt.connectAsync(p.runtime.mqttUrl, { clientId: 'routes-sub', reconnectPeriod: 0 });
    const got: Record<string, unknown>[] = [];
    client.on('message', (_t, payload) =>
      got.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>),
    );
    await client.subscribeAsync('ops/twin-events', { qos: 1 });
    try {
      await p.eventRoutes.service.putEndpoint('ops', { type: 'mqtt', topic: 'ops/twin-events' });
      await p.eventRoutes.service.putRoute('to-ops', {
        endpointName: 'ops',
        filter: "type = 'Microsoft.DigitalTwins.Twin.Update' AND STARTS_WITH(subject, 'pump-3')",
      });
      await p.twins.update('pump-1a', [{ op: 'add', path: '/serialNumber', value: 'not routed' }]);
      await p.twins.update('pump-3a', [{ op: 'add', path: '/serialNumber', value: 'routed' }]);
      await waitFor('the routed event', () => got.length > 0);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toHaveLength(1);
      expect(got[0]).toMatchObject({
        specversion: '1.0',
        type: 'Microsoft.DigitalTwins.Twin.Update',
        subject: 'pump-3a',
        data: { patch: [{ op: 'add', path: '/serialNumber', value: 'routed' }] },
      });
    } finally {
      await client.endAsync();
    }
  });
});
