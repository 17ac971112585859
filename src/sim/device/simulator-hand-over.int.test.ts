/**
 * The simulator's hand-over rule (docs/simulation.md): a reading of a simulated twin sent by anyone
 * else (HTTP or MQTT) wins over the simulator for that telemetry, for a while; the twin's other
 * telemetry goes on; a fault or a command gives the twin back to the simulator at once.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, startTestPlatform, tempDataDir, waitFor } from '../../../test/platform/platform-fixture.js';
import type { Platform } from '../../app/platform.js';
import { startMqttSimulator as startSimulator } from '../../adapters/mqtt/mqtt-simulator-publisher.js';
import type { Simulator } from './device-simulator.js';

const data = tempDataDir('twinloop-handover-');
let p: Platform;

async function api(method: string, route: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${p.runtime.httpUrl}${route}${route.includes('?') ? '&' : '?'}${API}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

const latest = async (twin: string, name: string): Promise<unknown> =>
  (
    (await api('POST', '/query', {
      query: `SELECT T.$telemetry.${name} FROM DIGITALTWINS T WHERE T.$dtId = '${twin}'`,
    })) as { value: Record<string, unknown>[] }
  ).value[0]?.[name];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // The default mode of `npm start`: simulator and shadow on, at the pilot's speed (×60).
  p = await startTestPlatform(data.dir, { sim: 'on', shadow: 'on' });
});
afterAll(async () => {
  await p?.stop();
  data.cleanup();
});

describe('values sent by hand win over the simulator', () => {
  it('keeps a value sent over HTTP as the latest while the rest of the twin stays simulated', async () => {
    const sim = p.simulator!;
    await waitFor('simulated readings', () => sim.stats().published > 20);
    await api('POST', '/digitaltwins/pump-3a/telemetry', { vibration: 7.4, temperature: 61.5, flow: 52 });
    const pressureBefore = await latest('pump-3a', 'dischargePressure');
    const published = sim.stats().published;
    // At ×60 the simulator publishes pump-3a six times a second: two seconds would overwrite it.
    await sleep(2000);
    expect(sim.stats().published).toBeGreaterThan(published + 20);
    expect(await latest('pump-3a', 'vibration')).toBe(7.4);
    expect(await latest('pump-3a', 'temperature')).toBe(61.5);
    expect(await latest('pump-3a', 'flow')).toBe(52);
    // The telemetry not sent by hand is still the simulator's.
    expect(await latest('pump-3a', 'dischargePressure')).not.toBe(pressureBefore);
    expect(sim.handedOver('pump-3a').map((h) => h.name)).toEqual(['flow', 'temperature', 'vibration']);
    const until = sim.handedOver('pump-3a')[0]!.until;
    expect(until - Date.now()).toBeGreaterThan(9 * 60_000); // ten minutes by default
    expect(sim.stats().handedOver).toBeGreaterThanOrEqual(1);
    // History: the newest vibration of pump-3a is the one sent.
    const h = (await api(
      'GET',
      `/digitaltwins/pump-3a/history?path=vibration&order=desc&limit=1&from=${Date.now() - 60_000}`,
    )) as { value: { value: number }[] };
    expect(h.value[0]?.value).toBe(7.4);
  });

  it('does the same for a value published over MQTT by another client', async () => {
    const c = await mqtt.connectAsync(p.runtime.mqttUrl, { clientId: 'hand-test' });
    try {
      await c.publishAsync('twins/pump-3b/telemetry', JSON.stringify({ vibration: 8.1, temperature: 64 }), {
        qos: 1,
      });
    } finally {
      await c.endAsync();
    }
    await sleep(1500);
    expect(await latest('pump-3b', 'vibration')).toBe(8.1);
    // The README's headline query finds exactly the two pumps sent by hand.
    const rows = (
      (await api('POST', '/query', {
        query:
          "SELECT P.$dtId, P.$telemetry.vibration FROM DIGITALTWINS L JOIN P RELATED L.hasEquipment WHERE L.$dtId = 'line-3' AND P.$telemetry.vibration > 7",
      })) as { value: { $dtId: string }[] }
    ).value
      .map((r) => r.$dtId)
      .sort();
    expect(rows).toEqual(['pump-3a', 'pump-3b']);
  });

  it('gives the twin back to the simulator on a fault or a command', async () => {
    const sim = p.simulator!;
    await api('POST', '/simulator/faults', { twinId: 'pump-3a', fault: 'bearingDamage', on: true });
    expect(sim.handedOver('pump-3a')).toEqual([]);
    const deadline = Date.now() + 10_000;
    while ((await latest('pump-3a', 'vibration')) === 7.4 && Date.now() < deadline) await sleep(100);
    expect(await latest('pump-3a', 'vibration')).not.toBe(7.4);

    await api('POST', '/digitaltwins/pump-3b/commands/setRunning', false);
    await waitFor('pump-3b given back', () => sim.handedOver('pump-3b').length === 0, 5000);
    const d2 = Date.now() + 10_000;
    while ((await latest('pump-3b', 'running')) !== false && Date.now() < d2) await sleep(100);
    expect(await latest('pump-3b', 'running')).toBe(false);
  });
});

describe('hand-over expiry', () => {
  it('publishes the telemetry again once the hand-over time has passed', async () => {
    // A second simulator on the same broker, with a short hand-over and its own clock, playing a
    // pump created now (the platform's simulator does not play it).
    await api('PUT', '/digitaltwins/pump-9z', {
      $metadata: { $model: 'dtmi:twinloop:pumpline:Pump;1' },
      serialNumber: 'P-9Z',
      motor: { $metadata: {} },
    });
    let clock = Date.now();
    const sim: Simulator = await startSimulator({
      pilot: 'pump-line',
      catalog: p.behaviours,
      twins: [{ id: 'pump-9z', modelId: 'dtmi:twinloop:pumpline:Pump;1' }],
      mqttUrl: p.runtime.mqttUrl,
      speed: 60,
      live: p.live,
      handOverMs: 60_000,
      now: () => clock,
    });
    try {
      await api('POST', '/digitaltwins/pump-9z/telemetry', { vibration: 9.9 });
      await waitFor('the hand-over', () => sim.handedOver('pump-9z').length === 1, 5000);
      expect(sim.handedOver('pump-9z')).toEqual([{ name: 'vibration', until: clock + 60_000 }]);
      clock += 61_000; // a minute later
      expect(sim.handedOver('pump-9z')).toEqual([]);
      const published = sim.stats().published;
      await waitFor('new readings', () => sim.stats().published > published + 3, 5000);
      expect(sim.stats().handedOver).toBe(0);
    } finally {
      await sim.stop();
    }
  });
});
