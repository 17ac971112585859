import { describe, it, expect } from 'vitest';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent } from './live-events.js';
import { LiveEventBus } from './live-events.js';
import { LiveHub, type LiveQueryCompiler } from './live-hub.js';
import { parseSubscription } from './live-filters.js';
import { createLiveQueryCompiler } from './live-query.js';

const PUMP = 'dtmi:ex:Pump;1';
const LINE = 'dtmi:ex:Line;1';

const twin = (id: string, modelId: string, contents: Record<string, unknown>): TwinRecord => ({
  id,
  modelId,
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 0,
  contents,
  propertyTimes: {},
  telemetry: {},
});
const contains = (line: string, pump: string): RelationshipRecord => ({
  id: `${line}-${pump}`,
  sourceId: line,
  targetId: pump,
  name: 'contains',
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 0,
  properties: {},
});
const change = (twinId: string, modelId: string, path: string, value: unknown): LiveEvent => ({
  type: 'propertyChange',
  workspace: 'w',
  twinId,
  modelId,
  time: 1,
  patch: [{ op: 'replace', path, value }],
});
const telemetry = (twinId: string): LiveEvent => ({
  type: 'telemetry',
  workspace: 'w',
  twinId,
  modelId: PUMP,
  time: 1,
  values: { rpm: 1 },
});

/** Two lines of 20 pumps; a MATCH subscription on the pumps of lines that are on. */
function world(query = "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.status = 'on'") {
  const graph = new InMemoryTwinGraph();
  for (const l of ['L1', 'L2']) {
    graph.putTwin(twin(l, LINE, { status: 'on' }));
    for (let i = 0; i < 20; i++) {
      graph.putTwin(twin(`${l}-p${i}`, PUMP, { temperature: i }));
      graph.putRelationship(contains(l, `${l}-p${i}`));
    }
  }
  const isOfModel = (_w: string, m: string, b: string) => m === b;
  const real = createLiveQueryCompiler({ graphOf: (w) => (w === 'w' ? graph : undefined), isOfModel });
  let recomputes = 0;
  // Counts whole-query evaluations (members()) of the subscription.
  const compileQuery: LiveQueryCompiler = (ws, text) => {
    const m = real(ws, text);
    return {
      readsTelemetry: m.readsTelemetry ?? false,
      dependsOnOtherTwins: m.dependsOnOtherTwins ?? false,
      matches: (id) => m.matches(id),
      members: () => {
        recomputes++;
        return m.members();
      },
    };
  };
  const bus = new LiveEventBus();
  const hub = new LiveHub({ bus, isOfModel, compileQuery, schedule: () => {} });
  const frames: { sub: string; events: { type: string; twinId: string; member?: boolean }[] }[] = [];
  const session = hub.openSession({ bufferedAmount: 0, send: (f) => frames.push(JSON.parse(f)) });
  const opts = { defaultWorkspace: 'w', maxTwinIds: 10, maxQueryLength: 8000 };
  const sub = session.subscribe(parseSubscription({ id: 'on', query }, opts));
  const events = () => frames.flatMap((f) => f.events).map((e) => [e.type, e.twinId, e.member]);
  return { graph, bus, hub, sub, frames, events, recomputes: () => recomputes };
}

describe('live JOIN/MATCH subscriptions recompute at most once per batch', () => {
  it('N events in one batch: one recompute, and the same deliveries as one by one', () => {
    const w = world();
    expect(w.sub.memberCount).toBe(40);
    expect(w.recomputes()).toBe(1); // at subscribe
    const batch: LiveEvent[] = [];
    for (let i = 0; i < 20; i++) {
      w.graph.putTwin(twin(`L1-p${i}`, PUMP, { temperature: 100 + i }));
      batch.push(change(`L1-p${i}`, PUMP, '/temperature', 100 + i));
    }
    w.bus.publish(batch);
    w.hub.drain();
    expect(w.recomputes()).toBe(2);
    expect(w.events()).toHaveLength(20);

    // Several publishes before one drain are one batch too.
    w.frames.length = 0;
    w.graph.putTwin(twin('L2', LINE, { status: 'off' }));
    w.bus.publish([change('L2', LINE, '/status', 'off')]);
    w.bus.publish([change('L1-p0', PUMP, '/temperature', 1)]);
    w.bus.publish([change('L2-p0', PUMP, '/temperature', 1)]);
    w.hub.drain();
    expect(w.recomputes()).toBe(3);
    // The events of twins that were members, then L2's pumps leave.
    const got = w.events();
    expect(got.slice(0, 2)).toEqual([
      ['propertyChange', 'L1-p0', undefined],
      ['propertyChange', 'L2-p0', undefined],
    ]);
    expect(got.slice(2)).toHaveLength(20);
    expect(got.slice(2).every(([type, , member]) => type === 'membership' && member === false)).toBe(true);
  });

  it('telemetry that the WHERE does not read is delivered to members without a recompute', () => {
    const w = world(`SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE IS_OF_MODEL(L, '${LINE}')`);
    w.bus.publish([telemetry('L1-p1'), telemetry('L1-p2'), telemetry('nobody')]);
    w.hub.drain();
    expect(w.recomputes()).toBe(1); // only the one at subscribe
    expect(w.events()).toEqual([
      ['telemetry', 'L1-p1', undefined],
      ['telemetry', 'L1-p2', undefined],
    ]);
  });
});
