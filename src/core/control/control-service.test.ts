/**
 * ControlService over a real workspace (SQLite, twin graph, twin service): desired-state documents
 * of writable properties republished after each committed write. The DeviceChannel here records
 * what would go to the broker (the MQTT adapters' own tests and the platform test cover the real
 * broker; commands are command-service.int.test.ts's).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import type { DeviceChannel, DevicePublishOptions } from '../ports/device-channel.js';
import { ControlService } from './control-service.js';

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
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void> {
    this.sent.push({ topic, payload: JSON.parse(payload) as unknown, options });
    return Promise.resolve();
  }
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
