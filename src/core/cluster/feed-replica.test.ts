import { describe, expect, it } from 'vitest';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../graph/graph-types.js';
import { LiveEventBus, type LiveEvent } from '../live/live-events.js';
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
  return { feed, changes };
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

async function node(origin: string, feed: ClusterFeed, publishTelemetry = false, followEvents = true) {
  const graph = new InMemoryTwinGraph();
  const live = new LiveEventBus();
  const seen: LiveEvent[] = [];
  live.subscribe((es) => seen.push(...es));
  const reloads = { models: 0, graph: 0 };
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
      return Promise.resolve();
    },
    reloadGraph: () => {
      reloads.graph++;
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

  it('a node that does not follow live events (a worker) still gets last values from the durable changes', async () => {
    const { feed } = memoryFeed();
    const a = await node('a', feed, true);
    const worker = await node('w', feed, true, false);
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
    expect(api.reloads.models).toBe(1);
  });
});
