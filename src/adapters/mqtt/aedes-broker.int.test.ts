// The embedded broker with the real ingest stack (SQLite in a temp folder) and real MQTT.js clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcp, createServer } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { TwinloopError } from '../../core/errors/errors.js';
import { AedesBroker, filterMatches } from './aedes-broker.js';
import { createIngestStack } from './mqtt-test-fixture.js';
import type { IngestStack } from './mqtt-test-fixture.js';

let dir: string;
let stack: IngestStack;
let broker: AedesBroker;
const clients: MqttClient[] = [];

async function connect(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

async function raw(twinId: string, path: string) {
  return (
    await stack.history.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 1e15, limit: 1000 })
  ).points;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-aedes-'));
  stack = createIngestStack({ dataDir: dir, twins: 5, synchronous: 'NORMAL' });
  broker = new AedesBroker({ host: '127.0.0.1', port: 0, ingest: stack.service, maxMessageBytes: 64 * 1024 });
  await broker.start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await broker.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AedesBroker', () => {
  it('binds port 0 and stores QoS 1 telemetry before PUBACK', async () => {
    expect(broker.port).toBeGreaterThan(0);
    const c = await connect(broker.url);
    // The PUBACK (publishAsync resolving) comes only after the commit: the rows are there at once.
    await c.publishAsync('twins/pump-1/telemetry', '{"$ts":5000,"temperature":21.5,"vibration":3.2}', {
      qos: 1,
    });
    expect(await raw('pump-1', 'temperature')).toEqual([{ ts: 5000, value: 21.5 }]);
    expect(await raw('pump-1', 'vibration')).toEqual([{ ts: 5000, value: 3.2 }]);
    await c.publishAsync('twinloop/default/twins/pump-2/components/motor/telemetry', '{"current":4}', {
      qos: 1,
    });
    expect(await raw('pump-2', 'motor/current')).toHaveLength(1);
    expect(stack.graph.getTwin('pump-1')!.telemetry.temperature).toEqual({ value: 21.5, time: 5000 });
  });

  it('dead-letters bad messages with their reasons and keeps serving other clients', async () => {
    const bad = await connect(broker.url, { clientId: 'bad-device' });
    const good = await connect(broker.url, { clientId: 'good-device' });
    const cases: [string, string, string][] = [
      ['twins/pump-1/telemetry', '{"temperature": ', 'InvalidTelemetry'],
      ['twins/ghost/telemetry', '{"temperature": 1}', 'DigitalTwinNotFound'],
      ['twins/pump-1/telemetry', '{"humidity": 1}', 'InvalidTelemetry'],
      ['twins/pump-1/telemetry', '{"temperature": "hot"}', 'InvalidTelemetry'],
      ['twins/pump-1/telemetry', `{"pad":"${'x'.repeat(70 * 1024)}"}`, 'PayloadTooLarge'],
      ['twins/a%ZZ/telemetry', '{"temperature": 1}', 'BadRequest'],
    ];
    for (const [topic, payload] of cases) await bad.publishAsync(topic, payload, { qos: 1 });
    await good.publishAsync('twins/pump-3/telemetry', '{"temperature": 30}', { qos: 1 });
    expect(await raw('pump-3', 'temperature')).toHaveLength(1);
    expect(bad.connected).toBe(true);
    const letters = (await stack.deadLetters.list({ workspace: 'default', limit: 100 })).reverse();
    expect(letters.map((l) => l.code)).toEqual(cases.map((c) => c[2]));
    expect(letters.every((l) => l.clientId === 'bad-device' && l.source === 'mqtt')).toBe(true);
    expect(letters[0]!.reason).toMatch(/Malformed JSON at 1:17/);
    expect(letters[1]!.topic).toBe('twins/ghost/telemetry');
    expect(letters[2]!.reason).toMatch(/humidity/);
    expect(letters[3]!.problems?.[0]?.pointer).toBe('/temperature');
    expect(await raw('pump-1', 'temperature')).toEqual([]);
  });

  it('passes other topics through and forwards telemetry to subscribers', async () => {
    const sub = await connect(broker.url);
    const got: string[] = [];
    sub.on('message', (t) => got.push(t));
    await sub.subscribeAsync(['status/#', 'twins/+/telemetry'], { qos: 1 });
    const pub = await connect(broker.url);
    await pub.publishAsync('status/line-1', 'up', { qos: 1 });
    await pub.publishAsync('twins/pump-4/telemetry', '{"rpm": 1450}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(got.sort()).toEqual(['status/line-1', 'twins/pump-4/telemetry']);
    expect(await stack.deadLetters.count('default')).toBe(0);
  });

  it('publishes commands and retained desired state from the platform; devices may not publish there', async () => {
    await broker.publish('twins/pump-1/desired', '{"desired":{"flowSetpoint":20}}', { qos: 1, retain: true });
    const device = await connect(broker.url, { clientId: 'pump-1-device' });
    const got: [string, string][] = [];
    device.on('message', (t, m) => got.push([t, m.toString()]));
    await device.subscribeAsync(['twins/pump-1/commands/+', 'twins/pump-1/desired'], { qos: 1 });
    await broker.publish('twins/pump-1/commands/setRunning', '{"request":false}', { qos: 1, retain: false });
    const deadline = Date.now() + 2000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([
      ['twins/pump-1/desired', '{"desired":{"flowSetpoint":20}}'], // retained: the late subscriber gets it
      ['twins/pump-1/commands/setRunning', '{"request":false}'],
    ]);
    // Another client publishing a command is refused (aedes drops the publish and the connection).
    const rogue = await connect(broker.url, { clientId: 'rogue' });
    rogue.on('error', () => undefined);
    // (no PUBACK comes: do not wait for one)
    rogue.publish('twins/pump-1/commands/setRunning', '{"request":true}', { qos: 1 }, () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toHaveLength(2);
    expect(await stack.deadLetters.count('default')).toBe(0);
  });

  it('requires the token as the password when one is configured', async () => {
    const secured = new AedesBroker({ host: '127.0.0.1', port: 0, ingest: stack.service, token: 's3cret' });
    await secured.start();
    try {
      await expect(
        mqtt.connectAsync(secured.url, { reconnectPeriod: 0, username: 'x', password: 'wrong' }),
      ).rejects.toThrow();
      await expect(mqtt.connectAsync(secured.url, { reconnectPeriod: 0 })).rejects.toThrow();
      const ok = await connect(secured.url, { username: 'device', password: 's3cret' });
      await ok.publishAsync('twins/pump-5/telemetry', '{"flow": 2}', { qos: 1 });
      expect(await raw('pump-5', 'flow')).toHaveLength(1);
      await ok.endAsync(true);
    } finally {
      await secured.close();
    }
  });

  it('turns a busy port into PortInUse with the ways out', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const second = new AedesBroker({ host: '127.0.0.1', port, ingest: stack.service });
      const err = await second.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TwinloopError);
      expect((err as TwinloopError).code).toBe('PortInUse');
      expect((err as TwinloopError).message).toContain(`MQTT port ${port} on 127.0.0.1 is in use`);
      expect((err as TwinloopError).message).toContain('--mqtt-url');
    } finally {
      blocker.close();
    }
  });

  it.each([4, 5] as const)(
    'storage paused (ServiceUnavailable), MQTT v%s: no PUBACK, the device is disconnected, one warning per 10 s, not one per message',
    async (protocolVersion) => {
      const lines: { level: string; msg: string }[] = [];
      let calls = 0;
      const paused = new AedesBroker({
        host: '127.0.0.1',
        port: 0,
        ingest: {
          ingest: () => {
            calls++;
            return Promise.reject(new TwinloopError('ServiceUnavailable', 'History ingest is paused.'));
          },
          reject: () => Promise.reject(new Error('not used')),
        },
        logger: {
          info: (msg) => lines.push({ level: 'info', msg }),
          warn: (msg) => lines.push({ level: 'warn', msg }),
          error: (msg) => lines.push({ level: 'error', msg }),
        },
      });
      await paused.start();
      try {
        for (let i = 0; i < 5; i++) {
          const c = await connect(paused.url, { protocolVersion });
          // MQTT 5: the broker says why (DISCONNECT 0x89 "server busy") instead of a PUBACK with an error.
          const reason = new Promise<number | undefined>((r) => c.once('disconnect', (p) => r(p.reasonCode)));
          const closed = new Promise<void>((r) => c.once('close', () => r()));
          let acked = false;
          c.publish('twins/pump-1/telemetry', `{"temperature": ${i}}`, { qos: 1 }, (err) => {
            if (!err) acked = true;
          });
          await closed; // aedes closes the connection: the device resends after reconnecting
          expect(acked).toBe(false);
          if (protocolVersion === 5) expect(await reason).toBe(0x89);
        }
        expect(calls).toBe(5);
        const refusals = lines.filter((l) => /refused a message/.test(l.msg));
        expect(refusals).toHaveLength(1);
        expect(refusals[0]).toMatchObject({
          level: 'warn',
          msg: expect.stringMatching(/History ingest is paused/),
        });
        expect(lines.filter((l) => l.level === 'error' && /could not store/.test(l.msg))).toHaveLength(0);
      } finally {
        await paused.close();
      }
    },
  );

  it('disconnects a client that leaves too many QoS 2 messages unreleased (no PUBREL)', async () => {
    const lines: string[] = [];
    const capped = new AedesBroker({
      host: '127.0.0.1',
      port: 0,
      ingest: stack.service,
      maxInboundQos2: 3,
      logger: { info: () => undefined, warn: (m) => lines.push(m), error: (m) => lines.push(m) },
    });
    await capped.start();
    try {
      // A raw MQTT 3.1.1 client that never sends PUBREL: CONNECT, then QoS 2 PUBLISH packets.
      const socket = tcp(capped.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('error', () => undefined);
      socket.resume(); // read what the broker sends, so its hang-up is seen
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: 'hoarder',
          keepalive: 30,
        }),
      );
      for (let id = 1; id <= 5; id++)
        socket.write(
          mqttPacket.generate({
            cmd: 'publish',
            topic: 'twins/pump-1/telemetry',
            payload: Buffer.from(`{"temperature": ${id}}`),
            qos: 2,
            messageId: id,
            retain: false,
            dup: false,
          }),
        );
      await closed;
      expect(lines.some((l) => /'hoarder' left 3 QoS 2 messages without PUBREL: disconnected/.test(l))).toBe(
        true,
      );
      // The first three were taken (stored once each); the fourth made the broker hang up.
      expect(await raw('pump-1', 'temperature')).toHaveLength(3);
      // Others go on.
      const ok = await connect(capped.url);
      await ok.publishAsync('twins/pump-2/telemetry', '{"temperature": 1}', { qos: 2 });
      expect(await raw('pump-2', 'temperature')).toHaveLength(1);
    } finally {
      await capped.close();
    }
  });
});

describe('filterMatches', () => {
  it('matches MQTT filters as brokers do', () => {
    expect(filterMatches('twins/+/commands/+', 'twins/p%2F1/commands/x')).toBe(true);
    expect(filterMatches('twins/p1/#', 'twins/p1/commands/x')).toBe(true);
    expect(filterMatches('#', 'twins/p1/commands/x')).toBe(true);
    expect(filterMatches('twins/p1/commands', 'twins/p1/commands/x')).toBe(false);
    expect(filterMatches('twins/p2/commands/+', 'twins/p1/commands/x')).toBe(false);
    expect(filterMatches('twins/p1/commands/+/+', 'twins/p1/commands/x')).toBe(false);
  });
});
