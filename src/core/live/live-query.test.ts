import { describe, it, expect } from 'vitest';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../graph/graph-types.js';
import { TwinloopError } from '../errors/errors.js';
import { LiveEventBus } from './live-events.js';
import { LiveHub } from './live-hub.js';
import { parseSubscription } from './live-filters.js';
import { createLiveQueryCompiler } from './live-query.js';

const PUMP = 'dtmi:ex:Pump;1';
const LINE = 'dtmi:ex:Line;1';

function twin(
  id: string,
  modelId: string,
  contents: Record<string, unknown>,
  telemetry: Record<string, unknown> = {},
): TwinRecord {
  return {
    id,
    modelId,
    workspace: 'w',
    etag: 'W/"1"',
    lastUpdateTime: 0,
    contents,
    propertyTimes: {},
    telemetry: Object.fromEntries(Object.entries(telemetry).map(([k, value]) => [k, { value, time: 1 }])),
  };
}

function world() {
  const graph = new InMemoryTwinGraph();
  graph.putTwin(twin('p1', PUMP, { temperature: 80 }));
  graph.putTwin(twin('p2', PUMP, { temperature: 20 }));
  graph.putTwin(twin('L1', LINE, { status: 'on' }));
  graph.putRelationship({
    id: 'r1',
    sourceId: 'L1',
    targetId: 'p1',
    name: 'contains',
    workspace: 'w',
    etag: 'W/"1"',
    lastUpdateTime: 0,
    properties: {},
  });
  const isOfModel = (_w: string, m: string, b: string) => m === b;
  const compile = createLiveQueryCompiler({ graphOf: (w) => (w === 'w' ? graph : undefined), isOfModel });
  return { graph, compile, isOfModel };
}

function fails(f: () => unknown): TwinloopError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
}

describe('createLiveQueryCompiler (real query engine)', () => {
  it('evaluates one twin against the current graph', () => {
    const { graph, compile } = world();
    const m = compile('w', 'SELECT T FROM DIGITALTWINS T WHERE T.temperature > 50');
    expect([...m.members()]).toEqual(['p1']);
    expect(m.matches('p1')).toBe(true);
    expect(m.matches('p2')).toBe(false);
    expect(m.matches('nope')).toBe(false);
    graph.putTwin(twin('p2', PUMP, { temperature: 99 }));
    expect(m.matches('p2')).toBe(true);
    expect(m.readsTelemetry).toBe(false); // a bare path reads properties only (ADT)
    expect(m.dependsOnOtherTwins).toBe(false);
  });

  it('reads the latest telemetry through $telemetry only, bare paths keep the ADT answer', () => {
    const { graph, compile } = world();
    graph.putTwin(twin('p1', PUMP, { temperature: 80 }, { vibration: 9 }));
    graph.putTwin(twin('p2', PUMP, { temperature: 20 }, { vibration: 3 }));
    const bare = compile('w', 'SELECT T FROM DIGITALTWINS T WHERE T.vibration > 7');
    expect([...bare.members()]).toEqual([]);
    expect(bare.readsTelemetry).toBe(false);
    const undefinedOnes = compile('w', 'SELECT T FROM DIGITALTWINS T WHERE NOT IS_DEFINED(T.vibration)');
    expect([...undefinedOnes.members()].sort()).toEqual(['L1', 'p1', 'p2']);
    const ext = compile('w', 'SELECT T FROM DIGITALTWINS T WHERE T.$telemetry.vibration > 7');
    expect([...ext.members()]).toEqual(['p1']);
    expect(ext.readsTelemetry).toBe(true);
    const noAlias = compile('w', 'SELECT * FROM DIGITALTWINS WHERE IS_NUMBER($telemetry.vibration)');
    expect([...noAlias.members()].sort()).toEqual(['p1', 'p2']);
    expect(noAlias.readsTelemetry).toBe(true);
    const matched = compile(
      'w',
      'SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE P.$telemetry.vibration > 7',
    );
    expect([...matched.members()]).toEqual(['p1']);
    expect(matched.readsTelemetry).toBe(true);
    graph.putTwin(twin('p1', PUMP, { temperature: 80 }, { vibration: 2 }));
    expect(ext.matches('p1')).toBe(false);
    expect(matched.matches('p1')).toBe(false);
  });

  it('knows when a WHERE reads only $ fields', () => {
    const { compile } = world();
    const m = compile(
      'w',
      `SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${PUMP}') AND $dtId IN ['p1', 'L1']`,
    );
    expect([...m.members()]).toEqual(['p1']);
    expect(m.readsTelemetry).toBe(false);
  });

  it('follows the selected collection of a MATCH', () => {
    const { compile } = world();
    const m = compile('w', "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.status = 'on'");
    expect([...m.members()]).toEqual(['p1']);
    expect(m.matches('p1')).toBe(true);
    expect(m.matches('L1')).toBe(false);
    expect(m.dependsOnOtherTwins).toBe(true);
  });

  it('reports syntax errors with line and column, and refuses what cannot be followed', () => {
    const { compile } = world();
    const e = fails(() => compile('w', 'SELECT T FROM DIGITALTWINS T\nWHERE T.x >'));
    expect(e.code).toBe('SqlQueryError');
    expect(e.problems[0]).toMatchObject({ line: 2 });
    expect(fails(() => compile('w', 'SELECT COUNT() FROM DIGITALTWINS')).code).toBe('QueryNotSupported');
    expect(fails(() => compile('w', 'SELECT R FROM RELATIONSHIPS R')).code).toBe('QueryNotSupported');
    expect(
      fails(() => compile('w', 'SELECT L, P FROM DIGITALTWINS MATCH (L)-[:contains]->(P)')).problems[0],
    ).toMatchObject({ line: 1, column: 8, code: 'query.live.unsupported' });
    expect(fails(() => compile('nowhere', 'SELECT T FROM DIGITALTWINS T')).code).toBe('NotFound');
  });

  it('drives hub membership from real graph writes, including MATCH patterns', () => {
    const { graph, compile, isOfModel } = world();
    const bus = new LiveEventBus();
    const hub = new LiveHub({ bus, isOfModel, compileQuery: compile, schedule: () => {} });
    const frames: { sub: string; events: { type: string; twinId: string; member?: boolean }[] }[] = [];
    const s = hub.openSession({ bufferedAmount: 0, send: (f) => frames.push(JSON.parse(f)) });
    const opts = { defaultWorkspace: 'w', maxTwinIds: 10, maxQueryLength: 8000 };
    s.subscribe(
      parseSubscription({ id: 'hot', query: 'SELECT T FROM DIGITALTWINS T WHERE T.temperature > 50' }, opts),
    );
    s.subscribe(
      parseSubscription(
        { id: 'line', query: "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.status = 'on'" },
        opts,
      ),
    );
    s.subscribe(
      parseSubscription(
        { id: 'shaky', query: 'SELECT T FROM DIGITALTWINS T WHERE T.$telemetry.vibration > 7' },
        opts,
      ),
    );
    s.subscribe(
      parseSubscription({ id: 'bare', query: 'SELECT T FROM DIGITALTWINS T WHERE T.vibration > 7' }, opts),
    );

    // The line is switched off: p1 leaves the MATCH subscription though the event is about L1.
    graph.putTwin(twin('L1', LINE, { status: 'off' }));
    graph.putTwin(twin('p2', PUMP, { temperature: 70 }));
    bus.publish([
      {
        type: 'propertyChange',
        workspace: 'w',
        twinId: 'L1',
        modelId: LINE,
        time: 1,
        patch: [{ op: 'replace', path: '/status', value: 'off' }],
      },
      {
        type: 'propertyChange',
        workspace: 'w',
        twinId: 'p2',
        modelId: PUMP,
        time: 1,
        patch: [{ op: 'replace', path: '/temperature', value: 70 }],
      },
    ]);
    hub.drain();
    // A vibration reading arrives: the $telemetry subscription takes p1 in, the bare path does not.
    graph.putTwin(twin('p1', PUMP, { temperature: 80 }, { vibration: 9 }));
    bus.publish([
      { type: 'telemetry', workspace: 'w', twinId: 'p1', modelId: PUMP, time: 2, values: { vibration: 9 } },
    ]);
    hub.drain();
    const of = (sub: string) =>
      frames
        .filter((f) => f.sub === sub)
        .flatMap((f) => f.events)
        .map((e) => [e.type, e.twinId, e.member]);
    expect(of('line')).toEqual([['membership', 'p1', false]]);
    expect(of('hot')).toEqual([
      ['membership', 'p2', true],
      ['propertyChange', 'p2', undefined],
      ['telemetry', 'p1', undefined],
    ]);
    expect(of('shaky')).toEqual([
      ['membership', 'p1', true],
      ['telemetry', 'p1', undefined],
    ]);
    expect(of('bare')).toEqual([]);
  });
});
