/**
 * Commands survive kill -9 (docs/control.md): a real `twinloop start` process is killed with SIGKILL
 * (1) while commands wait queued for an offline device, and (2) after a command was sent but before
 * the device answered. After each restart nothing is lost and nothing is sent twice: the queued
 * commands go out once, in order, when the device connects; the sent one is not sent again and the
 * device's late answer still completes it.
 */
import type { ChildProcess } from 'node:child_process';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDataDir } from '../platform/platform-fixture.js';
import { kill9, startTwinloopChild, waitForRuntime } from './twinloop-child.js';

const data = tempDataDir('twinloop-cmd-crash-');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && !c.signalCode) c.kill('SIGKILL');
  data.cleanup();
});

interface Command {
  requestId: string;
  state: string;
  steps: { state: string }[];
}

async function start() {
  const child = startTwinloopChild(data.dir);
  children.push(child);
  const rt = await waitForRuntime(child, data.dir);
  const api = async (method: string, path: string, body?: unknown): Promise<Command> => {
    const res = await fetch(`${rt.httpUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Command;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return { child, mqttUrl: rt.mqttUrl, api };
}

/** The pump's device: client id = twin id, MQTT 5, subscribed to its commands. */
async function device(mqttUrl: string) {
  const client: MqttClient = await mqtt.connectAsync(mqttUrl, {
    clientId: 'pump-1a',
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  const got: { requestId: string; request: unknown; responseTopic: string }[] = [];
  client.on('message', (_t, payload) => got.push(JSON.parse(payload.toString()) as (typeof got)[number]));
  await client.subscribeAsync('twins/pump-1a/commands/+', { qos: 1 });
  return { client, got };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('commands under kill -9', () => {
  it('lose nothing and send nothing twice, between queued and sent and between sent and the answer', async () => {
    // (1) Two commands wait queued (no device); the process dies.
    let p = await start();
    const first = await p.api('POST', '/digitaltwins/pump-1a/commands/setRunning', true);
    const second = await p.api('POST', '/digitaltwins/pump-1a/commands/setRunning', false);
    expect([first.state, second.state]).toEqual(['queued', 'queued']);
    await kill9(p.child);

    // Restart: the device connects and gets both, once, in order; it answers the first only.
    p = await start();
    let d = await device(p.mqttUrl);
    await until('both queued commands', () => d.got.length === 2);
    expect(d.got.map((g) => g.requestId)).toEqual([first.requestId, second.requestId]);
    expect(d.got.map((g) => g.request)).toEqual([true, false]);
    await d.client.publishAsync(
      d.got[0]!.responseTopic,
      JSON.stringify({ requestId: first.requestId, status: 200, response: true }),
      { qos: 1 },
    );
    expect((await p.api('GET', `/digitaltwins/pump-1a/commands/${first.requestId}`)).state).toBe('succeeded');
    const sentOnly = await p.api('GET', `/digitaltwins/pump-1a/commands/${second.requestId}`);
    expect(['sent', 'acknowledged']).toContain(sentOnly.state);

    // (2) The second was sent and not answered yet: the process dies.
    await kill9(p.child);
    d.client.end(true);

    // Restart: the device reconnects; the sent command is not sent again; its answer completes it.
    p = await start();
    d = await device(p.mqttUrl);
    await new Promise((r) => setTimeout(r, 1000));
    expect(d.got).toEqual([]);
    await d.client.publishAsync(
      'twins/pump-1a/commands/setRunning/response',
      JSON.stringify({ requestId: second.requestId, status: 200, response: true }),
      { qos: 1 },
    );
    const done = await p.api('GET', `/digitaltwins/pump-1a/commands/${second.requestId}`);
    expect(done.state).toBe('succeeded');
    expect(done.steps.map((s) => s.state).filter((s) => s === 'sent')).toHaveLength(1);
    const all = (await p.api('GET', '/digitaltwins/pump-1a/commands')) as unknown as { value: Command[] };
    expect(all.value.map((c) => c.state)).toEqual(['succeeded', 'succeeded']);
    d.client.end(true);
    await kill9(p.child);
  });
});
