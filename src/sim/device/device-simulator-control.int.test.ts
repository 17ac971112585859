/**
 * The device simulator as a reference device, against the real embedded broker (aedes, token auth
 * on) and real MQTT.js observers (MQTT 5 and 3.1.1): each simulated twin's own connection with its
 * presence and last will, commands answered on the response topic (Correlation Data echoed,
 * refused ones 400, duplicates answered but not applied twice), desired state reported with $ack,
 * offline/online by hand, the device-connection cap, and hostile control messages.
 * Commands and desired state are published in-process by the broker, as the platform does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AedesBroker } from '../../adapters/mqtt/aedes-broker.js';
import { createIngestStack, type IngestStack } from '../../adapters/mqtt/mqtt-test-fixture.js';
import { startMqttSimulator } from '../../adapters/mqtt/mqtt-simulator-publisher.js';
import { pilotWorkspace } from '../../app/pilot-workspace.js';
import type { CommandMessage } from '../../core/control/device-topics.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { Simulator, SimulatorLogger } from './device-simulator.js';

const TOKEN = 'simulator-test-token';

interface Seen {
  topic: string;
  payload: string;
  packet: IPublishPacket;
  at: number;
}

/** A broker with the real ingest stack (the pilot's twins are unknown to it: dead letters) and a simulator. */
async function startRig(
  options: {
    deviceConnections?: number;
    auth?: boolean;
    beforeSimulator?: (url: string) => Promise<MqttClient>;
    logger?: SimulatorLogger;
    readOnlyProperty?: (twinId: string, name: string) => boolean;
    /** Retained desired-state documents published before the simulator starts (twin → document). */
    desired?: Record<string, unknown>;
  } = {},
) {
  const auth = options.auth ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'twinloop-simctl-'));
  const stack: IngestStack = createIngestStack({ dataDir: dir, twins: 1, synchronous: 'NORMAL' });
  const broker = new AedesBroker({
    host: '127.0.0.1',
    port: 0,
    ingest: stack.service,
    ...(auth ? { token: TOKEN } : {}),
  });
  await broker.start();
  const clients: MqttClient[] = [];
  const observe = async (filters: string[], protocolVersion: 4 | 5) => {
    const c = await mqtt.connectAsync(broker.url, {
      protocolVersion,
      reconnectPeriod: 0,
      ...(auth ? { username: 'observer', password: TOKEN } : {}),
    });
    clients.push(c);
    const seen: Seen[] = [];
    c.on('message', (topic, payload, packet) =>
      seen.push({ topic, payload: payload.toString(), packet, at: Date.now() }),
    );
    await c.subscribeAsync(filters, { qos: 1 });
    return seen;
  };
  const v5 = await observe(['twins/+/commands/+/response', 'twins/+/reported', 'twins/+/connection'], 5);
  const v4 = await observe(['twins/+/commands/+/response'], 4);
  const telemetry = await observe(['twins/+/telemetry'], 4);
  if (options.beforeSimulator) clients.push(await options.beforeSimulator(broker.url));
  for (const [twin, doc] of Object.entries(options.desired ?? {}))
    await broker.publish(`twins/${twin}/desired`, JSON.stringify(doc), { qos: 1, retain: true });
  const started = Date.now();
  const sim: Simulator = await startMqttSimulator({
    pilot: 'pump-line',
    ...(await pilotWorkspace('pump-line')),
    mqttUrl: broker.url,
    ...(auth ? { password: TOKEN } : {}),
    speed: 60,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.readOnlyProperty ? { readOnlyProperty: options.readOnlyProperty } : {}),
    ...(options.deviceConnections !== undefined ? { deviceConnections: options.deviceConnections } : {}),
  });
  let n = 0;
  /** Publishes a command as the platform does (in-process, QoS 1), MQTT 5 properties optional. */
  const command = async (
    twinId: string,
    name: string,
    o: { request?: unknown; requestId?: string; mqtt5?: boolean } = {},
  ): Promise<string> => {
    const requestId = o.requestId ?? `req-${++n}`;
    const responseTopic = `twins/${twinId}/commands/${name}/response`;
    const msg: CommandMessage = {
      requestId,
      command: name,
      ...(o.request !== undefined ? { request: o.request } : {}),
      sentAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      responseTopic,
    };
    await broker.publish(`twins/${twinId}/commands/${name}`, JSON.stringify(msg), {
      qos: 1,
      retain: false,
      ...(o.mqtt5 ? { properties: { responseTopic, correlationData: Buffer.from(requestId) } } : {}),
    });
    return requestId;
  };
  const close = async () => {
    await sim.stop();
    for (const c of clients) c.end(true);
    await broker.close();
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { broker, sim, v5, v4, telemetry, command, close, startMs: Date.now() - started };
}

async function until<T>(what: string, get: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const json = (s: Seen): Record<string, unknown> => JSON.parse(s.payload) as Record<string, unknown>;
const responseTo = (seen: Seen[], requestId: string) =>
  until(`the response to ${requestId}`, () => seen.find((s) => s.payload.includes(`"${requestId}"`)));
const lastOn = (seen: Seen[], topic: string) => [...seen].reverse().find((s) => s.topic === topic);

describe('the device simulator as a reference device', () => {
  let rig: Awaited<ReturnType<typeof startRig>>;
  beforeAll(async () => {
    rig = await startRig({ desired: { 'pump-3d': { desired: { flowSetpoint: 30 }, $version: 1 } } });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('gives each simulated twin its own connection: connected (retained) after subscribing', async () => {
    const { sim, v5 } = rig;
    expect(sim.stats().deviceConnections).toBe(sim.stats().assets);
    for (const id of ['pump-3a', 'pump-3b', 'pump-1a']) {
      const m = await until(`${id} connected`, () => lastOn(v5, `twins/${id}/connection`));
      expect(json(m)).toEqual({ state: 'connected' });
    }
    // The presence is retained: a client that subscribes later still sees it.
    const late = await mqtt.connectAsync(rig.broker.url, {
      reconnectPeriod: 0,
      password: TOKEN,
      username: 'late',
    });
    try {
      const got: string[] = [];
      late.on('message', (_t, p) => got.push(p.toString()));
      await late.subscribeAsync('twins/pump-3a/connection', { qos: 1 });
      await until('the retained presence', () => got.length > 0);
      expect(JSON.parse(got[0] ?? '')).toEqual({ state: 'connected' });
    } finally {
      late.end(true);
    }
  });

  it('reports the desired state waiting for it (retained) as soon as it connects', async () => {
    const r = await until('pump-3d reported', () => lastOn(rig.v5, 'twins/pump-3d/reported'));
    expect(json(r)).toEqual({ flowSetpoint: 30, $ack: { version: 1, code: 200 } });
    expect(rig.sim.stats().unanswered).toBe(0);
  });

  it('answers an MQTT 5 command on its Response Topic with the Correlation Data, and applies it', async () => {
    const { v5, telemetry, command, sim } = rig;
    const before = sim.stats().commands;
    const id = await command('pump-3c', 'setRunning', { request: false, mqtt5: true });
    const r = await responseTo(v5, id);
    expect(r.topic).toBe('twins/pump-3c/commands/setRunning/response');
    expect(json(r)).toEqual({ requestId: id, status: 200, response: true }); // `accepted`: boolean
    expect(r.packet.properties?.correlationData?.toString()).toBe(id);
    expect(sim.stats().commands).toBe(before + 1);
    await until(
      'pump-3c to report running = false',
      () =>
        lastOn(telemetry, 'twins/pump-3c/telemetry')?.payload.includes('"running":0') ||
        lastOn(telemetry, 'twins/pump-3c/telemetry')?.payload.includes('"running":false'),
    );
  });

  it('answers with the requestId a 3.1.1 subscriber gets (no MQTT 5 properties)', async () => {
    const { v4, command } = rig;
    const id = await command('pump-3c', 'setRunning', { request: true });
    const r = await responseTo(v4, id);
    expect(json(r)).toEqual({ requestId: id, status: 200, response: true });
    expect(r.packet.properties).toBeUndefined();
  });

  it('answers 400 with the reason for a command the device refuses', async () => {
    const { v5, command, sim } = rig;
    const before = sim.stats().commands;
    const unknown = await command('pump-3d', 'selfDestruct', { mqtt5: true });
    const u = json(await responseTo(v5, unknown));
    expect(u.status).toBe(400);
    expect(JSON.stringify(u.response)).toMatch(/selfDestruct/);
    const bad = await command('pump-3d', 'setRunning', { request: 'fast' });
    const b = json(await responseTo(v5, bad));
    expect(b.status).toBe(400);
    expect((b.response as { error: string }).error.length).toBeGreaterThan(0);
    expect(sim.stats().commands).toBe(before);
  });

  it('answers a duplicate requestId again, the same way, without applying it twice', async () => {
    const { v5, command, sim } = rig;
    const before = sim.stats().commands;
    await command('pump-1a', 'setRunning', { request: true, requestId: 'dup-1' });
    await command('pump-1a', 'setRunning', { request: true, requestId: 'dup-1' });
    await until('two answers to dup-1', () => v5.filter((s) => s.payload.includes('"dup-1"')).length === 2);
    const answers = v5.filter((s) => s.payload.includes('"dup-1"'));
    expect(answers[0]?.payload).toBe(answers[1]?.payload);
    expect(json(answers[0] as Seen).status).toBe(200);
    expect(sim.stats().commands).toBe(before + 1);
  });

  it('reports desired state it applied with $ack of the version; 400 with a description for a bad value', async () => {
    const { broker, v5 } = rig;
    const publish = (desired: Record<string, unknown>, version: number) =>
      broker.publish(
        'twins/pump-3a/desired',
        JSON.stringify({
          desired,
          $version: version,
          $etag: 'W/"e"',
          $lastUpdateTime: new Date().toISOString(),
        }),
        { qos: 1, retain: true },
      );
    await publish({ flowSetpoint: 20 }, 7);
    const ok = await until('reported version 7', () =>
      v5.find((s) => s.topic === 'twins/pump-3a/reported' && s.payload.includes('"version":7')),
    );
    expect(json(ok)).toMatchObject({ flowSetpoint: 20, $ack: { version: 7, code: 200 } });
    // vibrationLimit is a writable property the behaviour computes: reported only once applied.
    expect(json(ok).vibrationLimit).toBeUndefined();
    await publish({ flowSetpoint: 'max' }, 8);
    const bad = await until('reported version 8', () =>
      v5.find((s) => s.topic === 'twins/pump-3a/reported' && s.payload.includes('"version":8')),
    );
    const ack = json(bad).$ack as { version: number; code: number; description: string };
    expect(ack).toMatchObject({ version: 8, code: 400 });
    expect(ack.description).toMatch(/flowSetpoint/);
    expect(json(bad).flowSetpoint).toBeUndefined();
  });

  it('goes offline (the will arrives, no telemetry, no answers) and comes back online', async () => {
    const { sim, v5, telemetry, command } = rig;
    const id = 'pump-3b';
    const topic = `twins/${id}/telemetry`;
    await until('telemetry of pump-3b', () => lastOn(telemetry, topic));
    const cut = Date.now();
    await sim.connection(id, 'offline');
    const will = await until('the will of pump-3b', () =>
      v5.find(
        (s) => s.topic === `twins/${id}/connection` && s.at >= cut && s.payload.includes('disconnected'),
      ),
    );
    expect(json(will)).toEqual({ state: 'disconnected' });
    expect(sim.offline()).toEqual([id]);
    expect(sim.stats().offline).toBe(1);
    await new Promise((r) => setTimeout(r, 300)); // readings already in flight land
    const quietFrom = Date.now();
    const unanswered = await command(id, 'setRunning', { request: true, mqtt5: true });
    await new Promise((r) => setTimeout(r, 1200)); // ~7 readings' worth at speed 60
    expect(telemetry.filter((s) => s.topic === topic && s.at >= quietFrom)).toEqual([]);
    expect(v5.some((s) => s.payload.includes(`"${unanswered}"`))).toBe(false);
    // Other twins go on.
    expect(telemetry.some((s) => s.topic === 'twins/pump-3a/telemetry' && s.at >= quietFrom)).toBe(true);

    const back = Date.now();
    await sim.connection(id, 'online');
    const connected = await until('pump-3b connected again', () =>
      v5.find(
        (s) => s.topic === `twins/${id}/connection` && s.at >= back && s.payload.includes('"connected"'),
      ),
    );
    expect(json(connected)).toEqual({ state: 'connected' });
    await until('pump-3b telemetry again', () => telemetry.find((s) => s.topic === topic && s.at >= back));
    expect(sim.offline()).toEqual([]);
    // And it answers commands again.
    const id2 = await command(id, 'setRunning', { request: true, mqtt5: true });
    expect(json(await responseTo(v5, id2)).status).toBe(200);
  }, 20_000);

  it('refuses offline for a twin it does not simulate, with a clear error', async () => {
    const e = await rig.sim.connection('no-such-pump', 'offline').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(TwinloopError);
    expect((e as TwinloopError).code).toBe('NotFound');
    expect((e as TwinloopError).message).toContain("'no-such-pump' is not simulated");
  });

  it('answers hostile command messages 400 (MQTT 5) or rejects them (logged), never crashes', async () => {
    const { broker, v5, command, sim } = rig;
    const rejected = sim.stats().rejected;
    const hostile = [
      '{"requestId": "x", ',
      '{"requestId":"p","request":{"__proto__":{"polluted":true}}}',
      JSON.stringify({ requestId: 'h', request: 'x'.repeat(200_000) }),
      `{"requestId":"d","request":${'['.repeat(1000)}${']'.repeat(1000)}}`,
      '"just a string"',
    ];
    let i = 0;
    for (const raw of hostile) {
      const corr = `hostile-${i++}`;
      await broker.publish('twins/pump-1b/commands/setRunning', raw, {
        qos: 1,
        retain: false,
        properties: {
          responseTopic: 'twins/pump-1b/commands/setRunning/response',
          correlationData: Buffer.from(corr),
        },
      });
      const a = await until(`an answer for ${corr}`, () =>
        v5.find((s) => s.packet.properties?.correlationData?.toString() === corr),
      );
      expect(json(a).status).toBe(400);
      // Without correlation data nothing can match an answer: counted and logged.
      await broker.publish('twins/pump-1b/commands/setRunning', raw, { qos: 1, retain: false });
    }
    // A desired-state document with a forbidden key.
    await broker.publish('twins/pump-1b/desired', '{"desired":{"__proto__":{}},"$version":1}', {
      qos: 1,
      retain: false,
    });
    await until('the rejections counted', () => sim.stats().rejected >= rejected + hostile.length * 2 + 1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Still a working device.
    const ok = await command('pump-1b', 'setRunning', { request: true, mqtt5: true });
    expect(json(await responseTo(v5, ok)).status).toBe(200);
  }, 20_000);
});

describe('the device simulator with more twins than device connections', () => {
  let rig: Awaited<ReturnType<typeof startRig>>;
  beforeAll(async () => {
    // vibrationLimit counts as read-only here, to see it reported (the pilot's model makes it writable).
    rig = await startRig({
      deviceConnections: 2,
      readOnlyProperty: (_twin, name) => name === 'vibrationLimit',
    });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('reports the read-only properties its behaviour knows with desired state (pump-3c: shared connection)', async () => {
    const { broker, v5 } = rig;
    await until('a first reading of pump-3c', () => rig.sim.stats().published > 20);
    await broker.publish('twins/pump-3c/desired', JSON.stringify({ desired: {}, $version: 3 }), {
      qos: 1,
      retain: true,
    });
    const r = await until('pump-3c reported', () => lastOn(v5, 'twins/pump-3c/reported'));
    expect(json(r)).toEqual({ vibrationLimit: 7.1, $ack: { version: 3, code: 200 } });
  });

  it('opens only the cap; the other twins answer on the shared connection and cannot go offline alone', async () => {
    const { sim, v5, command } = rig;
    expect(sim.stats().deviceConnections).toBe(2);
    // pump-1a and pump-1b are the first two ids; pump-3c has no connection of its own.
    await until('pump-1a connected', () => lastOn(v5, 'twins/pump-1a/connection'));
    expect(lastOn(v5, 'twins/pump-3c/connection')).toBeUndefined();
    const id = await command('pump-3c', 'setRunning', { request: false, mqtt5: true });
    const r = await responseTo(v5, id);
    expect(json(r)).toEqual({ requestId: id, status: 200, response: true });
    expect(r.packet.properties?.correlationData?.toString()).toBe(id);
    const own = await command('pump-1a', 'setRunning', { request: false });
    expect(json(await responseTo(v5, own)).status).toBe(200);
    expect(sim.stats().commands).toBe(2); // each applied once, not once per connection
    const e = await sim.connection('pump-3c', 'offline').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((e as TwinloopError).code).toBe('BadRequest');
    expect((e as TwinloopError).message).toMatch(/no device connection of its own/);
  });
});

describe('the device simulator when a device cannot connect', () => {
  let rig: Awaited<ReturnType<typeof startRig>>;
  const warnings: string[] = [];
  beforeAll(async () => {
    // Without auth, a client id in use is refused: pump-1a's device cannot connect.
    rig = await startRig({
      auth: false,
      beforeSimulator: (url) => mqtt.connectAsync(url, { clientId: 'pump-1a', reconnectPeriod: 0 }),
      logger: { info: () => undefined, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
  }, 30_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('starts without waiting for it (logged once), and the other devices work', async () => {
    const { sim, v5, command } = rig;
    expect(rig.startMs).toBeLessThan(4000); // not held up by the 5 s connect timeout
    expect(sim.stats().deviceConnections).toBe(sim.stats().assets - 1);
    expect(warnings.filter((w) => w.includes('pump-1a'))).toHaveLength(1);
    expect(warnings.find((w) => w.includes('pump-1a'))).toMatch(/keeps trying/);
    const id = await command('pump-1b', 'setRunning', { request: false, mqtt5: true });
    expect(json(await responseTo(v5, id)).status).toBe(200);
  });
});
