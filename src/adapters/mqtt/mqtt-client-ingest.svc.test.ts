// External-broker mode against the machine's Mosquitto (MQTT_URL), with the real ingest stack.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Packet } from 'mqtt';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { AedesBroker } from './aedes-broker.js';
import { clientIdFingerprint } from './mqtt-client-id.js';
import { MqttClientIngest } from './mqtt-client-ingest.js';
import { createIngestStack, pumpModels } from './mqtt-test-fixture.js';
import type { IngestStack } from './mqtt-test-fixture.js';

const MQTT_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
// The machine's broker is shared: a private topic prefix and client id per run.
const run = randomUUID().slice(0, 8);
const topics = [`tltest-${run}/twins/{twinId}/telemetry`];
const topic = (twin: string) => `tltest-${run}/twins/${twin}/telemetry`;

let dir: string;
let stack: IngestStack;
const cleanup: (() => Promise<unknown>)[] = [];

async function raw(twinId: string, path: string) {
  return (
    await stack.history.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 1e15, limit: 1000 })
  ).points;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Ends the persistent session left on the shared broker. */
async function dropSession(clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(MQTT_URL, {
    clientId,
    clean: true,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 0 },
    reconnectPeriod: 0,
  });
  await c.endAsync();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-extmqtt-'));
  stack = createIngestStack({ dataDir: dir, twins: 5, synchronous: 'NORMAL' });
});

afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('MqttClientIngest (machine Mosquitto)', () => {
  it('ingests good messages and dead-letters bad ones', async () => {
    const clientId = `tl-ingest-${run}-a`;
    const ingest = new MqttClientIngest({ url: MQTT_URL, clientId, topics, ingest: stack.service });
    cleanup.push(
      () => dropSession(clientId),
      () => ingest.close(),
    );
    await ingest.start();
    expect(ingest.connected).toBe(true);
    const pub = await mqtt.connectAsync(MQTT_URL, { reconnectPeriod: 0 });
    cleanup.push(() => pub.endAsync());
    await pub.publishAsync(topic('pump-1'), '{"$ts":1000,"temperature":21}', { qos: 1 });
    await pub.publishAsync(topic('ghost'), '{"temperature":21}', { qos: 1 });
    await pub.publishAsync(topic('pump-1'), '{"temperature":', { qos: 1 });
    await until(
      async () =>
        (await raw('pump-1', 'temperature')).length === 1 && (await stack.deadLetters.count('default')) === 2,
    );
    expect(
      (await stack.deadLetters.list({ workspace: 'default', limit: 10 })).map((l) => l.code).sort(),
    ).toEqual(['DigitalTwinNotFound', 'InvalidTelemetry']);
  });

  it('sends PUBACK only after the commit', async () => {
    const clientId = `tl-ingest-${run}-b`;
    // The real store behind a gate, so the test decides when the commit happens.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let appended = 0;
    const history = stack.history;
    const gatedHistory = Object.create(history) as typeof history;
    gatedHistory.append = async (points: readonly HistoryPoint[]) => {
      await gate;
      await history.append(points);
      appended += points.length;
    };
    const models = pumpModels();
    const service = new IngestService({
      workspace: () => ({ graph: stack.graph, models }),
      history: gatedHistory,
      deadLetters: stack.deadLetters,
      live: stack.live,
    });
    const ingest = new MqttClientIngest({ url: MQTT_URL, clientId, topics, ingest: service });
    cleanup.push(
      () => dropSession(clientId),
      () => ingest.close(),
    );
    await ingest.start();
    const pubacks: number[] = [];
    const c = (ingest as unknown as { client: mqtt.MqttClient }).client;
    c.on('packetsend', (p: Packet) => {
      if (p.cmd === 'puback') pubacks.push(appended);
    });
    const pub = await mqtt.connectAsync(MQTT_URL, { reconnectPeriod: 0 });
    cleanup.push(() => pub.endAsync());
    await pub.publishAsync(topic('pump-2'), '{"vibration":1}', { qos: 1 });
    await pub.publishAsync(topic('pump-2'), '{"vibration":2}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(pubacks).toEqual([]); // received, not committed: not acknowledged
    open();
    await until(() => pubacks.length === 2);
    expect(pubacks.every((n) => n >= 1)).toBe(true); // each PUBACK went out after its append resolved
    expect((await raw('pump-2', 'vibration')).map((p) => p.value)).toEqual([1, 2]);
  });

  it('gets unacknowledged messages again after a restart (persistent session)', async () => {
    const clientId = `tl-ingest-${run}-c`;
    const never = new Promise<void>(() => undefined);
    const history = stack.history;
    const stuck = Object.create(history) as typeof history;
    stuck.append = () => never; // the process "dies" before committing
    const models = pumpModels();
    const first = new MqttClientIngest({
      url: MQTT_URL,
      clientId,
      topics,
      closeTimeoutMs: 300, // its commit never ends: close gives up waiting
      ingest: new IngestService({
        workspace: () => ({ graph: stack.graph, models }),
        history: stuck,
        deadLetters: stack.deadLetters,
        live: stack.live,
      }),
    });
    cleanup.push(() => dropSession(clientId));
    await first.start();
    const pub = await mqtt.connectAsync(MQTT_URL, { reconnectPeriod: 0 });
    cleanup.push(() => pub.endAsync());
    await pub.publishAsync(topic('pump-3'), '{"$ts":7,"flow":3}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await first.close();
    expect(await raw('pump-3', 'flow')).toEqual([]);
    const second = new MqttClientIngest({ url: MQTT_URL, clientId, topics, ingest: stack.service });
    cleanup.push(() => second.close());
    await second.start();
    await until(async () => (await raw('pump-3', 'flow')).length === 1);
    expect(await raw('pump-3', 'flow')).toEqual([{ ts: 7, value: 3 }]);
  });

  it('a graceful stop mid-stream sends the PUBACK of every stored message: nothing stored twice', async () => {
    const clientId = `tl-ingest-${run}-d`;
    // Slow commits: at the stop, messages are always waiting for theirs.
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    stack = createIngestStack({
      dataDir: dir,
      twins: 5,
      synchronous: 'NORMAL',
      history: { commitDelayMs: 100 },
    });
    const logs: string[] = [];
    const log = {
      info: (m: string) => logs.push(m),
      warn: (m: string) => logs.push(m),
      error: (m: string) => logs.push(m),
    };
    const first = new MqttClientIngest({
      url: MQTT_URL,
      clientId,
      topics,
      ingest: stack.service,
      logger: log,
    });
    cleanup.push(() => dropSession(clientId));
    await first.start();
    // The secret client id is never logged; its fingerprint is.
    expect(logs.join('\n')).not.toContain(clientId);
    expect(logs.join('\n')).toContain(`fingerprint ${clientIdFingerprint(clientId)}`);
    const N = 600;
    const pub = await mqtt.connectAsync(MQTT_URL, { reconnectPeriod: 0 });
    cleanup.push(() => pub.endAsync());
    // No $ts: a redelivered message would be stored a second time, so duplicates show.
    const sent = (async () => {
      for (let i = 1; i <= N; i++) {
        await pub.publishAsync(topic('pump-4'), `{"flow":${i}}`, { qos: 1 });
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await until(async () => (await raw('pump-4', 'flow')).length >= 150, 10_000);
    await first.close();
    const second = new MqttClientIngest({ url: MQTT_URL, clientId, topics, ingest: stack.service });
    cleanup.push(() => second.close());
    await second.start();
    await sent;
    await until(async () => new Set((await raw('pump-4', 'flow')).map((p) => p.value)).size === N, 15_000);
    await new Promise((r) => setTimeout(r, 500)); // any late redelivery would land now
    stack.history.flush();
    const values = (await raw('pump-4', 'flow')).map((p) => p.value as number);
    expect(values.length - new Set(values).size).toBe(0); // stored twice: none
    expect(values).toHaveLength(N);
  });

  it('does not crash and keeps retrying when the broker is unreachable', async () => {
    const logs: string[] = [];
    const log = {
      info: (m: string) => logs.push(m),
      warn: (m: string) => logs.push(m),
      error: (m: string) => logs.push(m),
    };
    const ingest = new MqttClientIngest({
      url: 'mqtt://127.0.0.1:1',
      ingest: stack.service,
      startTimeoutMs: 800,
      reconnectDelayMs: 100,
      logger: log,
    });
    cleanup.push(() => ingest.close());
    await ingest.start();
    expect(ingest.connected).toBe(false);
    expect(
      logs.some((m) => m.includes('127.0.0.1:1') && /unreachable|not reachable|ECONNREFUSED/.test(m)),
    ).toBe(true);
  });

  it('reports the machine Mosquitto port as in use when the embedded broker wants it', async () => {
    const { hostname, port } = new URL(MQTT_URL);
    const b = new AedesBroker({ host: hostname, port: Number(port || 1883), ingest: stack.service });
    await expect(b.start()).rejects.toMatchObject({
      code: 'PortInUse',
      message: `MQTT port ${port || 1883} on ${hostname} is in use (is Mosquitto running?). Use --mqtt-port N, TWINLOOP_MQTT_PORT, or --mqtt-url mqtt://${hostname}:${port || 1883} to use that broker instead.`,
    });
  });
});
