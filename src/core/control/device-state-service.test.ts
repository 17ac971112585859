/**
 * DeviceStateService over a real workspace (SQLite files in a temp folder, the twin graph, the twin
 * service): reported values and presence stored without touching the twin's etag, durable across
 * a restart, desired versions counted by writes, divergence events, and hostile reported states
 * dead-lettered whole. Event-route rows go to the real SQLite outbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { eventsOf, type Change } from '../events/change-events.js';
import { twinToJson } from '../graph/twin-json.js';
import type { LiveEvent } from '../live/live-events.js';
import type { ChangeJournal } from '../ports/twin-write-ports.js';
import type { OutboxRow } from '../ports/event-routing.js';
import { desiredDocument } from './desired-state.js';
import { DeviceStateService } from './device-state-service.js';

const ctx = 'dtmi:dtdl:context;3';
const PUMP = 'dtmi:test:DevPump;1';
const MODELS = [
  {
    '@id': 'dtmi:test:DevValve;1',
    '@type': 'Interface',
    '@context': ctx,
    contents: [
      { '@type': 'Property', name: 'opening', schema: 'double', writable: true },
      { '@type': 'Property', name: 'position', schema: 'double' },
    ],
  },
  {
    '@id': PUMP,
    '@type': 'Interface',
    '@context': ctx,
    contents: [
      { '@type': 'Property', name: 'flowSetpoint', schema: 'double', writable: true },
      {
        '@type': 'Property',
        name: 'config',
        writable: true,
        schema: { '@type': 'Object', fields: [{ name: 'a', schema: 'integer' }] },
      },
      { '@type': 'Property', name: 'serial', schema: 'string' },
      { '@type': 'Telemetry', name: 'flow', schema: 'double' },
      { '@type': 'Component', name: 'valve', schema: 'dtmi:test:DevValve;1' },
    ],
  },
];

/** A journal that routes every event to one endpoint (the real outbox stores the rows). */
class AllToOne implements ChangeJournal {
  committedCount = 0;
  outboxRowsOf(change: Change): OutboxRow[] {
    let n = 0;
    return eventsOf(change, { source: 'test', newId: () => `id-${Date.now()}-${n++}`, now: () => 0 }).map(
      (event) => ({ endpoint: 'ep', orderKey: event.twinId, event, created: 0 }),
    );
  }
  committed(): void {
    this.committedCount++;
  }
}

describe('DeviceStateService', () => {
  let dir: string;
  let w: TestWorkspace;
  let devices: DeviceStateService;
  let clock: number;
  let live: LiveEvent[];
  const T0 = 1_700_000_000_000;

  const open = async (): Promise<void> => {
    w = await openTestWorkspace({ dir, now: () => clock });
    if (w.models.list().length === 0) await w.models.add(MODELS);
    devices = new DeviceStateService({
      workspace: 'default',
      graph: w.graph,
      models: w.models,
      twins: w.twins,
      deadLetters: w.storage.deadLetters,
      live: w.live,
      journal: new AllToOne(),
      now: () => clock,
    });
    live = [];
    w.live.subscribe((evs) => live.push(...evs));
    devices.start(w.live, 0);
  };
  const reopen = async (): Promise<void> => {
    devices.stop();
    await w.close();
    await open();
  };
  const msg = (payload: string | Buffer, twinId = 'p1') => ({
    topic: `twins/${twinId}/reported`,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    clientId: twinId,
    receivedAt: clock,
  });
  const json = (id = 'p1') =>
    twinToJson(w.graph.getTwin(id)!, (t, n) => w.twins.isComponent(t, n)) as {
      $etag: string;
      $metadata: Record<string, Record<string, unknown>>;
      valve: { $metadata: Record<string, Record<string, unknown>> };
    };
  const letters = () => w.storage.deadLetters.list({ workspace: 'default', limit: 100 });
  const routed = async () => (await w.storage.outbox.pending(0, 100)).map((d) => d.event.type);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twinloop-devices-'));
    clock = T0;
    await open();
    await w.twins.createOrReplace('p1', {
      $metadata: { $model: PUMP },
      flowSetpoint: 50,
      serial: 'A-1',
      valve: { $metadata: {}, opening: 0.5 },
    });
  });
  afterEach(async () => {
    devices.stop();
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the desired version with every write of a writable property, in the same commit', async () => {
    const t = w.graph.getTwin('p1')!;
    expect(t.device).toEqual({
      desiredVersion: 1,
      properties: {
        flowSetpoint: { desiredVersion: 1, desiredTime: T0 },
        'valve/opening': { desiredVersion: 1, desiredTime: T0 },
      },
    });
    clock += 1000;
    await w.twins.update('p1', [{ op: 'replace', path: '/serial', value: 'B' }]); // read-only: no change
    await w.twins.update('p1', [{ op: 'replace', path: '/flowSetpoint', value: 50 }]); // same value
    expect(w.graph.getTwin('p1')!.device!.desiredVersion).toBe(1);
    await w.twins.update('p1', [{ op: 'replace', path: '/valve/opening', value: 0.7 }]);
    await w.twins.updateComponent('p1', 'valve', [{ op: 'remove', path: '/opening' }]);
    const d = w.graph.getTwin('p1')!.device!;
    expect(d.desiredVersion).toBe(3);
    expect(d.properties['valve/opening']).toEqual({ desiredVersion: 3, desiredTime: T0 + 1000 });
    expect(d.properties.flowSetpoint).toEqual({ desiredVersion: 1, desiredTime: T0 });
    expect(desiredDocument(w.graph.getTwin('p1')!, w.models).$version).toBe(3);
    // a twin created without writable values has no device state; a replace counts its changes
    await w.twins.createOrReplace('p2', {
      $metadata: { $model: PUMP },
      serial: 'x',
      valve: { $metadata: {} },
    });
    expect(w.graph.getTwin('p2')!.device).toBeUndefined();
    await w.twins.createOrReplace('p2', {
      $metadata: { $model: PUMP },
      config: { a: 1 },
      valve: { $metadata: {} },
    });
    expect(w.graph.getTwin('p2')!.device).toEqual({
      desiredVersion: 1,
      properties: { config: { desiredVersion: 1, desiredTime: T0 + 1000 } },
    });
    await reopen();
    expect(w.graph.getTwin('p1')!.device!.desiredVersion).toBe(3);
    expect(w.graph.getTwin('p2')!.device!.desiredVersion).toBe(1);
  });

  it('stores reported values and the ack without changing etag or lastUpdateTime; durable', async () => {
    const before = w.graph.getTwin('p1')!;
    clock += 5000;
    await devices.reported(
      'p1',
      msg('{"flowSetpoint":40,"valve":{"opening":0.5},"$ack":{"version":1,"code":200,"description":"ok"}}'),
    );
    const after = w.graph.getTwin('p1')!;
    expect(after.etag).toBe(before.etag);
    expect(after.lastUpdateTime).toBe(before.lastUpdateTime);
    expect(after.contents).toEqual(before.contents);
    const meta = json().$metadata;
    expect(meta.flowSetpoint).toEqual({
      lastUpdateTime: new Date(T0).toISOString(),
      desiredValue: 50,
      desiredVersion: 1,
      desiredTime: new Date(T0).toISOString(),
      reportedValue: 40,
      reportedTime: new Date(T0 + 5000).toISOString(),
      ackVersion: 1,
      ackCode: 200,
      ackDescription: 'ok',
      pending: true,
    });
    expect(json().valve.$metadata.opening).toMatchObject({
      reportedValue: 0.5,
      pending: false,
      ackCode: 200,
    });
    expect(live.filter((e) => e.type === 'reported')).toEqual([
      expect.objectContaining({ twinId: 'p1', properties: ['flowSetpoint', 'valve/opening'] }),
    ]);
    // an ack without a description clears the old one
    await devices.reported('p1', msg('{"flowSetpoint":50,"$ack":{"version":1,"code":200}}'));
    expect(json().$metadata.flowSetpoint).not.toHaveProperty('ackDescription');
    expect(json().$metadata.flowSetpoint!.pending).toBe(false);
    await reopen();
    expect(json().$etag).toBe(before.etag);
    expect(json().$metadata.flowSetpoint).toMatchObject({ reportedValue: 50, pending: false, ackVersion: 1 });
    expect(json().valve.$metadata.opening).toMatchObject({ reportedValue: 0.5 });
    expect(await letters()).toEqual([]);
  });

  it('a reported read-only property is a real write of the twin (etag changes, events follow)', async () => {
    const before = w.graph.getTwin('p1')!;
    clock += 1000;
    await devices.reported('p1', msg('{"serial":"A-17","valve":{"position":0.4},"flowSetpoint":50}'));
    const after = w.graph.getTwin('p1')!;
    expect(after.etag).not.toBe(before.etag);
    expect(after.contents).toMatchObject({ serial: 'A-17', valve: { opening: 0.5, position: 0.4 } });
    expect(after.device!.properties.flowSetpoint!.reportedValue).toBe(50);
    expect(after.device!.desiredVersion).toBe(1);
    expect(live.find((e) => e.type === 'propertyChange')).toMatchObject({
      patch: [
        { op: 'add', path: '/serial', value: 'A-17' },
        { op: 'add', path: '/valve/position', value: 0.4 },
      ],
    });
    // the same values again: nothing to write
    await devices.reported('p1', msg('{"serial":"A-17"}'));
    expect(w.graph.getTwin('p1')!.etag).toBe(after.etag);
  });

  it('dead-letters hostile and invalid reported states whole, with a code and a pointer, and applies nothing', async () => {
    const before = JSON.stringify(json());
    let deep = '1';
    for (let i = 0; i < 10_000; i++) deep = `[${deep}]`;
    const cases: [string | Buffer, string, string | undefined][] = [
      ['{"flowSetpoint": 4', 'BadRequest', undefined],
      [Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'BadRequest', ''],
      ['{"serial":"B","__proto__":{"polluted":true}}', 'BadRequest', '/__proto__'],
      ['{"config":{"constructor":{"prototype":{}}}}', 'BadRequest', '/config/constructor'],
      [`{"flowSetpoint":${deep}}`, 'BadRequest', undefined],
      [`{"config":{"a":[${'1,'.repeat(20_000)}1]}}`, 'BadRequest', ''],
      ['[1,2]', 'BadRequest', ''],
      ['{"serial":"B","flowSetpoint":"high"}', 'ValidationFailed', '/flowSetpoint'],
      ['{"serial":"B","nope":1}', 'ValidationFailed', '/nope'],
      ['{"flow":3}', 'ValidationFailed', '/flow'],
      ['{"valve":{"opening":"x"}}', 'ValidationFailed', '/valve/opening'],
      ['{"valve":5}', 'ValidationFailed', '/valve'],
      ['{"config":{"a":1.5}}', 'ValidationFailed', '/config/a'],
      ['{"$version":3,"flowSetpoint":1}', 'ValidationFailed', '/$version'],
      ['{"flowSetpoint":1,"$ack":{"version":-1,"code":200}}', 'ValidationFailed', '/$ack/version'],
      ['{"$ack":{"version":1,"code":200}}', 'ValidationFailed', '/$ack'],
      ['{"flowSetpoint":1e999}', 'BadRequest', '/flowSetpoint'],
    ];
    for (const [payload] of cases) await devices.reported('p1', msg(payload));
    await devices.reported('nobody', msg('{"flowSetpoint":1}', 'nobody'));
    await devices.reported('p1', msg(Buffer.alloc(300 * 1024, 0x20)));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(json())).toBe(before);
    const got = (await letters()).reverse();
    expect(got).toHaveLength(cases.length + 2);
    cases.forEach(([payload, code, pointer], i) => {
      const l = got[i]!;
      expect({ i, code: l.code }).toEqual({ i, code });
      expect(l).toMatchObject({ source: 'mqtt', twinId: 'p1', topic: 'twins/p1/reported', clientId: 'p1' });
      const sent = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      // kept whole, or its head when the store cut a large one (receivedBytes says how large)
      expect(l.receivedBytes ?? l.payload.length).toBe(sent.length);
      expect(sent.subarray(0, l.payload.length).equals(l.payload)).toBe(true);
      expect(l.reason.length).toBeGreaterThan(10);
      if (pointer !== undefined)
        expect({ i, pointers: l.problems?.map((p) => p.pointer) }).toMatchObject({
          i,
          pointers: expect.arrayContaining([pointer]),
        });
    });
    expect(got[cases.length]).toMatchObject({ code: 'DigitalTwinNotFound', twinId: 'nobody' });
    expect(got[cases.length + 1]).toMatchObject({ code: 'PayloadTooLarge' });
    // every problem at once, each named
    const many = got[8]!;
    expect(many.reason).toMatch(/nope/);
  });

  it('tracks presence: since on change, lastSeen, events; ignores unknown twins and stale news', async () => {
    const etag = w.graph.getTwin('p1')!.etag;
    await devices.presence('p1', 'connected', T0 + 1000, 'broker');
    await devices.presence('p1', 'connected', T0 + 1500, 'message'); // told again: since stays
    expect(json().$metadata.$connection).toEqual({
      state: 'connected',
      since: new Date(T0 + 1000).toISOString(),
      lastSeen: new Date(T0 + 1500).toISOString(),
    });
    devices.seen('p1', T0 + 2000);
    expect(json().$metadata.$connection!.lastSeen).toBe(new Date(T0 + 2000).toISOString());
    await devices.presence('p1', 'disconnected', T0 + 3000, 'broker');
    await devices.presence('p1', 'connected', T0 + 2500, 'message'); // older than the disconnect: stale
    expect(json().$metadata.$connection).toEqual({
      state: 'disconnected',
      since: new Date(T0 + 3000).toISOString(),
      lastSeen: new Date(T0 + 2000).toISOString(),
    });
    await devices.presence('not-a-twin', 'connected', T0, 'broker');
    expect(w.graph.getTwin('not-a-twin')).toBeUndefined();
    expect(await letters()).toEqual([]);
    expect(live.filter((e) => e.type === 'connection').map((e) => (e as { state: string }).state)).toEqual([
      'connected',
      'disconnected',
    ]);
    expect(await routed()).toEqual(['Twinloop.Device.Connected', 'Twinloop.Device.Disconnected']);
    expect(w.graph.getTwin('p1')!.etag).toBe(etag);
    await reopen();
    expect(json().$metadata.$connection!.state).toBe('disconnected');
    expect(w.graph.getTwin('p1')!.etag).toBe(etag);
  });

  it('takes connection messages; dead-letters malformed ones and ones for unknown twins', async () => {
    const conn = (payload: string | Buffer, twinId = 'p1', at = T0) => ({
      topic: `twins/${twinId}/connection`,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      receivedAt: at,
    });
    await devices.connection('p1', conn('{"state":"connected"}', 'p1', T0 + 10));
    expect(json().$metadata.$connection).toMatchObject({
      state: 'connected',
      since: new Date(T0 + 10).toISOString(),
    });
    await devices.connection('p1', conn('{"state":"disconnected"}', 'p1', T0 + 20));
    expect(json().$metadata.$connection!.state).toBe('disconnected');
    const bad = [
      '{"state":"sleeping"}',
      '{"state":"connected","extra":1}',
      '{"__proto__":{"state":"connected"}}',
      '"connected"',
      '{"state":',
      Buffer.from([0xc3, 0x28]),
    ];
    for (const b of bad) await devices.connection('p1', conn(b));
    await devices.connection('ghost', conn('{"state":"connected"}', 'ghost'));
    expect(json().$metadata.$connection!.state).toBe('disconnected');
    const got = (await letters()).reverse();
    expect(got.map((l) => l.code)).toEqual([...bad.map(() => 'BadRequest'), 'DigitalTwinNotFound']);
    expect(got.every((l) => l.topic?.endsWith('/connection') && l.reason.length > 10)).toBe(true);
  });

  it('stores lastSeen at most once a minute per twin (and with the next presence change)', async () => {
    await devices.presence('p1', 'connected', T0, 'broker');
    devices.seen('p1', T0 + 10_000); // 10 s after the last store: memory only
    await new Promise((r) => setTimeout(r, 20));
    devices.seen('p1', T0 + 61_000); // a minute after: stored
    await new Promise((r) => setTimeout(r, 50));
    devices.seen('p1', T0 + 70_000); // memory only again
    await new Promise((r) => setTimeout(r, 20));
    expect(json().$metadata.$connection!.lastSeen).toBe(new Date(T0 + 70_000).toISOString());
    await reopen();
    expect(json().$metadata.$connection!.lastSeen).toBe(new Date(T0 + 61_000).toISOString());
  });

  it('desired written while disconnected diverges after the limit, and converges when the device reports it', async () => {
    await devices.reported('p1', msg('{"flowSetpoint":50,"valve":{"opening":0.5}}'));
    await devices.presence('p1', 'connected', T0, 'broker');
    clock = T0 + 10_000;
    await devices.presence('p1', 'disconnected', clock, 'broker');
    clock = T0 + 20_000;
    await w.twins.update('p1', [{ op: 'replace', path: '/flowSetpoint', value: 60 }]);
    expect(json().$metadata.flowSetpoint).toMatchObject({
      desiredValue: 60,
      reportedValue: 50,
      desiredVersion: 2,
      pending: true,
    });
    expect(devices.pendingProperties()).toEqual([
      { twinId: 'p1', property: 'flowSetpoint', since: T0 + 20_000, diverged: false },
    ]);
    await devices.checkDivergence(T0 + 50_000); // 30 s: not yet
    expect(live.some((e) => e.type === 'desiredState')).toBe(false);
    await devices.checkDivergence(T0 + 81_000);
    await devices.checkDivergence(T0 + 90_000); // once
    expect(live.filter((e) => e.type === 'desiredState')).toEqual([
      expect.objectContaining({
        transition: 'diverged',
        property: 'flowSetpoint',
        desiredValue: 60,
        reportedValue: 50,
        desiredVersion: 2,
        pendingSince: T0 + 20_000,
      }),
    ]);
    // the device comes back, gets the retained desired document (version 2) and reports it applied
    clock = T0 + 100_000;
    await devices.presence('p1', 'connected', clock, 'broker');
    await devices.reported('p1', msg('{"flowSetpoint":60,"$ack":{"version":2,"code":200}}'));
    expect(json().$metadata.flowSetpoint).toMatchObject({ reportedValue: 60, ackVersion: 2, pending: false });
    expect(devices.pendingProperties()).toEqual([]);
    expect(
      live.filter((e) => e.type === 'desiredState').map((e) => (e as { transition: string }).transition),
    ).toEqual(['diverged', 'converged']);
    expect(await routed()).toEqual([
      'Twinloop.Device.Connected',
      'Twinloop.Device.Disconnected',
      'Twinloop.DesiredState.Diverged',
      'Twinloop.Device.Connected',
      'Twinloop.DesiredState.Converged',
    ]);
    await reopen();
    expect(json().$metadata.flowSetpoint).toMatchObject({
      desiredValue: 60,
      reportedValue: 60,
      pending: false,
    });
    expect(json().$metadata.$connection!.state).toBe('connected');
  });

  it('after a restart a pending property is found again and can diverge', async () => {
    await w.twins.update('p1', [{ op: 'replace', path: '/flowSetpoint', value: 70 }]);
    await reopen();
    expect(
      devices
        .pendingProperties()
        .map((p) => p.property)
        .sort(),
    ).toEqual(['flowSetpoint', 'valve/opening']);
    await devices.checkDivergence(T0 + 61_000);
    expect(live.filter((e) => e.type === 'desiredState')).toHaveLength(2);
  });

  it('rejects when storage fails (the broker must not acknowledge), and keeps nothing half-done', async () => {
    w.storage.db.close();
    await expect(devices.reported('p1', msg('{"flowSetpoint":40}'))).rejects.toMatchObject({
      code: expect.stringMatching(/Storage/),
    });
    await expect(devices.presence('p1', 'connected', T0, 'broker')).rejects.toBeDefined();
    expect(w.graph.getTwin('p1')!.device!.properties.flowSetpoint!.reportedValue).toBeUndefined();
    expect(w.graph.getTwin('p1')!.device!.connection).toBeUndefined();
    // the workspace's close must not fail on the closed database
    w.close = async () => undefined;
  });
});
