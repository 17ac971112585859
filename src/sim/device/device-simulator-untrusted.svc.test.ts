/**
 * On an external broker (the machine's Mosquitto, MQTT_URL) anyone may publish on the topics the
 * device simulator reads commands and desired state from: it reads them as untrusted JSON. Hostile
 * keys, 10k-deep nesting and bad UTF-8 are counted as rejected and ignored (nothing to match an
 * answer to); a valid command still works and is answered on its response topic.
 */
import path from 'node:path';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/platform/platform-fixture.js';
import { startMqttSimulator as startSimulator } from '../../adapters/mqtt/mqtt-simulator-publisher.js';
import { shippedPilotsDir } from '../../app/pilot-files.js';
import { pilotWorkspace } from '../../app/pilot-workspace.js';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

describe('the device simulator on an external broker', () => {
  it('reads command messages as untrusted JSON', async () => {
    const dir = path.join(shippedPilotsDir(), 'pump-line');
    const sim = await startSimulator({
      pilot: dir,
      ...(await pilotWorkspace(dir)),
      mqttUrl: MQTT_URL,
      speed: 60,
    });
    const client = await mqtt.connectAsync(MQTT_URL, { reconnectPeriod: 0 });
    const answers: string[] = [];
    client.on('message', (_t, p) => answers.push(p.toString()));
    await client.subscribeAsync('twins/pump-3a/commands/setRunning/response', { qos: 1 });
    try {
      const topic = 'twins/pump-3a/commands/setRunning';
      for (const m of [
        '{"__proto__":{"request":false}}',
        '{"request":false,"constructor":{"prototype":{}}}',
        '['.repeat(10_000) + ']'.repeat(10_000),
        Buffer.from([0x7b, 0x22, 0x72, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      ])
        await client.publishAsync(topic, m, { qos: 1 });
      await waitFor('the four messages rejected', () => sim.stats().rejected >= 4);
      expect(sim.stats().commands).toBe(0);
      expect(answers).toEqual([]);
      await client.publishAsync(topic, '{"requestId":"ok-1","request":false}', { qos: 1 });
      await waitFor('the valid command', () => sim.stats().commands === 1);
      await waitFor('its answer', () => answers.length === 1);
      expect(JSON.parse(answers[0] ?? '')).toEqual({ requestId: 'ok-1', status: 200, response: true });
      expect(sim.stats().rejected).toBe(4);
    } finally {
      await client.endAsync();
      await sim.stop();
    }
  });
});
