import { describe, expect, it } from 'vitest';
import { MODELS, openTestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { ModelRegistry } from '../models/model-registry.js';
import { ModelService } from '../models/model-service.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../graph/graph-types.js';
import { alarmLiveEvent, LiveEventBus, type LiveEvent } from '../live/live-events.js';
import { newAlarm } from '../alarms/alarm.js';
import type { ClusterFeed, FeedChange, FeedEvent, FeedHandlers } from '../ports/cluster.js';
import { FEED_KINDS, FeedReplica } from './feed-replica.js';

/** An in-memory feed shared by the nodes of a test: changes numbered and delivered to every subscriber. */
function memoryFeed() {
  const subs: FeedHandlers[] = [];
  const changes: FeedChange[] = [];
  const feed: ClusterFeed = {
    publishChange(c) {
      changes.push(c);
      for (const s of subs) s.onChange(c, changes.length);
      return Promise.resolve(changes.length);
    },
    position: () => Promise.resolve(changes.length),
    publishEvent(e: FeedEvent) {
      for (const s of subs) s.onEvent?.(e);
      return Promise.resolve();
    },
    subscribe(h) {
      subs.push(h);
      return Promise.resolve({ lastSeq: 0, close: () => Promise.resolve() });
    },
    close: () => Promise.resolve(),
  };
  const gap = (from: number, to: number) => subs.forEach((s) => s.onGap?.(from, to));
  return { feed, changes, gap };
}

function twin(id: string, over: Partial<TwinRecord> = {}): TwinRecord {
  return {
    id,
    modelId: 'dtmi:t:M;1',
    workspace: 'default',
    etag: 'W/"1"',
    lastUpdateTime: 1,
    contents: {},
    propertyTimes: {},
    telemetry: {},
    ...over,
  };
}

async function node(
  origin: string,
  feed: ClusterFeed,
  publishTelemetry = false,
  reloadModels: () => Promise<void> = () => Promise.resolve(),
  followEvents = true,
) {
  const graph = new InMemoryTwinGraph();
  const live = new LiveEventBus();
  const seen: LiveEvent[] = [];
  live.subscribe((es) => seen.push(...es));
  const reloads = { models: 0, graph: 0, routes: 0, rules: 0 };
  const replica = new FeedReplica({
    origin,
    workspace: 'default',
    graph,
    live,
    feed,
    publishTelemetry,
    followEvents,
    reloadModels: () => {
      reloads.models++;
      return reloadModels();
    },
    reloadGraph: () => {
      reloads.graph++;
      return Promise.resolve();
    },
    reloadRoutes: () => {
      reloads.routes++;
      return Promise.resolve();
    },
    reloadRules: () => {
      reloads.rules++;
      return Promise.resolve();
    },
  });
  await replica.start();
  return { graph, live, seen, replica, reloads };
}

const created = (id: string): LiveEvent => ({
  type: 'twinCreated',
  workspace: 'default',
  twinId: id,
  modelId: 'dtmi:t:M;1',
  time: 5,
});

describe('FeedReplica', () => {
  it("applies another node's twin write to the graph and its live bus, once, without echoing it", async () => {
    const { feed, changes } = memoryFeed();
    const a = await node('a', feed);
    const b = await node('b', feed);
    a.graph.putTwin(twin('t1', { contents: { name: 'x' } }));
    a.live.publish([created('t1')]); // what TwinService does after the commit
    await a.replica.flush();
    expect(changes.map((c) => c.kind)).toEqual([FEED_KINDS.twinPut]);
    expect(b.graph.getTwin('t1')?.contents).toEqual({ name: 'x' });
    expect(b.seen).toEqual([created('t1')]);
    await b.replica.flush();
    expect(changes).toHaveLength(1); // b re-published the event locally but did not send it back
    a.graph.deleteTwin('t1');
    a.live.publish([{ ...created('t1'), type: 'twinDeleted' }]);
    await a.replica.flush();
    expect(b.graph.getTwin('t1')).toBeUndefined();
  });

  it('retries a change the feed did not take, and never replaces a newer twin with an older one', async () => {
    const { feed, changes } = memoryFeed();
    let failures = 2;
    const flaky: ClusterFeed = {
      ...feed,
      publishChange: (c) =>
        failures-- > 0 ? Promise.reject(new Error('NATS reconnecting')) : feed.publishChange(c),
    };
    const a = await node('a', flaky);
    const b = await node('b', feed);
    a.graph.putTwin(twin('t1', { lastUpdateTime: 10, contents: { v: 2 } }));
    a.live.publish([created('t1')]);
    await a.replica.flush();
    expect(changes).toHaveLength(1);
    expect(a.replica.counts).toMatchObject({ published: 1, failed: 0 });
    expect(b.graph.getTwin('t1')!.contents).toEqual({ v: 2 });
    await feed.publishChange({
      kind: FEED_KINDS.twinPut,
      origin: 'c',
      data: { twin: twin('t1', { lastUpdateTime: 5 }) },
    });
    expect(b.graph.getTwin('t1')!.contents).toEqual({ v: 2 });
  });

  it("keeps a worker's latest telemetry and the newer of two last values", async () => {
    const { feed } = memoryFeed();
    const worker = await node('w', feed, true);
    const api = await node('api', feed);
    api.graph.putTwin(twin('t1', { telemetry: { temp: { value: 9, time: 100 } } }));
    const ev = (values: Record<string, unknown>, time: number): LiveEvent => ({
      type: 'telemetry',
      workspace: 'default',
      twinId: 't1',
      modelId: 'dtmi:t:M;1',
      time,
      values,
    });
    worker.live.publish([ev({ temp: 1 }, 50), ev({ temp: 2, hum: 3 }, 150)]);
    await worker.replica.flush();
    expect(api.graph.getTwin('t1')!.telemetry).toEqual({
      temp: { value: 2, time: 150 },
      hum: { value: 3, time: 150 },
    });
    worker.live.publish([ev({ temp: 7 }, 120)]); // older than what the api node has
    await worker.replica.flush();
    expect(api.graph.getTwin('t1')!.telemetry.temp).toEqual({ value: 2, time: 150 });
    expect(api.seen.filter((e) => e.type === 'telemetry')).toHaveLength(3);
  });

  it("tells the other api nodes' live buses the alarm transitions of this node (no last values)", async () => {
    const { feed, changes } = memoryFeed();
    const a = await node('a', feed, true);
    const b = await node('b', feed, true);
    const alarm = newAlarm('al-1', {
      workspace: 'default',
      twinId: 't1',
      ruleId: 'hot',
      ruleVersion: 1,
      severity: 'major',
      message: 'hot',
      time: 9,
      value: 120,
    });
    const ev = alarmLiveEvent({ transition: 'raised', alarm }, 'dtmi:t:M;1');
    a.live.publish([ev, { ...ev, workspace: 'other' }]);
    await a.replica.flush();
    expect(b.seen).toEqual([JSON.parse(JSON.stringify(ev))]);
    expect(changes).toHaveLength(0); // an alarm is no telemetry: no telemetry.last change
    await b.replica.flush();
    expect(a.seen).toEqual([ev, { ...ev, workspace: 'other' }]); // b did not send it back
  });

  it('a node that does not follow live events (a worker) still gets last values from the durable changes', async () => {
    const { feed } = memoryFeed();
    const a = await node('a', feed, true);
    const worker = await node('w', feed, true, undefined, false);
    worker.graph.putTwin(twin('t1'));
    a.live.publish([
      {
        type: 'telemetry',
        workspace: 'default',
        twinId: 't1',
        modelId: 'dtmi:t:M;1',
        time: 7,
        values: { temp: 4 },
      },
    ]);
    await a.replica.flush();
    expect(worker.graph.getTwin('t1')!.telemetry).toEqual({ temp: { value: 4, time: 7 } });
    expect(worker.seen.filter((e) => e.type === 'telemetry')).toHaveLength(0); // no live event re-published
  });

  it('ignores hostile or unknown changes without throwing or polluting prototypes', async () => {
    const { feed } = memoryFeed();
    const api = await node('api', feed);
    api.graph.putTwin(twin('t1'));
    const send = (kind: string, data: unknown) => feed.publishChange({ kind, origin: 'evil', data });
    await send(FEED_KINDS.telemetryLast, [['t1', '__proto__', { polluted: 1 }, 1]]);
    await send(FEED_KINDS.telemetryLast, [['t1', 'ok', 1, 'not a time']]);
    await send(FEED_KINDS.telemetryLast, { not: 'an array' });
    await send(FEED_KINDS.twinPut, { twin: 'a string' });
    await send(FEED_KINDS.twinPut, { twin: { ...twin("'; DROP TABLE x; --"), workspace: 'other' } });
    await send(FEED_KINDS.relationshipPut, { rel: { workspace: 'default', sourceId: 'nope' } });
    await send('something.new', { x: 1 });
    await send(FEED_KINDS.twinDelete, null);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(api.graph.getTwin('t1')!.telemetry)).toBe(Object.prototype);
    expect(api.graph.getTwin('t1')!.telemetry).toEqual({});
    expect(api.graph.twinCount).toBe(1);
    expect(api.replica.counts.failed).toBe(1); // the relationship whose twin is missing
    await send(FEED_KINDS.models, {});
    await send(FEED_KINDS.models, { workspace: 'other', op: 'delete', ids: ['x'] });
    await send(FEED_KINDS.models, { workspace: 'default', op: { __proto__: 1 }, ids: 'not an array' });
    await api.replica.reloadsSettled();
    expect(api.reloads.models).toBe(2);
  });

  it('a model uploaded, decommissioned or deleted on one node is so on the others (one store)', async () => {
    const w = await openTestWorkspace();
    try {
      const { feed, changes } = memoryFeed();
      // Two api nodes over the one model store: each its own registry, reloaded when told.
      const other = new ModelService({
        workspace: 'default',
        registry: new ModelRegistry(),
        store: w.storage.models,
      });
      const a = await node('a', feed);
      const b = await node('b', feed, false, async () => {
        await other.load();
      });
      const told = async (op: 'upload' | 'decommission' | 'delete', ids: string[]) => {
        await a.replica.modelsChanged({ op, ids });
        await b.replica.reloadsSettled();
      };
      await w.models.add([MODELS.space, MODELS.thermostat, MODELS.room]);
      await told('upload', ['dtmi:test:Space;1', 'dtmi:test:Thermostat;1', 'dtmi:test:Room;1']);
      expect(other.list().map((m) => m.id)).toEqual([
        'dtmi:test:Space;1',
        'dtmi:test:Thermostat;1',
        'dtmi:test:Room;1',
      ]);
      expect(changes.at(-1)).toEqual({
        kind: FEED_KINDS.models,
        origin: 'a',
        data: {
          workspace: 'default',
          op: 'upload',
          ids: ['dtmi:test:Space;1', 'dtmi:test:Thermostat;1', 'dtmi:test:Room;1'],
        },
      });
      await w.models.update('dtmi:test:Room;1', [{ op: 'replace', path: '/decommissioned', value: true }]);
      await told('decommission', ['dtmi:test:Room;1']);
      expect(other.isDecommissioned('dtmi:test:Room;1')).toBe(true);
      await w.models.delete('dtmi:test:Room;1');
      await told('delete', ['dtmi:test:Room;1']);
      expect(other.has('dtmi:test:Room;1')).toBe(false);
      expect(other.getInterface('dtmi:test:Room;1')).toBeUndefined();
      expect(other.has('dtmi:test:Space;1')).toBe(true);
      expect(a.reloads.models).toBe(0); // its own changes are not reloaded
    } finally {
      await w.storage.close();
    }
  });

  it('reloads models one at a time (changes told meanwhile: one more reload), and on a gap', async () => {
    const { feed, gap } = memoryFeed();
    let running = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const b = await node('b', feed, false, async () => {
      most = Math.max(most, ++running);
      await new Promise<void>((r) => (release = r));
      running--;
    });
    const send = () =>
      feed.publishChange({ kind: FEED_KINDS.models, origin: 'a', data: { workspace: 'default' } });
    await send();
    await send();
    await send();
    expect(b.reloads.models).toBe(1);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(b.reloads.models).toBe(2); // the two told meanwhile: one reload after the first
    release();
    await b.replica.reloadsSettled();
    expect(most).toBe(1);
    const settled = b.replica.reloadsSettled();
    gap(3, 9);
    release();
    await b.replica.reloadsSettled();
    await settled;
    expect(b.reloads).toEqual({ models: 3, graph: 1, routes: 1, rules: 1 });
  });

  it('an event route or endpoint changed on one node makes the others reload theirs', async () => {
    const { feed, changes } = memoryFeed();
    const a = await node('a', feed);
    const b = await node('b', feed);
    const w = await node('w', feed, true);
    await a.replica.routesChanged();
    await Promise.all([a, b, w].map((n) => n.replica.reloadsSettled()));
    expect(changes.map((c) => c.kind)).toEqual([FEED_KINDS.routes]);
    expect([a.reloads.routes, b.reloads.routes, w.reloads.routes]).toEqual([0, 1, 1]);
    expect(b.reloads.models).toBe(0);
  });

  it('a rule changed on one node makes the others reload theirs (another workspace is not theirs)', async () => {
    const { feed, changes } = memoryFeed();
    const a = await node('a', feed);
    const b = await node('b', feed);
    const w = await node('w', feed, true);
    await a.replica.rulesChanged();
    await feed.publishChange({ kind: FEED_KINDS.rules, origin: 'x', data: { workspace: 'other' } });
    await Promise.all([a, b, w].map((n) => n.replica.reloadsSettled()));
    expect(changes.map((c) => c.kind)).toEqual([FEED_KINDS.rules, FEED_KINDS.rules]);
    expect([a.reloads.rules, b.reloads.rules, w.reloads.rules]).toEqual([0, 1, 1]);
    expect([b.reloads.models, b.reloads.routes]).toEqual([0, 0]);
  });
});
