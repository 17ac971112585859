/**
 * ControlService over a real workspace (SQLite, twin graph, twin service): commands checked against
 * the model before anything is sent, desired-state documents of writable properties republished
 * after each committed write. The DeviceChannel here records what would go to the broker (the MQTT
 * adapters' own tests and the platform test cover the real broker).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { TwinloopError } from '../errors/errors.js';
import type { DeviceChannel, DevicePublishOptions } from '../ports/device-channel.js';
import { ControlService } from './control-service.js';
import { parseDeviceTopic } from './device-topics.js';

const ctx = 'dtmi:dtdl:context;3';
const VALVE = {
  '@id': 'dtmi:test:Valve;1',
  '@type': 'Interface',
  '@context': ctx,
  contents: [
    { '@type': 'Property', name: 'opening', schema: 'double', writable: true },
    { '@type': 'Property', name: 'serial', schema: 'string' },
    { '@type': 'Component', name: 'actuator', schema: 'dtmi:test:Actuator;1' },
    { '@type': 'Command', name: 'open', request: { name: 'percent', schema: 'double' } },
    { '@type': 'Command', name: 'reset' },
  ],
};
const ACTUATOR = {
  '@id': 'dtmi:test:Actuator;1',
  '@type': 'Interface',
  '@context': ctx,
  contents: [
    { '@type': 'Property', name: 'speed', schema: 'double', writable: true },
    { '@type': 'Property', name: 'cycles', schema: 'integer' },
  ],
};

class RecordingChannel implements DeviceChannel {
  sent: { topic: string; payload: unknown; options: DevicePublishOptions }[] = [];
  failing = false;
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void> {
    if (this.failing) return Promise.reject(new Error('broker gone'));
    this.sent.push({ topic, payload: JSON.parse(payload) as unknown, options });
    return Promise.resolve();
  }
}

async function caught(p: Promise<unknown>): Promise<TwinloopError> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TwinloopError);
  return e as TwinloopError;
}

describe('ControlService', () => {
  let w: TestWorkspace;
  let channel: RecordingChannel;
  let control: ControlService;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add([ACTUATOR, VALVE]);
    channel = new RecordingChannel();
    control = new ControlService({ workspace: 'default', graph: w.graph, models: w.registry, channel });
    await w.twins.createOrReplace('v/1', {
      $metadata: { $model: 'dtmi:test:Valve;1' },
      opening: 40,
      serial: 'S-1',
      actuator: { $metadata: {}, speed: 2, cycles: 10 },
    });
  });
  afterEach(async () => {
    control.stop();
    await w.close();
  });

  it('sends a valid command once, QoS 1, not retained, with a request id', async () => {
    const heard: unknown[] = [];
    control.onCommand((...a) => heard.push(a));
    const r = await control.sendCommand('v/1', 'open', 75);
    expect(r.status).toBe('sent');
    expect(r.topic).toBe('twins/v%2F1/commands/open');
    expect(parseDeviceTopic(r.topic)).toEqual({ kind: 'command', twinId: 'v/1', command: 'open' });
    expect(channel.sent).toEqual([
      {
        topic: 'twins/v%2F1/commands/open',
        payload: { requestId: r.requestId, command: 'open', request: 75, sentAt: r.sentAt },
        options: { qos: 1, retain: false },
      },
    ]);
    expect(heard).toEqual([['v/1', 'open', 75]]);
    await control.sendCommand('v/1', 'reset', undefined);
    expect(channel.sent[1]?.payload).not.toHaveProperty('request');
  });

  it('refuses before sending: unknown twin, unknown command, bad or missing payload', async () => {
    expect((await caught(control.sendCommand('nope', 'open', 1))).code).toBe('DigitalTwinNotFound');
    const unknown = await caught(control.sendCommand('v/1', 'close', 1));
    expect(unknown.code).toBe('NotFound');
    expect(unknown.message).toContain('open, reset');
    const bad = await caught(control.sendCommand('v/1', 'open', 'wide'));
    expect(bad.code).toBe('ValidationFailed');
    expect(bad.problems[0]?.pointer).toBe('/percent');
    expect((await caught(control.sendCommand('v/1', 'open', undefined))).message).toContain('percent');
    expect((await caught(control.sendCommand('v/1', 'reset', { x: 1 }))).message).toContain('no request');
    expect(channel.sent).toEqual([]);
  });

  it('says ServiceUnavailable when the broker does not take the command', async () => {
    channel.failing = true;
    expect((await caught(control.sendCommand('v/1', 'reset', undefined))).code).toBe('ServiceUnavailable');
  });

  it('builds the desired state from writable properties only, components nested', async () => {
    const d = control.desiredState('v/1');
    expect(d.desired).toEqual({ opening: 40, actuator: { speed: 2 } });
    expect(d.$etag).toBe(w.graph.getTwin('v/1')?.etag);
  });

  it('republishes the desired state, retained, after each committed write', async () => {
    control.start(w.live);
    await w.twins.update('v/1', [{ op: 'replace', path: '/opening', value: 80 }]);
    await new Promise((r) => setImmediate(r));
    expect(channel.sent).toHaveLength(1);
    expect(channel.sent[0]).toMatchObject({
      topic: 'twins/v%2F1/desired',
      payload: { desired: { opening: 80, actuator: { speed: 2 } } },
      options: { qos: 1, retain: true },
    });
    control.stop();
    await w.twins.update('v/1', [{ op: 'replace', path: '/opening', value: 10 }]);
    await new Promise((r) => setImmediate(r));
    expect(channel.sent).toHaveLength(1);
  });

  it('publishes every twin with desired state at start, skipping those without', async () => {
    await w.twins.createOrReplace('v2', {
      $metadata: { $model: 'dtmi:test:Valve;1' },
      serial: 'S-2',
      actuator: { $metadata: {} },
    });
    expect(await control.publishAllDesired()).toBe(1);
    expect(channel.sent.map((s) => s.topic)).toEqual(['twins/v%2F1/desired']);
  });
});
