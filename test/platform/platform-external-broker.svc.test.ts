/**
 * Twinloop as a client of the machine's MQTT broker (`--mqtt-url`, address from MQTT_URL): a device
 * publishes to Mosquitto, Twinloop ingests it, and its PUBACK to the device came from Mosquitto while
 * Twinloop's own PUBACK to Mosquitto waits for the durable commit (checked in the adapter's tests).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const data = tempDataDir('twinloop-ext-');
let platform: Platform;

beforeAll(async () => {
  platform = await startTestPlatform(data.dir, { mqttUrl: MQTT_URL });
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

async function query(q: string): Promise<unknown[]> {
  const res = await fetch(`${platform.runtime.httpUrl}/query?${API}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: q }),
  });
  return ((await res.json()) as { value: unknown[] }).value;
}

describe('external broker', () => {
  it('reports the external broker and ingests what devices publish there', async () => {
    expect(platform.runtime.mqttMode).toBe('external');
    expect(platform.runtime.mqttUrl).toBe(MQTT_URL);
    // A unique value: the machine's broker is shared with other tests and runs.
    const marker = 1000 + Math.round(Math.random() * 1e6) / 1e3;
    const device = await mqtt.connectAsync(MQTT_URL, { clientId: `ext-dev-${process.pid}` });
    await device.publishAsync('twins/pump-1c/telemetry', JSON.stringify({ temperature: marker }), { qos: 1 });
    await device.endAsync();
    const end = Date.now() + 10_000;
    let rows: unknown[] = [];
    while (Date.now() < end) {
      rows = await query("SELECT T.$telemetry.temperature FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1c'");
      if ((rows[0] as { temperature?: number } | undefined)?.temperature === marker) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows).toEqual([{ temperature: marker }]);
  });

  it('connects with a random client id kept secret in the data folder (0600), not derived from the path', () => {
    const file = join(data.dir, 'mqtt-client-id');
    const id = readFileSync(file, 'utf8').trim();
    expect(id).toMatch(/^twinloop-[0-9a-f]{32}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const predictable = `twinloop-${createHash('sha256').update(data.dir).digest('hex').slice(0, 12)}`;
    expect(id.startsWith(predictable)).toBe(false);
    // Not in what the platform reports about itself either.
    expect(JSON.stringify(platform.runtime)).not.toContain(id);
    for (const f of readdirSync(data.dir).filter((n) => n.endsWith('.json')))
      expect(readFileSync(join(data.dir, f), 'utf8')).not.toContain(id);
  });

  it('sends commands to devices through the external broker', async () => {
    const device = await mqtt.connectAsync(MQTT_URL, { clientId: `ext-cmd-${process.pid}` });
    const got: { topic: string; body: { requestId: string; request: unknown } }[] = [];
    device.on('message', (topic, m) => got.push({ topic, body: JSON.parse(m.toString()) as never }));
    await device.subscribeAsync('twins/pump-1c/commands/+', { qos: 1 });
    // As the contract asks (docs/mqtt.md): a device says it is connected. The shared broker may
    // hold a retained "disconnected" of pump-1c from another test's simulated device, and commands
    // for a device that said so wait queued.
    await device.publishAsync('twins/pump-1c/connection', '{"state":"connected"}', { qos: 1, retain: true });
    const res = await fetch(`${platform.runtime.httpUrl}/digitaltwins/pump-1c/commands/setRunning`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'false',
    });
    expect(res.status).toBe(202);
    const { requestId } = (await res.json()) as { requestId: string };
    const end = Date.now() + 5000;
    // The machine's broker is shared: pick our own request out of whatever else arrives.
    while (!got.some((g) => g.body.requestId === requestId) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    expect(got.find((g) => g.body.requestId === requestId)).toMatchObject({
      topic: 'twins/pump-1c/commands/setRunning',
      body: { requestId, request: false },
    });
    await device.publishAsync('twins/pump-1c/connection', '', { qos: 1, retain: true }); // clears it
    await device.endAsync();
  });
});
