import { afterEach, describe, expect, it } from 'vitest';
import { TelemetryBatchSink } from '../../core/cluster/telemetry-batch-sink.js';
import { EventRouteService } from '../../core/events/event-route-service.js';
import { toIngestMessage } from '../../core/cluster/ingest-envelope.js';
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import { LiveEventBus, type LiveEvent } from '../../core/live/live-events.js';
import { ModelRegistry } from '../../core/models/model-registry.js';
import { ModelService } from '../../core/models/model-service.js';
import type { BusMessage } from '../../core/ports/cluster.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { TwinService } from '../../core/twins/twin-service.js';
import { PgCommitLock } from './pg-commit-lock.js';
import { openPgStorage, type PgStorage } from './pg-storage.js';
import { dropSchema, freshSchemaName, pgTestUrl } from './pg-test-fixture.js';

const METER = 'dtmi:test:Meter;1';
const MODELS = [
  {
    '@id': METER,
    '@type': 'Interface',
    '@context': 'dtmi:dtdl:context;3',
    contents: [
      { '@type': 'Telemetry', name: 'temperature', schema: 'double' },
      { '@type': 'Telemetry', name: 'label', schema: 'string' },
    ],
  },
];

/**
 * One worker's view: storage, models and graph loaded from it, the event-route journal, the ingest
 * service, the real sink.
 */
async function worker(schema: string) {
  const storage = await openPgStorage({ url: pgTestUrl(), schema, poolSize: 4 });
  const registry = new ModelRegistry();
  const models = new ModelService({ workspace: 'default', registry, store: storage.models });
  await models.load();
  const graph = new InMemoryTwinGraph({ hierarchy: registry });
  for await (const t of storage.twins.loadTwins('default')) graph.putTwin(t);
  const live = new LiveEventBus();
  const journal = new EventRouteService({ store: storage.eventRoutes, source: 'w' });
  await journal.load();
  const ingest = new IngestService({
    workspace: (w) => (w === 'default' ? { graph, models } : undefined),
    history: storage.history,
    deadLetters: storage.deadLetters,
    live,
    journal,
  });
  const lock = new PgCommitLock({ url: `${pgTestUrl()}?schema=${schema}`, maxHolders: 4, waitMs: 5000 });
  const sink = new TelemetryBatchSink({ ingest, history: storage.history, bus: 'tb', lock });
  return { storage, models, graph, live, journal, ingest, sink, lock };
}

let seqs = 0;
function busMsg(
  twinId: string,
  payload: string | Buffer,
  over: Partial<BusMessage> = {},
  adt = false,
): BusMessage {
  const seq = ++seqs;
  const m = toIngestMessage(
    {
      source: 'mqtt',
      workspace: 'default',
      topic: `twins/${twinId}/telemetry`,
      clientId: 'dev',
      receivedAt: 1_700_000_000_000 + seq,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      twinId,
    },
    `m${seq}`,
    { adt },
  );
  return { ...m, partition: 0, seq, deliveries: 1, ...over };
}

async function count(storage: PgStorage, twinId: string): Promise<number> {
  const page = await storage.history.queryRaw({
    workspace: 'default',
    twinId,
    path: 'temperature',
    from: 0,
    to: 2e12,
    limit: 10_000,
  });
  return page.points.length;
}

/** The temperatures of the telemetry events journaled for a twin, in outbox order. */
async function routed(storage: PgStorage, twinId: string): Promise<number[]> {
  return (await storage.outbox.pending(0, 100_000))
    .filter((d) => d.orderKey === twinId && d.endpoint === 'hook')
    .map((d) => (d.event.data as { temperature: number }).temperature);
}

describe('the ingest workers sink on PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  async function setup() {
    const schema = freshSchemaName();
    cleanups.push(() => dropSchema(schema));
    const a = await worker(schema);
    cleanups.push(async () => {
      await a.lock.close();
      await a.storage.close();
    });
    await a.models.add(MODELS);
    const twins = new TwinService({
      workspace: 'default',
      models: a.models,
      graph: a.graph,
      store: a.storage.twins,
    });
    await twins.createOrReplace('room-1', { $metadata: { $model: METER } });
    // A route that wants the meters' temperature (workers started after it know it at start).
    await a.journal.putEndpoint('hook', { type: 'webhook', url: 'http://127.0.0.1:9/events' });
    await a.journal.putRoute('temps', {
      endpointName: 'hook',
      filter: "type = 'microsoft.iot.telemetry' AND $body.temperature >= -1000",
    });
    return { schema, a };
  }

  it('stores a batch with its checkpoint, publishes it live, and stores a redelivery nothing twice', async () => {
    const { a } = await setup();
    const events: LiveEvent[] = [];
    a.live.subscribe((es) => events.push(...es));
    const batch = [1, 2, 3].map((i) => busMsg('room-1', JSON.stringify({ temperature: 20 + i })));
    const last = batch[2]!.seq;
    await a.sink.commit(0, batch, last);
    expect(await a.sink.checkpoint(0)).toBe(last);
    expect(await count(a.storage, 'room-1')).toBe(3);
    expect(events.filter((e) => e.type === 'telemetry')).toHaveLength(3);
    expect(a.graph.getTwin('room-1')!.telemetry.temperature!.value).toBe(23);
    await a.sink.commit(0, batch, last); // redelivered after a lost ack
    await a.sink.commit(0, [...batch, busMsg('room-1', '{"temperature":30}')], last + 1);
    expect(await count(a.storage, 'room-1')).toBe(4);
    expect(await a.sink.checkpoint(0)).toBe(last + 1);
    // The route's events were journaled with the readings: once each, in order.
    expect(await routed(a.storage, 'room-1')).toEqual([21, 22, 23, 30]);
  });

  it('dead-letters hostile messages without throwing and still moves the checkpoint', async () => {
    const { a } = await setup();
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const foreign = busMsg('room-1', '{"temperature":1}');
    foreign.topic = 'twins/room-1/telemetry'; // published by something that is not an API node
    const batch = [
      busMsg('room-1', 'not json'),
      busMsg('room-1', '{"__proto__":{"polluted":1},"temperature":5}'),
      busMsg('room-1', deep),
      busMsg("'; DROP TABLE history_points; --", '{"temperature":1}'),
      busMsg('room-1', Buffer.from([0xff, 0xfe, 0x00, 0x7b])),
      busMsg('room-1', '{"temperature":"21"}'),
      busMsg('room-1', '{"label":"x\u0000y"}'),
      foreign,
      busMsg('room-1', '{"temperature":7}'),
    ];
    const last = batch[batch.length - 1]!.seq;
    await a.sink.commit(0, batch, last);
    expect(await a.sink.checkpoint(0)).toBe(last);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const letters = await a.storage.deadLetters.list({ workspace: 'default', limit: 100 });
    // Everything but the last reading is refused (the __proto__ one: an unknown telemetry name).
    expect(letters.length).toBe(batch.length - 1);
    expect(letters.map((l) => l.code).sort()).toContain('BadRequest');
    expect(await count(a.storage, 'room-1')).toBe(1);
    expect(await count(a.storage, "'; DROP TABLE history_points; --")).toBe(0);
  });

  it("takes HTTP telemetry by ADT's rules: what fits is stored, the rest kept as one dead letter", async () => {
    const { a } = await setup();
    const batch = [
      busMsg('room-1', '{"temperature":21,"nope":1,"label":5}', {}, true),
      busMsg('room-1', '{"nope":1}', {}, false), // a device message: refused whole
    ];
    await a.sink.commit(0, batch, batch[1]!.seq);
    expect(await count(a.storage, 'room-1')).toBe(1);
    const letters = await a.storage.deadLetters.list({ workspace: 'default', limit: 10 });
    expect(letters).toHaveLength(2);
    expect(letters.map((l) => l.reason).join(' ')).toMatch(/2 value\(s\) not stored, 1 stored/);
  });

  it('serialises two owners committing the same partition: each message stored once', async () => {
    const { schema, a } = await setup();
    const b = await worker(schema);
    cleanups.push(async () => {
      await b.lock.close();
      await b.storage.close();
    });
    // A fenced-off owner still committing 1..300 while its successor commits 1..200 and then 1..400
    // from the same checkpoint, in several interleavings (one partition and one twin per round).
    for (let round = 0; round < 4; round++) {
      const twinId = `room-${round + 2}`;
      await new TwinService({
        workspace: 'default',
        models: a.models,
        graph: a.graph,
        store: a.storage.twins,
      }).createOrReplace(twinId, { $metadata: { $model: METER } });
      for await (const t of b.storage.twins.loadTwins('default')) b.graph.putTwin(t);
      const msgs = Array.from({ length: 400 }, (_, i) => busMsg(twinId, JSON.stringify({ temperature: i })));
      const commits = [
        () => a.sink.commit(round, msgs.slice(0, 300), msgs[299]!.seq),
        () => b.sink.commit(round, msgs.slice(0, 200), msgs[199]!.seq),
        () => b.sink.commit(round, msgs, msgs[399]!.seq),
      ];
      if (round % 2) commits.reverse();
      await Promise.all(commits.map((c) => c()));
      expect(await count(a.storage, twinId)).toBe(400);
      expect(await a.sink.checkpoint(round)).toBe(msgs[399]!.seq);
      expect(await routed(a.storage, twinId)).toEqual([...Array(400).keys()]);
    }
    expect(await a.storage.deadLetters.list({ workspace: 'default', limit: 5 })).toEqual([]);
  });
});
