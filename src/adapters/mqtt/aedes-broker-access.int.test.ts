// The embedded broker's principals (platform token, device credentials, anonymous), its packet-size
// limit and its graceful stop, with the real ingest stack and real MQTT.js clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { SqliteDeviceCredentialStore } from '../sqlite/sqlite-device-credential-store.js';
import { AedesBroker } from './aedes-broker.js';
import type { AedesBrokerOptions } from './aedes-broker.js';
import { createIngestStack } from './mqtt-test-fixture.js';
import type { IngestStack } from './mqtt-test-fixture.js';

let dir: string;
let stack: IngestStack;
let credentials: SqliteDeviceCredentialStore;
let broker: AedesBroker | undefined;
let logs: string[];
const clients: MqttClient[] = [];

async function start(options: Partial<AedesBrokerOptions> = {}): Promise<AedesBroker> {
  const log = (m: string) => logs.push(m);
  broker = new AedesBroker({
    host: '127.0.0.1',
    port: 0,
    ingest: stack.service,
    credentials,
    maxMessageBytes: 64 * 1024,
    logger: { info: log, warn: log, error: log },
    ...options,
  });
  await broker.start();
  return broker;
}

/** (MQTT 3.1.1 sends a password only with a user name: any will do.) */
const withUser = (opts: mqtt.IClientOptions) =>
  opts.password !== undefined && opts.username === undefined ? { ...opts, username: 'device' } : opts;

async function connect(opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(broker!.url, { reconnectPeriod: 0, ...withUser(opts) });
  c.on('error', () => undefined);
  clients.push(c);
  return c;
}

function refused(opts: mqtt.IClientOptions): Promise<unknown> {
  return mqtt.connectAsync(broker!.url, { reconnectPeriod: 0, ...withUser(opts) }).then(
    (c) => {
      c.end(true);
      throw new Error('connected, but should have been refused');
    },
    (e: unknown) => e,
  );
}

async function raw(twinId: string, path = 'temperature') {
  return (
    await stack.history.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 1e15, limit: 10_000 })
  ).points;
}

/** The SUBACK's granted QoS per filter (128: refused; MQTT.js rejects then, with the packet). */
async function granted(c: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos: 1 })).map((x) => x.qos);
  } catch (e) {
    const g = (e as { packet?: { granted?: number[] } }).packet?.granted;
    if (!g) throw e;
    return g;
  }
}

const closed = (c: MqttClient) => new Promise<void>((r) => (c.connected ? c.once('close', () => r()) : r()));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-aedes-access-'));
  stack = createIngestStack({ dataDir: dir, twins: 5, synchronous: 'NORMAL' });
  credentials = new SqliteDeviceCredentialStore(stack.database.db);
  logs = [];
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  await broker?.close();
  broker = undefined;
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('AedesBroker principals', () => {
  it('a device credential publishes only its twin, reads only its commands and desired state, and its client id is its twin id', async () => {
    await start({ token: 'platform-secret' });
    const pump1 = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    const pump2 = await credentials.create({ workspace: 'default', twinId: 'pump-2' });
    // Another client id than the twin's, or a foreign credential for it, is refused.
    expect(await refused({ clientId: 'gateway', password: pump1.token })).toMatchObject({ code: 2 });
    const dev = await connect({ clientId: 'pump-1', username: 'pump-1', password: pump1.token });
    expect(await refused({ clientId: 'pump-1', password: pump2.token })).toMatchObject({ code: 2 });
    expect(dev.connected).toBe(true);
    await dev.publishAsync('twins/pump-1/telemetry', '{"$ts":1000,"temperature":21}', { qos: 1 });
    await dev.publishAsync('twins/pump-1/components/motor/telemetry', '{"current":3}', { qos: 1 });
    expect(await raw('pump-1')).toEqual([{ ts: 1000, value: 21 }]);
    expect(await raw('pump-1', 'motor/current')).toHaveLength(1);
    expect(
      await granted(dev, [
        'twins/pump-1/commands/+',
        'twins/pump-1/desired',
        '#',
        '$SYS/#',
        'twins/pump-2/commands/+',
        'twins/+/desired',
        'twins/pump-1/telemetry',
      ]),
    ).toEqual([1, 1, 128, 128, 128, 128, 128]);
    // Publishing as another twin closes the connection and stores nothing.
    dev.publish('twins/pump-2/telemetry', '{"$ts":1000,"temperature":99}', { qos: 1 }, () => undefined);
    await closed(dev);
    expect(await raw('pump-2')).toEqual([]);
    expect(logs.some((l) => l.includes("may publish only that twin's telemetry"))).toBe(true);
  });

  it('a device cannot take over another device session; its own reconnect replaces its session', async () => {
    await start({ token: 'platform-secret' });
    const pump1 = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    const pump3 = await credentials.create({ workspace: 'default', twinId: 'pump-3' });
    const dev1 = await connect({ clientId: 'pump-1', password: pump1.token });
    expect(await refused({ clientId: 'pump-1', password: pump3.token })).toMatchObject({ code: 2 });
    expect(await refused({ clientId: 'pump-1', password: 'platform-wrong' })).toMatchObject({ code: 4 });
    await new Promise((r) => setTimeout(r, 50));
    expect(dev1.connected).toBe(true);
    const again = await connect({ clientId: 'pump-1', password: pump1.token });
    await closed(dev1);
    expect(again.connected).toBe(true);
    // A revoked credential no longer connects.
    await credentials.revoke('default', pump1.credential.id);
    expect(await refused({ clientId: 'pump-1', password: pump1.token })).toMatchObject({ code: 4 });
  });

  it('refuses a device as "server unavailable" when its credential cannot be checked, and logs it', async () => {
    const issued = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    await start({
      token: 'platform-secret',
      credentials: {
        verify: () => {
          throw new Error('database is locked');
        },
      },
    });
    expect(await refused({ clientId: 'pump-1', password: issued.token })).toMatchObject({ code: 3 });
    expect(logs.some((l) => l.includes('database is locked'))).toBe(true);
  });

  it('refuses as "server unavailable" when the store answers too late, and a late grant lets nobody in', async () => {
    const issued = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    let release: () => void = () => undefined;
    const answered = new Promise<void>((r) => (release = r));
    await start({
      token: 'platform-secret',
      credentialTimeoutMs: 100,
      credentials: {
        verify: async (token) => {
          await new Promise((r) => setTimeout(r, 400));
          const c = await credentials.verify(token);
          release();
          return c;
        },
      },
    });
    const t0 = Date.now();
    expect(await refused({ clientId: 'pump-1', password: issued.token })).toMatchObject({ code: 3 });
    expect(Date.now() - t0).toBeLessThan(390); // refused at the timeout, not when the store answered
    await answered;
    await new Promise((r) => setTimeout(r, 50));
    expect(broker!.connectedClients).toBe(0);
    expect(logs.some((l) => /longer than 100 ms/.test(l))).toBe(true);
  });

  it('refuses a device as "server unavailable" when the store rejects', async () => {
    const issued = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    await start({
      token: 'platform-secret',
      credentials: { verify: () => Promise.reject(new Error('connection reset by peer')) },
    });
    expect(await refused({ clientId: 'pump-1', password: issued.token })).toMatchObject({ code: 3 });
    expect(logs.some((l) => l.includes('connection reset by peer'))).toBe(true);
  });

  it('refuses a connection whose credential is revoked while it is being checked', async () => {
    const issued = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    let checking: () => void = () => undefined;
    const started = new Promise<void>((r) => (checking = r));
    await start({
      token: 'platform-secret',
      credentials: {
        verify: async (token) => {
          const c = await credentials.verify(token); // still valid when read ...
          checking();
          await new Promise((r) => setTimeout(r, 150)); // ... revoked before the answer
          return c;
        },
      },
    });
    const attempt = refused({ clientId: 'pump-1', password: issued.token });
    await started;
    await credentials.revoke('default', issued.credential.id);
    broker!.disconnectCredential(issued.credential.id);
    expect(await attempt).toMatchObject({ code: 4 });
  });

  it('checks the credential once at connect, never per packet', async () => {
    const issued = await credentials.create({ workspace: 'default', twinId: 'pump-1' });
    let verifies = 0;
    await start({
      token: 'platform-secret',
      credentials: {
        verify: (token) => {
          verifies++;
          return credentials.verify(token);
        },
      },
    });
    const dev = await connect({ clientId: 'pump-1', password: issued.token });
    expect(await granted(dev, ['twins/pump-1/commands/+', 'twins/pump-1/desired', '#'])).toEqual([1, 1, 128]);
    for (let i = 0; i < 20; i++)
      await dev.publishAsync('twins/pump-1/telemetry', `{"$ts":${1000 + i},"temperature":${i}}`, { qos: 1 });
    expect(await raw('pump-1')).toHaveLength(20);
    expect(verifies).toBe(1);
  });

  it('the platform token keeps full rights: $SYS, #, any twin', async () => {
    await start({ token: 'platform-secret' });
    const sim = await connect({ clientId: 'twinloop-sim', password: 'platform-secret' });
    expect(await granted(sim, ['$SYS/#', '#', 'twins/+/commands/+'])).toEqual([1, 1, 1]);
    await sim.publishAsync('twins/pump-4/telemetry', '{"temperature":5}', { qos: 1 });
    expect(await raw('pump-4')).toHaveLength(1);
  });

  it('anonymous clients (auth off) publish and subscribe to twin topics, but get no $SYS and take over no connected session', async () => {
    await start();
    const a = await connect({ clientId: 'pump-2' });
    await a.publishAsync('twins/pump-2/telemetry', '{"temperature":7}', { qos: 1 });
    expect(await raw('pump-2')).toHaveLength(1);
    expect(await granted(a, ['#', 'twins/+/commands/+', '$SYS/#', '$SYS/+/new/clients'])).toEqual([
      1, 1, 128, 128,
    ]);
    // `#` never carries $SYS (which would name every client connecting).
    const seen: string[] = [];
    a.on('message', (t) => seen.push(t));
    (await connect({ clientId: 'another-device' })).end(true);
    expect(await refused({ clientId: 'pump-2' })).toMatchObject({ code: 2 });
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.filter((t) => t.startsWith('$'))).toEqual([]);
    expect(a.connected).toBe(true);
    // A device credential is honoured without auth too: its holder takes over its own twin's id.
    const cred = await credentials.create({ workspace: 'default', twinId: 'pump-2' });
    const dev = await connect({ clientId: 'pump-2', password: cred.token });
    await closed(a);
    expect(dev.connected).toBe(true);
  });
});

describe('AedesBroker packet-size limit', () => {
  it('refuses an oversized packet from its header, disconnects the client and logs it; others go on', async () => {
    await start({ maxPacketBytes: 128 * 1024 });
    const good = await connect({ clientId: 'good' });
    // A raw client announces a 64 MiB PUBLISH and sends only its first bytes: it is cut off at once.
    const sock = tcpConnect(broker!.port, '127.0.0.1');
    const id = Buffer.from('huge');
    const connectBody = Buffer.concat([Buffer.from([0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, id.length]), id]);
    sock.write(Buffer.concat([Buffer.from([0x10, connectBody.length]), connectBody]));
    const length = 64 * 1024 * 1024;
    const varint = [
      (length & 127) | 128,
      ((length >> 7) & 127) | 128,
      ((length >> 14) & 127) | 128,
      length >> 21,
    ];
    sock.write(Buffer.concat([Buffer.from([0x32, ...varint]), Buffer.alloc(16 * 1024, 0x61)]));
    await new Promise<void>((resolve) => sock.once('close', () => resolve()));
    expect(
      logs.filter((l) => /packet of 67108864 bytes, more than the limit of 131072/.test(l)),
    ).toHaveLength(1);
    // MQTT.js with a too-large message: disconnected, nothing stored or dead-lettered.
    const big = await connect({ clientId: 'big' });
    big.publish('twins/pump-1/telemetry', `{"pad":"${'x'.repeat(200 * 1024)}"}`, { qos: 1 }, () => undefined);
    await closed(big);
    expect(await stack.deadLetters.count('default')).toBe(0);
    // Between maxMessageBytes and the packet limit: acknowledged and dead-lettered as before.
    await good.publishAsync('twins/pump-1/telemetry', `{"pad":"${'x'.repeat(70 * 1024)}"}`, { qos: 1 });
    expect((await stack.deadLetters.list({ workspace: 'default', limit: 10 }))[0]?.code).toBe(
      'PayloadTooLarge',
    );
    expect(good.connected).toBe(true);
  });

  it('defaults to twice maxMessageBytes, and at least maxMessageBytes + 64 KiB', async () => {
    await start({ maxMessageBytes: 16 * 1024 });
    const c = await connect({ clientId: 'c' });
    c.publish('twins/pump-1/telemetry', `{"pad":"${'x'.repeat(90 * 1024)}"}`, { qos: 1 }, () => undefined);
    await closed(c);
    expect(logs.some((l) => l.includes('more than the limit of 81920'))).toBe(true);
  });
});

describe('AedesBroker graceful stop', () => {
  it('mid-stream: every stored message got its PUBACK, every PUBACK is stored', async () => {
    // Commits that take a while, so messages are always waiting for one when the stop comes.
    await stack.close();
    stack = createIngestStack({
      dataDir: dir,
      twins: 5,
      synchronous: 'NORMAL',
      history: { commitDelayMs: 150 },
    });
    const b = await start();
    const acked = new Map<string, Set<number>>();
    let total = 0;
    let stopping: Promise<void> | undefined;
    const streams = [1, 2, 3, 4].map(async (k) => {
      const twin = `pump-${k}`;
      const got = new Set<number>();
      acked.set(twin, got);
      const c = await connect({ clientId: `stream-${k}` });
      let next = 1;
      // Devices keep sending while the broker stops.
      const send = (): void => {
        if (!c.connected) return;
        const ts = next++;
        c.publish(`twins/${twin}/telemetry`, `{"$ts":${ts},"temperature":${ts}}`, { qos: 1 }, (err) => {
          if (err) return;
          got.add(ts);
          // Stop half-way through a commit window: messages are waiting for their commit.
          if (++total === 400) {
            setTimeout(() => {
              stopping = b.close();
            }, 75);
          }
          send();
        });
      };
      for (let i = 0; i < 50; i++) send();
      await closed(c);
    });
    await Promise.all(streams);
    expect(stopping).toBeDefined();
    await stopping;
    broker = undefined;
    // Whatever was still being committed is in the store now.
    await new Promise((r) => setTimeout(r, 300));
    stack.history.flush();
    let unacked = 0;
    for (const [twin, got] of acked) {
      const stored = (await raw(twin)).map((p) => p.ts);
      unacked += stored.filter((ts) => !got.has(ts)).length;
      expect([...got].filter((ts) => !stored.includes(ts))).toEqual([]); // none acknowledged lost
    }
    expect(unacked).toBe(0); // no resend needed for a stored message
    expect(total).toBeGreaterThanOrEqual(400);
  });
});
