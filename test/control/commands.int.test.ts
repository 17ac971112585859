/**
 * Durable commands end to end (docs/control.md): the platform with its embedded broker, devices as
 * real MQTT clients (MQTT 5 and 3.1.1) with the twin id as client id, the HTTP API. Covers the
 * round trip to succeeded, queueing for an offline device and the drain in order on reconnect,
 * expiry, cancel, invalid and stray answers kept as dead letters, and hostile requests.
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { CommandService } from '../../src/core/control/command-service.js';
import type { LiveEvent } from '../../src/core/live/live-events.js';
import { httpCaller, type HttpCall } from '../support/http-call.js';
import { startTestPlatform, tempDataDir, waitFor } from '../platform/platform-fixture.js';

const data = tempDataDir('twinloop-commands-');
let platform: Platform;
let call: HttpCall;
const events: LiveEvent[] = [];
const devices: MqttClient[] = [];

interface Command {
  requestId: string;
  state: string;
  steps: { state: string; at: string }[];
  status?: number;
  response?: unknown;
  reason?: string;
}

interface Received {
  topic: string;
  body: { requestId: string; command: string; request?: unknown; responseTopic: string; expiresAt: string };
  responseTopic?: string;
  correlationData?: string;
}

/** A device: connects as its twin, subscribes to its commands, records what it receives. */
async function device(twinId: string, opts: IClientOptions = {}) {
  const client = await mqtt.connectAsync(platform.runtime.mqttUrl, {
    reconnectPeriod: 0,
    clientId: twinId,
    protocolVersion: 5,
    ...opts,
  });
  devices.push(client);
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    const cd = packet.properties?.correlationData;
    got.push({
      topic,
      body: JSON.parse(payload.toString()) as Received['body'],
      ...(packet.properties?.responseTopic ? { responseTopic: packet.properties.responseTopic } : {}),
      ...(cd ? { correlationData: cd.toString() } : {}),
    });
  });
  await client.subscribeAsync(`twins/${twinId}/commands/+`, { qos: 1 });
  return { client, got };
}

async function send(twinId: string, command: string, body?: unknown, query = ''): Promise<Command> {
  const r = await call('POST', `/digitaltwins/${twinId}/commands/${command}${query}`, body);
  expect(r.status, JSON.stringify(r.json)).toBe(202);
  return r.json as unknown as Command;
}

async function get(twinId: string, requestId: string): Promise<Command> {
  return (await call('GET', `/digitaltwins/${twinId}/commands/${requestId}`)).json as unknown as Command;
}

async function until(twinId: string, requestId: string, state: string): Promise<Command> {
  let c = await get(twinId, requestId);
  const deadline = Date.now() + 10_000;
  while (c.state !== state && Date.now() < deadline) {
    const r = await call(
      'GET',
      `/digitaltwins/${twinId}/commands/${requestId}?afterSteps=${c.steps.length}&waitSeconds=2`,
    );
    c = r.json as unknown as Command;
  }
  expect(c.state, JSON.stringify(c)).toBe(state);
  return c;
}

async function lettersOf(code: string) {
  const r = await call('GET', '/deadletters?limit=100');
  return (r.json.value ?? []).filter((l) => l.code === code);
}

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
  call = httpCaller(() => platform.runtime.httpUrl, platform.token ?? '');
  platform.live.subscribe((evs) => events.push(...evs.filter((e) => e.type === 'command')));
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.endAsync(true)));
});
afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('commands', () => {
  it('round trip to succeeded: sent with response topic and correlation data, acknowledged, answered', async () => {
    const d = await device('pump-1a');
    const c = await send('pump-1a', 'setRunning', false);
    expect(c.state).toBe('sent'); // the device is subscribed: it went out at once
    await waitFor('the command to arrive', () => d.got.length === 1);
    const m = d.got[0]!;
    expect(m.topic).toBe('twins/pump-1a/commands/setRunning');
    expect(m.body).toMatchObject({ requestId: c.requestId, command: 'setRunning', request: false });
    expect(m.responseTopic).toBe('twins/pump-1a/commands/setRunning/response');
    expect(m.body.responseTopic).toBe(m.responseTopic);
    expect(m.correlationData).toBe(c.requestId);
    // MQTT 5: the answer may name its request by correlation data only. 202: under way.
    const answer = (body: unknown) =>
      d.client.publishAsync(m.responseTopic!, JSON.stringify(body), {
        qos: 1,
        properties: { correlationData: Buffer.from(c.requestId) },
      });
    await answer({ status: 202 });
    expect((await get('pump-1a', c.requestId)).state).toBe('acknowledged'); // PUBACK came after the commit
    await answer({ status: 202 }); // a repeated 202 changes nothing
    await answer({ status: 200, response: true });
    const done = await get('pump-1a', c.requestId); // PUBACK came after the commit
    expect(done).toMatchObject({ state: 'succeeded', status: 200, response: true });
    expect(done.steps.map((s) => s.state)).toEqual(['queued', 'sent', 'acknowledged', 'succeeded']);
    const times = done.steps.map((s) => Date.parse(s.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const mine = events.filter((e) => e.type === 'command' && e.command.requestId === c.requestId);
    expect(mine.map((e) => (e as { state: string }).state)).toEqual([
      'queued',
      'sent',
      'acknowledged',
      'succeeded',
    ]);
  });

  it('waits queued for an offline device and delivers in order when it comes back', async () => {
    const first = await send('pump-1b', 'setRunning', true);
    const second = await send('pump-1b', 'setRunning', false);
    expect([first.state, second.state]).toEqual(['queued', 'queued']);
    const listed = await call('GET', '/digitaltwins/pump-1b/commands?state=queued');
    expect(listed.json.value?.map((x) => x.requestId)).toEqual([second.requestId, first.requestId]);
    const d = await device('pump-1b');
    await waitFor('both commands', () => d.got.length === 2);
    expect(d.got.map((g) => g.body.requestId)).toEqual([first.requestId, second.requestId]);
    expect(d.got.map((g) => g.body.request)).toEqual([true, false]);
    for (const g of d.got)
      await d.client.publishAsync(
        g.responseTopic!,
        JSON.stringify({ requestId: g.body.requestId, status: 200, response: true }),
        { qos: 1 },
      );
    expect((await get('pump-1b', first.requestId)).state).toBe('succeeded');
    expect((await get('pump-1b', second.requestId)).state).toBe('succeeded');
  });

  it('serves MQTT 3.1.1 devices: the request id is in the message, the answer names it', async () => {
    const d = await device('pump-1c', { protocolVersion: 4 });
    const c = await send('pump-1c', 'setRunning', true);
    await waitFor('the command', () => d.got.length === 1);
    expect(d.got[0]!.correlationData).toBeUndefined();
    await d.client.publishAsync(
      d.got[0]!.body.responseTopic,
      JSON.stringify({ requestId: d.got[0]!.body.requestId, status: 204 }),
      { qos: 1 },
    );
    // 204 without a payload: the response schema (boolean 'accepted') is required, so it failed.
    const done = await get('pump-1c', c.requestId);
    expect(done).toMatchObject({ state: 'failed', status: 204 });
    expect(done.reason).toMatch(/has no 'accepted'/);
  });

  it('fails a command whose answer does not match the response schema, or reports an error', async () => {
    const d = await device('pump-3c');
    const a = await send('pump-3c', 'setRunning', true);
    const b = await send('pump-3c', 'setRunning', false);
    const answer = (requestId: string, body: unknown) =>
      d.client.publishAsync(
        'twins/pump-3c/commands/setRunning/response',
        JSON.stringify({ requestId, ...(body as object) }),
        { qos: 1 },
      );
    await waitFor('both commands', () => d.got.length === 2);
    await answer(a.requestId, { status: 200, response: 'yes' });
    await answer(b.requestId, { status: 503, response: { message: 'motor overheated' } });
    const fa = await get('pump-3c', a.requestId);
    expect(fa).toMatchObject({ state: 'failed', status: 200, response: 'yes' });
    expect(fa.reason).toMatch(/response schema of 'setRunning' at \/response/);
    const fb = await get('pump-3c', b.requestId);
    expect(fb).toMatchObject({ state: 'failed', status: 503 });
    expect(fb.reason).toBe('The device answered 503: motor overheated.');
  });

  it('expires a command nobody answers, saying what it waited for', async () => {
    const c = await send('pump-3a', 'setRunning', true, '?expirySeconds=1');
    const done = await until('pump-3a', c.requestId, 'expired');
    expect(done.reason).toMatch(/queued/);
    expect(done.steps.map((s) => s.state)).toEqual(['queued', 'expired']);
  });

  it('cancels a queued command, and says 409 once it is not queued', async () => {
    const c = await send('pump-3b', 'setRunning', true);
    const r = await call('DELETE', `/digitaltwins/pump-3b/commands/${c.requestId}`);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ state: 'cancelled' });
    const again = await call('DELETE', `/digitaltwins/pump-3b/commands/${c.requestId}`);
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.json)).toMatch(/only a queued command can be cancelled/);
    // A cancelled command is never delivered.
    const d = await device('pump-3b');
    await new Promise((r) => setTimeout(r, 300));
    expect(d.got).toEqual([]);
  });

  it('keeps stray, malformed and late answers as dead letters', async () => {
    const d = await device('pump-1a');
    const topic = 'twins/pump-1a/commands/setRunning/response';
    await d.client.publishAsync(topic, '{"status": 200', { qos: 1 });
    await d.client.publishAsync(topic, JSON.stringify({ status: 200 }), { qos: 1 });
    await d.client.publishAsync(topic, JSON.stringify({ requestId: 'nope', status: 200 }), { qos: 1 });
    // Larger than the MQTT message limit (256 KiB): kept (its head) as PayloadTooLarge, never parsed.
    await d.client.publishAsync(topic, JSON.stringify({ status: 200, response: 'x'.repeat(300_000) }), {
      qos: 1,
    });
    expect(await lettersOf('PayloadTooLarge')).toHaveLength(1);
    const expired = await send('pump-1a', 'setRunning', true, '?expirySeconds=0.5');
    await until('pump-1a', expired.requestId, 'expired');
    await d.client.publishAsync(
      topic,
      JSON.stringify({ requestId: expired.requestId, status: 200, response: true }),
      {
        qos: 1,
      },
    );
    const invalid = await lettersOf('InvalidCommandResponse');
    expect(invalid.map((l) => l.reason)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Malformed JSON/),
        expect.stringMatching(/names no request/),
      ]),
    );
    expect(await lettersOf('UnknownCommandResponse')).toHaveLength(1);
    const late = await lettersOf('LateCommandResponse');
    expect(late).toHaveLength(1);
    expect(late[0]!.reason).toMatch(/already expired/);
    expect(d.client.connected).toBe(true);
  });

  it('refuses hostile and bad requests with clear errors, storing nothing', async () => {
    const before = (await call('GET', '/digitaltwins/pump-3d/commands')).json.value?.length ?? 0;
    const proto = await call('POST', '/digitaltwins/pump-3d/commands/setRunning', '{"__proto__": {"x": 1}}');
    expect(proto.status).toBe(400);
    const big = await call(
      'POST',
      '/digitaltwins/pump-3d/commands/setRunning',
      JSON.stringify('x'.repeat(70_000)),
    );
    expect(big.status).toBe(413);
    const nested = await call(
      'POST',
      '/digitaltwins/pump-3d/commands/setRunning',
      '['.repeat(5000) + ']'.repeat(5000),
    );
    expect(nested.status).toBe(400);
    const expiry = await call('POST', '/digitaltwins/pump-3d/commands/setRunning?expirySeconds=-1', true);
    expect(expiry.status).toBe(400);
    const tooLong = await call(
      'POST',
      '/digitaltwins/pump-3d/commands/setRunning?expirySeconds=99999999',
      true,
    );
    expect(tooLong.status).toBe(400);
    // A cross-site request (a browser page of another origin) and a body that is not UTF-8.
    const cross = await call('POST', '/digitaltwins/pump-3d/commands/setRunning', true, {
      origin: 'https://evil.example',
    });
    expect(cross.status).toBe(403);
    const badUtf8 = await fetch(`${platform.runtime.httpUrl}/digitaltwins/pump-3d/commands/setRunning`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${platform.token ?? ''}` },
      body: Buffer.from([0x22, 0xff, 0xfe, 0x22]),
    });
    expect(badUtf8.status).toBe(400);
    expect((await call('POST', '/digitaltwins/pump-3d/commands/explode', true)).status).toBe(404);
    expect((await call('POST', '/digitaltwins/nope/commands/setRunning', true)).status).toBe(404);
    expect((await call('GET', '/digitaltwins/pump-3d/commands?state=bogus')).status).toBe(400);
    expect((await call('GET', '/digitaltwins/pump-3d/commands/x?waitSeconds=61')).status).toBe(400);
    expect((await call('GET', '/digitaltwins/pump-3d/commands/no-such-id')).status).toBe(404);
    const after = (await call('GET', '/digitaltwins/pump-3d/commands')).json.value?.length ?? 0;
    expect(after).toBe(before);
  });

  it('carries every step to event routes (Twinloop.Command.*), journaled with the command', async () => {
    const sub = await mqtt.connectAsync(platform.runtime.mqttUrl, {
      clientId: 'route-sub',
      reconnectPeriod: 0,
    });
    devices.push(sub);
    const got: { type: string; subject: string; data: { state: string; requestId: string } }[] = [];
    sub.on('message', (_t, payload) => got.push(JSON.parse(payload.toString()) as (typeof got)[number]));
    await sub.subscribeAsync('ops/commands', { qos: 1 });
    await platform.eventRoutes.service.putEndpoint('ops-commands', { type: 'mqtt', topic: 'ops/commands' });
    await platform.eventRoutes.service.putRoute('commands-of-1c', {
      endpointName: 'ops-commands',
      filter: "STARTS_WITH(type, 'Twinloop.Command.')",
    });
    try {
      const d = await device('pump-1c');
      const c = await send('pump-1c', 'setRunning', true);
      await waitFor('the command', () => d.got.length === 1);
      await d.client.publishAsync(
        d.got[0]!.body.responseTopic,
        JSON.stringify({ requestId: c.requestId, status: 200, response: true }),
        { qos: 1 },
      );
      await waitFor(
        'three routed events',
        () => got.filter((e) => e.data.requestId === c.requestId).length === 3,
      );
      const mine = got.filter((e) => e.data.requestId === c.requestId);
      expect(mine.map((e) => e.type)).toEqual([
        'Twinloop.Command.Queued',
        'Twinloop.Command.Sent',
        'Twinloop.Command.Succeeded',
      ]);
      expect(mine.every((e) => e.subject === `commands/${c.requestId}`)).toBe(true);
      expect(mine[2]!.data).toMatchObject({ state: 'succeeded', status: 200, response: true });
    } finally {
      await platform.eventRoutes.service.deleteRoute('commands-of-1c');
    }
  });

  it('a command queued by another node on the same database goes out from the node the device is on', async () => {
    // Another node: same store, no broker of its own (its device channel is never used).
    const other = new CommandService({
      workspace: 'default',
      graph: platform.graph,
      models: platform.models,
      store: platform.storage.commands,
      channel: { publish: () => Promise.reject(new Error('this node has no broker')) },
      deadLetters: platform.storage.deadLetters,
      delivery: 'subscribed',
    });
    const d = await device('pump-3a');
    const c = await other.invoke('pump-3a', 'setRunning', true);
    expect(c.state).toBe('queued'); // not ready on that node
    await waitFor('the command from the node the device is on', () => d.got.length === 1, 10_000);
    expect(d.got[0]!.body.requestId).toBe(c.requestId);
    expect((await get('pump-3a', c.requestId)).state).toBe('sent');
  });
});
