/**
 * IS_OF_MODEL as ADT documents it ("Query the twin graph", query by model): not exact, a twin
 * matches when its model, or a model its model extends, is the given model in the same or a later
 * version; `exact` asks for that very model id. Checked through a real ModelRegistry on every path
 * that decides it: the graph's model index (an anchored query), the evaluator (a condition the
 * planner cannot anchor on), live query subscriptions and live model subscriptions.
 */
import { describe, it, expect } from 'vitest';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../graph/graph-types.js';
import { ModelRegistry } from '../models/model-registry.js';
import { LiveEventBus } from '../live/live-events.js';
import { LiveHub } from '../live/live-hub.js';
import { parseSubscription } from '../live/live-filters.js';
import { createLiveQueryCompiler } from '../live/live-query.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery } from './query-executor.js';
import { rel } from './query-test-graph.js';

const iface = (id: string, ext?: string): Record<string, unknown> => ({
  '@context': 'dtmi:dtdl:context;3',
  '@id': id,
  '@type': 'Interface',
  ...(ext !== undefined && { extends: ext }),
});

const registry = new ModelRegistry();
registry.add([
  {
    source: 'test',
    json: [
      iface('dtmi:ex:widget;3'),
      iface('dtmi:ex:widget;4'),
      iface('dtmi:ex:widget;4.2'),
      iface('dtmi:ex:widget;5'),
      iface('dtmi:ex:gadget;1', 'dtmi:ex:widget;5'), // extends a later version
      iface('dtmi:ex:sprocket;1', 'dtmi:ex:gadget;1'), // ... transitively
      iface('dtmi:ex:gizmo;1', 'dtmi:ex:widget;3'), // extends an earlier version
      iface('dtmi:ex:widgets;9'), // another model whose id starts alike
      iface('dtmi:ex:Root;1'),
    ],
  },
]);

/** Twin id -> model. `w7` has a model no longer registered (a later widget version). */
const TWINS: Record<string, string> = {
  w3: 'dtmi:ex:widget;3',
  w4: 'dtmi:ex:widget;4',
  w42: 'dtmi:ex:widget;4.2',
  w5: 'dtmi:ex:widget;5',
  w7: 'dtmi:ex:widget;7',
  g1: 'dtmi:ex:gadget;1',
  s1: 'dtmi:ex:sprocket;1',
  z1: 'dtmi:ex:gizmo;1',
  x9: 'dtmi:ex:widgets;9',
};

const twin = (id: string, modelId: string): TwinRecord => ({
  id,
  modelId,
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 0,
  contents: {},
  propertyTimes: {},
  telemetry: {},
});

const graph = new InMemoryTwinGraph({ hierarchy: registry });
graph.putTwin(twin('root', 'dtmi:ex:Root;1'));
for (const [id, model] of Object.entries(TWINS)) {
  graph.putTwin(twin(id, model));
  graph.putRelationship(rel('root', 'has', id));
}

const isOfModel = (m: string, b: string): boolean => registry.matchesModel(m, b);
const q = (text: string): string[] =>
  executeQuery(graph, text, { isOfModel, cursors: new QueryCursorStore(), pageSize: 1000 })
    .value.map((r) => Object.values(r as Record<string, string>)[0] as string)
    .sort();

/** The same filter three ways: anchored on the model index, evaluated after a JOIN, and in an OR. */
function allWays(args: string): string[] {
  const indexed = q(`SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(${args})`);
  const joined = q(
    `SELECT T.$dtId FROM DIGITALTWINS R JOIN T RELATED R.has WHERE R.$dtId = 'root' AND IS_OF_MODEL(T, ${args.replace(/^T, /, '')})`,
  );
  const scanned = q(`SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(${args}) OR T.$dtId = 'none'`);
  expect(joined).toEqual(indexed);
  expect(scanned).toEqual(indexed);
  return indexed;
}

describe('IS_OF_MODEL: versions and extends, as ADT documents them', () => {
  it('the model in the same or a later version, and every model extending one of those', () => {
    expect(allWays("T, 'dtmi:ex:widget;4'")).toEqual(['g1', 's1', 'w4', 'w42', 'w5', 'w7']);
    expect(allWays("T, 'dtmi:ex:widget;5'")).toEqual(['g1', 's1', 'w5', 'w7']);
    expect(allWays("T, 'dtmi:ex:widget;3'")).toEqual(['g1', 's1', 'w3', 'w4', 'w42', 'w5', 'w7', 'z1']);
    expect(allWays("T, 'dtmi:ex:widget;4.1'")).toEqual(['g1', 's1', 'w42', 'w5', 'w7']);
    expect(allWays("T, 'dtmi:ex:gadget;1'")).toEqual(['g1', 's1']);
    expect(allWays("T, 'dtmi:ex:widget;6'")).toEqual(['w7']);
    expect(allWays("T, 'dtmi:ex:widgets;1'")).toEqual(['x9']);
    expect(allWays("T, 'dtmi:ex:nothing;1'")).toEqual([]);
  });

  it('exact: that model id only, no later version, no extending model', () => {
    expect(allWays("T, 'dtmi:ex:widget;4', exact")).toEqual(['w4']);
    expect(allWays("T, 'dtmi:ex:widget;7', exact")).toEqual(['w7']);
    expect(allWays("T, 'dtmi:ex:gadget;1', exact")).toEqual(['g1']);
  });

  it('COUNT and the one-collection form agree', () => {
    const count = executeQuery(
      graph,
      "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:ex:widget;4')",
      {
        isOfModel,
        cursors: new QueryCursorStore(),
      },
    ).value;
    expect(count).toEqual([{ COUNT: 6 }]);
  });

  it('the registry rule itself', () => {
    expect(registry.matchesModel('dtmi:ex:widget;5', 'dtmi:ex:widget;4')).toBe(true);
    expect(registry.matchesModel('dtmi:ex:widget;3', 'dtmi:ex:widget;4')).toBe(false);
    expect(registry.matchesModel('dtmi:ex:sprocket;1', 'dtmi:ex:widget;4')).toBe(true);
    expect(registry.matchesModel('dtmi:ex:gizmo;1', 'dtmi:ex:widget;4')).toBe(false);
    expect(registry.matchesModel('dtmi:ex:widgets;9', 'dtmi:ex:widget;4')).toBe(false);
    // isOfModel (relationship targets, telemetry checks) keeps its exact-id-or-extends rule
    expect(registry.isOfModel('dtmi:ex:widget;5', 'dtmi:ex:widget;4')).toBe(false);
  });

  it('live query and live model subscriptions follow the same rule', () => {
    const compile = createLiveQueryCompiler({
      graphOf: () => graph,
      isOfModel: (_w, m, b) => registry.matchesModel(m, b),
    });
    const m = compile('w', "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:ex:widget;5')");
    expect([...m.members()].sort()).toEqual(['g1', 's1', 'w5', 'w7']);
    expect(m.matches('w4')).toBe(false);
    expect(m.matches('s1')).toBe(true);

    const bus = new LiveEventBus();
    const hub = new LiveHub({
      bus,
      isOfModel: (_w, m2, b) => registry.matchesModel(m2, b),
      compileQuery: compile,
      schedule: () => {},
    });
    const got: string[] = [];
    const s = hub.openSession({
      bufferedAmount: 0,
      send: (f) => {
        for (const e of (JSON.parse(f) as { events: { twinId: string }[] }).events) got.push(e.twinId);
      },
    });
    const opts = { defaultWorkspace: 'w', maxTwinIds: 10, maxQueryLength: 8000 };
    s.subscribe(parseSubscription({ id: 'm', model: 'dtmi:ex:widget;4' }, opts));
    s.subscribe(parseSubscription({ id: 'e', model: 'dtmi:ex:widget;4', exact: true }, opts));
    bus.publish(
      ['w3', 'w4', 'w5', 's1', 'z1'].map((id) => ({
        type: 'telemetry' as const,
        workspace: 'w',
        twinId: id,
        modelId: TWINS[id] as string,
        time: 1,
        values: { x: 1 },
      })),
    );
    hub.drain();
    // 'm' gets w4, w5 and s1; 'e' gets w4 alone
    expect(got.sort()).toEqual(['s1', 'w4', 'w4', 'w5']);
  });
});
