/**
 * The Azure Digital Twins query reference, example by example: each query the reference (SELECT,
 * FROM, JOIN, MATCH, WHERE, functions, operators, reserved words, "Query the twin graph") shows,
 * on a graph built as its text describes, with the rows the text says it returns. Written from the
 * reference, not from the implementation. Where a sample has a typo (a missing FROM, an unknown
 * collection name), the test runs the query the text describes and says so.
 */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery } from './query-executor.js';
import { rel } from './query-test-graph.js';

/** model -> the models it extends */
const BASES: Record<string, string[]> = {
  'dtmi:example:bigroom;1': ['dtmi:example:room;1'],
};
const isOfModel = (m: string, base: string): boolean => m === base || (BASES[m] ?? []).includes(base);

function twin(id: string, modelId: string, contents: Record<string, unknown> = {}): TwinRecord {
  return {
    id,
    modelId,
    workspace: 'w',
    etag: `W/"${id}"`,
    lastUpdateTime: 1000,
    contents,
    propertyTimes: Object.fromEntries(Object.keys(contents).map((k) => [k, 1000])),
    telemetry: {},
  };
}

function graphOf(twins: TwinRecord[], rels: RelationshipRecord[] = []): InMemoryTwinGraph {
  const g = new InMemoryTwinGraph({ hierarchy: { matchesModel: isOfModel } });
  for (const t of twins) g.putTwin(t);
  for (const r of rels) g.putRelationship(r);
  return g;
}

const run = (g: InMemoryTwinGraph, text: string): unknown[] =>
  executeQuery(g, text, { isOfModel, cursors: new QueryCursorStore(), pageSize: 1000 }).value;
const dtIds = (rows: unknown[], key?: string): string[] =>
  rows.map((r) => ((key ? (r as Record<string, unknown>)[key] : r) as { $dtId: string }).$dtId).sort();
const errorOf = (fn: () => unknown): TwinloopError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
};

describe('SELECT (reference-query-clause-select)', () => {
  // "a Factory twin called FactoryA ... a Consumer twin called Contoso ... a consumerRelationship
  // relationship from FactoryA to Contoso, called FactoryA-consumerRelationship-Contoso, managedBy Jeff"
  const g = graphOf(
    [
      twin('FactoryA', 'dtmi:contosocom:DigitalTwins:Factory;1', { name: 'FactoryA' }),
      twin('Contoso', 'dtmi:com:contoso:Consumer;1', { name: 'Contoso' }),
    ],
    [
      rel(
        'FactoryA',
        'consumerRelationship',
        'Contoso',
        { managedBy: 'Jeff' },
        'FactoryA-consumerRelationship-Contoso',
      ),
    ],
  );

  it('SELECT * FROM DIGITALTWINS returns every twin document as is', () => {
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS'))).toEqual(['Contoso', 'FactoryA']);
  });

  it('SELECT T FROM DIGITALTWINS T returns each twin under the key T', () => {
    const rows = run(g, 'SELECT T FROM DIGITALTWINS T') as { T: Record<string, unknown> }[];
    expect(dtIds(rows, 'T')).toEqual(['Contoso', 'FactoryA']);
    expect(rows.find((r) => r.T.$dtId === 'FactoryA')?.T).toMatchObject({
      $dtId: 'FactoryA',
      $etag: expect.any(String),
      $metadata: {
        $model: 'dtmi:contosocom:DigitalTwins:Factory;1',
        name: { lastUpdateTime: expect.any(String) },
      },
      name: 'FactoryA',
    });
  });

  it('projects the twins and the relationship of a JOIN', () => {
    const rows = run(
      g,
      "SELECT Consumer, Factory, Relationship FROM DIGITALTWINS Factory JOIN Consumer RELATED Factory.consumerRelationship Relationship WHERE Factory.$dtId = 'FactoryA'",
    ) as Record<string, Record<string, unknown>>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0] as object).sort()).toEqual(['Consumer', 'Factory', 'Relationship']);
    expect(rows[0]?.Consumer).toMatchObject({ $dtId: 'Contoso', name: 'Contoso' });
    expect(rows[0]?.Factory).toMatchObject({ $dtId: 'FactoryA', name: 'FactoryA' });
    expect(rows[0]?.Relationship).toEqual({
      $etag: expect.any(String),
      $relationshipId: 'FactoryA-consumerRelationship-Contoso',
      $relationshipName: 'consumerRelationship',
      $sourceId: 'FactoryA',
      $targetId: 'Contoso',
      managedBy: 'Jeff',
    });
  });

  it('projects a twin property and a relationship property', () => {
    expect(
      run(
        g,
        "SELECT Consumer.name, Relationship.managedBy FROM DIGITALTWINS Factory JOIN Consumer RELATED Factory.consumerRelationship Relationship WHERE Factory.$dtId = 'FactoryA'",
      ),
    ).toEqual([{ managedBy: 'Jeff', name: 'Contoso' }]);
  });

  it('a projected property a row does not have is left out of that row', () => {
    const people = graphOf([
      twin('john', 'dtmi:example:Person;1', { name: 'John', age: 27 }),
      twin('keanu', 'dtmi:example:Person;1', { name: 'Keanu' }),
    ]);
    expect(run(people, 'SELECT name, age FROM DIGITALTWINS')).toEqual([
      { name: 'John', age: 27 },
      { name: 'Keanu' },
    ]);
  });

  it('SELECT COUNT() counts twins, and relationships', () => {
    expect(run(g, 'SELECT COUNT() FROM DIGITALTWINS')).toEqual([{ COUNT: 2 }]);
    expect(run(g, 'SELECT COUNT() FROM RELATIONSHIPS')).toEqual([{ COUNT: 1 }]);
  });

  it('SELECT TOP(5) FROM DIGITALTWINS returns the first five twins (no select list needed)', () => {
    const many = graphOf(Array.from({ length: 8 }, (_, i) => twin(`t${i}`, 'dtmi:example:Thing;1', { i })));
    const top = run(many, 'SELECT TOP(5) FROM DIGITALTWINS') as { $dtId: string }[];
    expect(top).toHaveLength(5);
    expect(top.every((t) => typeof t.$dtId === 'string')).toBe(true);
    // "Query the twin graph" writes it with a space, and with a WHERE
    expect(run(many, 'SELECT TOP (5) FROM DIGITALTWINS WHERE i >= 6')).toHaveLength(2);
    expect(run(many, 'SELECT TOP(5) T.$dtId FROM DIGITALTWINS T')).toHaveLength(5);
    expect(run(many, 'SELECT TOP(3) * FROM DIGITALTWINS')).toHaveLength(3);
  });
});

describe('FROM (reference-query-clause-from)', () => {
  const g = graphOf(
    ['A', 'B', 'C', 'D', 'E'].map((id) => twin(id, 'dtmi:example:Thing;1')),
    [rel('A', 'r', 'B'), rel('B', 'r', 'C'), rel('C', 'r', 'D'), rel('D', 'r', 'E'), rel('E', 'r', 'A')],
  );

  it('FROM DIGITALTWINS and FROM DIGITALTWINS T, in any case', () => {
    expect(run(g, 'SELECT * FROM DIGITALTWINS')).toHaveLength(5);
    expect(run(g, 'SELECT * FROM DIGITALTWINS T')).toHaveLength(5);
    expect(run(g, 'select * from DigitalTwins t')).toHaveLength(5);
  });

  it('FROM RELATIONSHIPS, and the relationships coming from A, B, C or D', () => {
    expect(run(g, 'SELECT * FROM RELATIONSHIPS')).toHaveLength(5);
    const rows = run(g, "SELECT * FROM RELATIONSHIPS WHERE $sourceId IN  ['A', 'B', 'C', 'D']") as {
      $sourceId: string;
    }[];
    expect(rows.map((r) => r.$sourceId).sort()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('no subqueries, and FROM RELATIONSHIPS cannot be combined with JOIN', () => {
    expect(errorOf(() => run(g, 'SELECT * FROM (SELECT * FROM DIGITALTWINS T WHERE T.x = 1)')).code).toBe(
      'SqlQueryError',
    );
    expect(
      errorOf(() => run(g, "SELECT * FROM RELATIONSHIPS R JOIN T RELATED R.r WHERE R.$sourceId = 'A'")).code,
    ).toBe('QueryNotSupported');
  });
});

describe('JOIN (reference-query-clause-join, how-to-query-graph)', () => {
  // Building1 > Floor1 > room1, room2 > LightPanel > LightBulbRow > LightBulb
  const g = graphOf(
    [
      twin('ABC', 'dtmi:example:Space;1'),
      twin('ABC-child', 'dtmi:example:Space;1'),
      twin('Building1', 'dtmi:example:Building;1'),
      twin('Floor1', 'dtmi:example:Floor;1'),
      twin('room1', 'dtmi:com:contoso:Room;1', { Temperature: 75 }),
      twin('room2', 'dtmi:com:contoso:Room;1', { Temperature: 70 }),
      twin('room3', 'dtmi:com:contoso:Room;1', { Temperature: 80 }),
      twin('panel1', 'dtmi:contoso:com:lightpanel;1'),
      twin('panel2', 'dtmi:contoso:com:lightpanel;1'),
      twin('row1', 'dtmi:example:LightBulbRow;1'),
      twin('bulb1', 'dtmi:contoso:com:lightbulb;1'),
      twin('bulb2', 'dtmi:contoso:com:lightbulb;1'),
      twin('bulb3', 'dtmi:contoso:com:lightbulb;1'),
      twin('bulb9', 'dtmi:contoso:com:lightbulb;1'),
      twin('source-twin', 'dtmi:example:Pipe;1'),
      twin('target-twin', 'dtmi:example:Pipe;1'),
      twin('Building2', 'dtmi:example:Building;1'),
      twin('svc', 'dtmi:example:Service;1'),
    ],
    [
      rel('ABC', 'contains', 'ABC-child'),
      rel('ABC', 'servicedBy', 'svc', { reportedCondition: 'clean' }),
      rel('Building1', 'contains', 'Floor1'),
      rel('Floor1', 'contains', 'room1'),
      rel('Floor1', 'contains', 'room2'),
      rel('Floor1', 'contains', 'room3'),
      rel('room1', 'contains', 'panel1'),
      rel('room2', 'contains', 'panel2'),
      rel('panel1', 'contains', 'bulb1'),
      rel('panel1', 'contains', 'bulb2'),
      rel('panel2', 'contains', 'bulb3'),
      rel('panel1', 'contains', 'row1'),
      rel('row1', 'contains', 'bulb9'),
      rel('source-twin', 'feeds', 'target-twin'),
    ],
  );

  it('SELECT T, CT ... JOIN CT RELATED T.contains WHERE T.$dtId = ABC', () => {
    const rows = run(g, "SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'ABC'");
    expect(rows.map((r) => [dtIds([r], 'T')[0], dtIds([r], 'CT')[0]])).toEqual([['ABC', 'ABC-child']]);
  });

  it('two JOINs: the light bulbs in the light panels of rooms 1 and 2', () => {
    const text =
      "SELECT LightBulb FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains JOIN LightBulb RELATED LightPanel.contains WHERE Room.$dtId IN ['room1', 'room2']";
    expect(dtIds(run(g, text), 'LightBulb')).toEqual(['bulb1', 'bulb2', 'bulb3', 'row1']);
    // the how-to's version filters the models too, and counts them
    const filtered =
      "FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains JOIN LightBulb RELATED LightPanel.contains WHERE IS_OF_MODEL(LightPanel, 'dtmi:contoso:com:lightpanel;1') AND IS_OF_MODEL(LightBulb, 'dtmi:contoso:com:lightbulb;1') AND Room.$dtId IN ['room1', 'room2']";
    expect(dtIds(run(g, `SELECT LightBulb ${filtered}`), 'LightBulb')).toEqual(['bulb1', 'bulb2', 'bulb3']);
    expect(run(g, `SELECT COUNT() ${filtered}`)).toEqual([{ COUNT: 3 }]);
  });

  it('five JOINs: all the light bulbs in Building1', () => {
    const text =
      "SELECT LightBulb FROM DIGITALTWINS Building JOIN Floor RELATED Building.contains JOIN Room RELATED Floor.contains JOIN LightPanel RELATED Room.contains JOIN LightBulbRow RELATED LightPanel.contains JOIN LightBulb RELATED LightBulbRow.contains WHERE Building.$dtId = 'Building1'";
    expect(dtIds(run(g, text), 'LightBulb')).toEqual(['bulb9']);
  });

  it('no OUTER JOIN: a building without floors gives no row', () => {
    const text =
      "SELECT Building, Floor FROM DIGITALTWINS Building JOIN Floor RELATED Building.contains WHERE Building.$dtId = 'Building2'";
    expect(run(g, text)).toEqual([]);
  });

  it('by the source or by the target of a relationship', () => {
    expect(
      dtIds(
        run(
          g,
          "SELECT target FROM DIGITALTWINS source JOIN target RELATED source.feeds WHERE source.$dtId = 'source-twin'",
        ),
        'target',
      ),
    ).toEqual(['target-twin']);
    expect(
      dtIds(
        run(
          g,
          "SELECT source FROM DIGITALTWINS source JOIN target RELATED source.feeds WHERE target.$dtId = 'target-twin'",
        ),
        'source',
      ),
    ).toEqual(['source-twin']);
  });

  it('filters on a property of the relationship', () => {
    const rows = run(
      g,
      "SELECT T, SBT, R FROM DIGITALTWINS T JOIN SBT RELATED T.servicedBy R WHERE T.$dtId = 'ABC' AND R.reportedCondition = 'clean'",
    ) as Record<string, Record<string, unknown>>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]?.R).toMatchObject({ $relationshipName: 'servicedBy', reportedCondition: 'clean' });
    expect(
      run(
        g,
        "SELECT T FROM DIGITALTWINS T JOIN SBT RELATED T.servicedBy R WHERE T.$dtId = 'ABC' AND R.reportedCondition = 'dirty'",
      ),
    ).toEqual([]);
  });

  it('rooms of a floor with a model filter, and hot rooms with IN', () => {
    expect(
      dtIds(
        run(
          g,
          "SELECT Room FROM DIGITALTWINS Floor JOIN Room RELATED Floor.contains WHERE Floor.$dtId = 'Floor1' AND IS_OF_MODEL(Room, 'dtmi:com:contoso:Room;1')",
        ),
        'Room',
      ),
    ).toEqual(['room1', 'room2', 'room3']);
    expect(
      dtIds(
        run(
          g,
          "SELECT Room FROM DIGITALTWINS Floor JOIN Room RELATED Floor.contains WHERE Floor.$dtId IN ['Floor1'] AND Room. Temperature > 72 AND IS_OF_MODEL(Room, 'dtmi:com:contoso:Room;1')",
        ),
        'Room',
      ),
    ).toEqual(['room1', 'room3']);
  });

  it('projections with AS aliases, and a whole twin next to a property', () => {
    const f = graphOf(
      [
        twin('ABC', 'dtmi:example:Factory;1', { area: 12 }),
        twin('C1', 'dtmi:example:Consumer;1', { name: 'Contoso' }),
      ],
      [rel('ABC', 'customer', 'C1', { prop1: 'a', prop2: 'b' })],
    );
    const from =
      "FROM DIGITALTWINS Factory JOIN Consumer RELATED Factory.customer Edge WHERE Factory.$dtId = 'ABC'";
    expect(run(f, `SELECT Consumer.name ${from}`)).toEqual([{ name: 'Contoso' }]);
    expect(run(f, `SELECT Consumer.name, Edge.prop1, Edge.prop2, Factory.area ${from}`)).toEqual([
      { name: 'Contoso', prop1: 'a', prop2: 'b', area: 12 },
    ]);
    expect(
      run(
        f,
        `SELECT Consumer.name AS consumerName, Edge.prop1 AS first, Edge.prop2 AS second, Factory.area AS factoryArea ${from}`,
      ),
    ).toEqual([{ consumerName: 'Contoso', first: 'a', second: 'b', factoryArea: 12 }]);
    const [row] = run(f, `SELECT Consumer.name AS consumerName, Factory ${from}`) as Record<
      string,
      unknown
    >[];
    expect(row).toMatchObject({ consumerName: 'Contoso', Factory: { $dtId: 'ABC', area: 12 } });
  });
});

describe('MATCH (reference-query-clause-match), on a worked graph', () => {
  /*
   * thermostat-15 -contains-> n1 -contains-> n2 -contains-> n3 -isAssociatedWith-> n4 -contains-> n5 -contains-> n6
   *                                          n2 -contains-> m
   * Building21 -> s1 (temperature 60), s2 (40); ABC (factory) <- room-a (50+), room-b; Seattle21 etc.
   */
  const g = graphOf(
    [
      twin('thermostat-15', 'dtmi:example:Floor;1'),
      ...['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'm'].map((id) => twin(id, 'dtmi:example:Room;1')),
      twin('Building21', 'dtmi:example:Building;1'),
      twin('s1', 'dtmi:example:Sensor;1', { temperature: 60 }),
      twin('s2', 'dtmi:example:Sensor;1', { temperature: 40 }),
      twin('ABC', 'dtmi:example:Factory;1'),
      twin('room-a', 'dtmi:example:Room;1', { temperature: 55, humidity: 80 }),
      twin('room-b', 'dtmi:example:Room;1', { temperature: 45, humidity: 75 }),
      twin('Seattle21', 'dtmi:example:Building;1'),
      twin('sensor-c', 'dtmi:example:Sensor;1'),
      twin('sensor-i', 'dtmi:example:Sensor;1'),
      twin('sensor-o', 'dtmi:example:Sensor;1'),
      twin('floor-x', 'dtmi:example:Floor;1'),
      twin('cafe', 'dtmi:example:Cafe;1', { temperature: 55 }),
      twin('room-c', 'dtmi:example:Room;1'),
      twin('building-3', 'dtmi:example:Building;1'),
      twin('floor-3', 'dtmi:example:Floor;1'),
      twin('room-3a', 'dtmi:example:Room;1', { temperature: 60 }),
      twin('room-3b', 'dtmi:example:Room;1', { temperature: 30 }),
    ],
    [
      rel('thermostat-15', 'contains', 'n1'),
      rel('n1', 'contains', 'n2'),
      rel('n2', 'contains', 'n3'),
      rel('n2', 'contains', 'm'),
      rel('n3', 'isAssociatedWith', 'n4'),
      rel('n4', 'contains', 'n5'),
      rel('n5', 'contains', 'n6'),
      rel('Building21', 'contains', 's1'),
      rel('Building21', 'monitors', 's2'),
      rel('room-a', 'partOf', 'ABC'),
      rel('ABC', 'hosts', 'room-b'),
      rel('Seattle21', 'contains', 'sensor-c'),
      rel('sensor-i', 'isAssociatedWith', 'Seattle21'),
      rel('Seattle21', 'observes', 'sensor-o'),
      rel('floor-x', 'contains', 'cafe', { length: 10 }),
      rel('room-c', 'includes', 'cafe'),
      rel('building-3', 'isAssociatedWith', 'floor-3'),
      rel('room-3a', 'isAssociatedWith', 'floor-3'),
      rel('room-3b', 'isAssociatedWith', 'floor-3'),
    ],
  );
  const rooms = (pattern: string): string[] =>
    dtIds(
      run(g, `SELECT Room FROM DIGITALTWINS MATCH ${pattern} WHERE Floor.$dtId = 'thermostat-15'`),
      'Room',
    );

  it('the MATCH example: Building21 and its sensors above 50', () => {
    const rows = run(
      g,
      "SELECT Building, Sensor FROM DIGITALTWINS MATCH (Building)-[]->(Sensor) WHERE Building.$dtId = 'Building21' AND Sensor.temperature > 50",
    );
    expect(rows.map((r) => [dtIds([r], 'Building')[0], dtIds([r], 'Sensor')[0]])).toEqual([
      ['Building21', 's1'],
    ]);
  });

  it('left-to-right, right-to-left and non-directional', () => {
    const pair = (text: string): string[] => dtIds(run(g, text), 'Room');
    expect(
      pair(
        "SELECT Room, Factory FROM DIGITALTWINS MATCH (Room)-[]->(Factory) WHERE Room.temperature > 50 AND Factory.$dtId = 'ABC'",
      ),
    ).toEqual(['room-a']);
    expect(
      pair(
        "SELECT Room, Factory FROM DIGITALTWINS MATCH (Room)<-[]-(Factory) WHERE Factory.$dtId = 'ABC' AND Room.temperature > 40",
      ),
    ).toEqual(['room-b']);
    expect(
      pair(
        "SELECT Factory, Room FROM DIGITALTWINS MATCH (Factory)-[]-(Room) WHERE Factory.$dtId ='ABC'  AND Room.humidity > 70",
      ),
    ).toEqual(['room-a', 'room-b']);
  });

  it('one name, a list of names, or any name', () => {
    const sensors = (cond: string): string[] =>
      dtIds(
        run(
          g,
          `SELECT Building, Sensor FROM DIGITALTWINS MATCH (Building)-[${cond}]-(Sensor) WHERE Building.$dtId = 'Seattle21'`,
        ),
        'Sensor',
      );
    expect(sensors(':contains')).toEqual(['sensor-c']);
    expect(sensors(':contains|isAssociatedWith')).toEqual(['sensor-c', 'sensor-i']);
    expect(sensors('')).toEqual(['sensor-c', 'sensor-i', 'sensor-o']);
  });

  it('[*3] is exactly 3 hops', () => {
    expect(rooms('(Floor)-[*3]-(Room)')).toEqual(['m', 'n3']);
  });

  it('[*1..3] is 2 or 3 hops: the starting limit is not in the range, the ending limit is', () => {
    // a twin is never reached again over a relationship already on the trail: not thermostat-15, not n1
    expect(rooms('(Floor)-[*1..3]-(Room)')).toEqual(['m', 'n2', 'n3']);
  });

  it('[*..2] is at most 2 hops (1 or 2)', () => {
    expect(rooms('(Floor)-[*..2]-(Room)')).toEqual(['n1', 'n2']);
  });

  it('[] is one hop', () => {
    expect(rooms('(Floor)-[]-(Room)')).toEqual(['n1']);
  });

  it('direction, names and hops together: [:contains|isAssociatedWith*3..5] is 4 or 5 hops', () => {
    expect(
      dtIds(
        run(
          g,
          "SELECT Floor, Room FROM DIGITALTWINS MATCH (Floor)-[:contains|isAssociatedWith*3..5]->(Room) WHERE Floor.$dtId = 'thermostat-15'",
        ),
        'Room',
      ),
    ).toEqual(['n4', 'n5']);
    expect(rooms('(Floor)-[:contains*3..5]->(Room)')).toEqual([]);
  });

  it('a hop range that holds no count is refused with its position', () => {
    const e = errorOf(() => rooms('(Floor)-[*3..3]-(Room)'));
    expect(e.code).toBe('SqlQueryError');
    expect(e.message).toMatch(/empty.*line 1, column \d+/);
  });

  it('a relationship variable filters on its properties (single hop only)', () => {
    const text =
      "SELECT Floor, Cafe, Rel FROM DIGITALTWINS MATCH (Floor)-[Rel]-(Cafe) WHERE Floor.$dtId = 'floor-x' AND Rel.length = 10";
    const rows = run(g, text) as Record<string, Record<string, unknown>>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]?.Rel).toMatchObject({ $relationshipName: 'contains', length: 10 });
    expect(
      run(
        g,
        "SELECT Floor, Room FROM DIGITALTWINS MATCH (Floor)-[r:contains|isAssociatedWith]->(Room) WHERE Floor.$dtId = 'floor-x' AND r.length = 10",
      ),
    ).toHaveLength(1);
    expect(
      errorOf(() => run(g, "SELECT a FROM DIGITALTWINS MATCH (a)-[r*2]-(b) WHERE a.$dtId = 'n1'")).code,
    ).toBe('QueryNotSupported');
  });

  it('chained conditions (the sample writes the second list without its colon)', () => {
    const rows = run(
      g,
      "SELECT Floor,Room, Cafe FROM DIGITALTWINS MATCH (Floor)-[r:contains|isAssociatedWith]->(Cafe)<-[has|includes*..3]-(Room) WHERE Floor.$dtId = 'floor-x'  AND r.length = 10 AND Cafe.temperature = 55",
    );
    expect(dtIds(rows, 'Room')).toEqual(['room-c']);
  });

  it('bi-directional chains: rooms and building both associated with the floor', () => {
    const rows = run(
      g,
      "SELECT Floor, Room, Building FROM DIGITALTWINS MATCH (Building)-[r1:isAssociatedWith]->(Floor)<-[r2:isAssociatedWith]-(Room) WHERE Building.$dtId = 'building-3'  AND Room.temperature > 50",
    );
    expect(dtIds(rows, 'Room')).toEqual(['room-3a']);
    expect(dtIds(rows, 'Floor')).toEqual(['floor-3']);
  });

  it('MATCH (twin) with no relationship condition', () => {
    expect(
      dtIds(
        run(g, "SELECT Floor FROM DIGITALTWINS MATCH (Floor) WHERE Floor.$dtId = 'thermostat-15'"),
        'Floor',
      ),
    ).toEqual(['thermostat-15']);
    expect(
      run(g, "SELECT COUNT() FROM DIGITALTWINS MATCH (x) WHERE IS_OF_MODEL(x, 'dtmi:example:Sensor;1')"),
    ).toEqual([{ COUNT: 5 }]);
  });
});

describe('WHERE, functions and operators (reference-query-clause-where, -functions, -operators)', () => {
  const g = graphOf([
    twin('Room1', 'dtmi:sample:Room;1', {
      Temperature: 80,
      Humidity: 40,
      owner: 'John',
      floor_number: [1, 2, 3],
      name: 'R1',
    }),
    twin('Room2', 'dtmi:sample:Room;1', {
      Temperature: 70,
      Humidity: 60,
      owner: 'Zoe',
      floor_number: [4],
      name: 'R2',
    }),
    twin('Room3', 'dtmi:sample:Room;1', {
      Temperature: 90,
      Humidity: 30,
      owner: 'Alex',
      name: 'R3',
      Temperature2: null,
    }),
    twin('a-route', 'dtmi:sample:Thing;1', {
      Temperature: null,
      tags: [1, [2, 3], 3, 4],
      HasTemperature: true,
    }),
    twin('b-small', 'dtmi:sample:Thing;1', {
      Location: 'here',
      HasTemperature: false,
      Capacity: 0,
      Status: 'Completed',
    }),
    twin('area1-x', 'dtmi:sample:Thing;1', { Capacity: 10, Status: 'Running', MapObject: { other: 1 } }),
    twin('c-obj', 'dtmi:sample:Thing;1', {
      MapObject: { TemperatureReading: 1 },
      HasTemperature: 'yes',
      Capacity: '10',
    }),
  ]);
  const where = (cond: string): string[] => dtIds(run(g, `SELECT * FROM DIGITALTWINS T WHERE ${cond}`));

  it('the WHERE examples', () => {
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'Room1'"))).toEqual(['Room1']);
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:sample:Room;1')"))).toEqual([
      'Room1',
      'Room2',
      'Room3',
    ]);
  });

  it('metadata fields: $dtId, $metadata.$model, $etag; COUNT with a model filter and a property', () => {
    expect(where("T.$metadata.$model = 'dtmi:sample:Room;1' AND T.Temperature > 75")).toEqual([
      'Room1',
      'Room3',
    ]);
    expect(where('T.$etag = \'W/"Room2"\'')).toEqual(['Room2']);
    expect(
      run(
        g,
        "SELECT COUNT() FROM DIGITALTWINS c WHERE IS_OF_MODEL('dtmi:sample:Room;1') AND c.Humidity > 35",
      ),
    ).toEqual([{ COUNT: 2 }]);
    expect(
      run(g, "SELECT T.$dtId, T.$metadata.$model FROM DIGITALTWINS T WHERE T.$dtId IN ['123', 'Room2']"),
    ).toEqual([{ $dtId: 'Room2', $model: 'dtmi:sample:Room;1' }]);
  });

  it('ARRAY_CONTAINS: top-level members only', () => {
    expect(run(g, 'SELECT T.name FROM DIGITALTWINS T WHERE ARRAY_CONTAINS (T.floor_number, 2)')).toEqual([
      { name: 'R1' },
    ]);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE ARRAY_CONTAINS(tags, 2)'))).toEqual([]);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE ARRAY_CONTAINS(tags, 1)'))).toEqual(['a-route']);
    expect(where("ARRAY_CONTAINS(T.floor_number, '2')")).toEqual([]);
    expect(where('NOT ARRAY_CONTAINS(T.floor_number, 2)')).toEqual(['Room2']);
  });

  it('CONTAINS, ENDSWITH, STARTSWITH (and the STARTS_WITH / ENDS_WITH spellings)', () => {
    expect(where("CONTAINS(T.$dtId, '-route')")).toEqual(['a-route']);
    expect(where("ENDSWITH(T.$dtId, '-small')")).toEqual(['b-small']);
    expect(where("STARTSWITH(T.$dtId, 'area1-')")).toEqual(['area1-x']);
    expect(where("STARTS_WITH(T.$dtId, 'area1-')")).toEqual(['area1-x']);
    expect(where("ENDS_WITH(T.$dtId, '-small')")).toEqual(['b-small']);
  });

  it('IS_BOOL, IS_DEFINED, IS_NULL, IS_NUMBER, IS_STRING, IS_PRIMITIVE, IS_OBJECT', () => {
    expect(where('IS_BOOL( HasTemperature )')).toEqual(['a-route', 'b-small']);
    expect(where('IS_BOOL( HasTemperature ) AND HasTemperature != false')).toEqual(['a-route']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(Location)'))).toEqual(['b-small']);
    expect(where('NOT IS_NULL(T.Temperature)')).toEqual([
      'Room1',
      'Room2',
      'Room3',
      'area1-x',
      'b-small',
      'c-obj',
    ]);
    expect(where('IS_NULL(T.Temperature)')).toEqual(['a-route']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE IS_NUMBER( Capacity ) AND Capacity != 0'))).toEqual(
      ['area1-x'],
    );
    // the sample spells DIGITIALTWINS; with DIGITALTWINS:
    expect(
      dtIds(run(g, "SELECT * FROM DIGITALTWINS WHERE IS_STRING( Status ) AND Status != 'Completed'")),
    ).toEqual(['area1-x']);
    expect(errorOf(() => run(g, 'SELECT * FROM DIGITIALTWINS WHERE IS_STRING( Status )')).code).toBe(
      'SqlQueryError',
    );
    expect(where('IS_PRIMITIVE(T.Temperature2)')).toEqual(['Room3']);
    expect(where('IS_PRIMITIVE(T.MapObject)')).toEqual([]);
    expect(
      dtIds(
        run(
          g,
          'SELECT * FROM DIGITALTWINS WHERE IS_OBJECT( MapObject ) AND NOT IS_DEFINED ( MapObject.TemperatureReading )',
        ),
      ),
    ).toEqual(['area1-x']);
  });

  it('IS_PRIMITIVE example: the area of factory ABC when it is primitive', () => {
    const f = graphOf([
      twin('ABC', 'dtmi:x:Factory;1', { area: 500 }),
      twin('DEF', 'dtmi:x:Factory;1', { area: { m2: 1 } }),
    ]);
    const text = (id: string): string =>
      `SELECT Factory.area FROM DIGITALTWINS Factory WHERE Factory.$dtId = '${id}' AND IS_PRIMITIVE(Factory.area)`;
    expect(run(f, text('ABC'))).toEqual([{ area: 500 }]);
    expect(run(f, text('DEF'))).toEqual([]);
  });

  it('IS_OF_MODEL: inherited models unless exact, with or without a collection', () => {
    const m = graphOf([
      twin('r', 'dtmi:example:room;1'),
      twin('big', 'dtmi:example:bigroom;1'),
      twin('x', 'dtmi:example:other;1'),
    ]);
    expect(dtIds(run(m, "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:example:room;1')"))).toEqual([
      'big',
      'r',
    ]);
    expect(
      dtIds(run(m, "SELECT * FROM DIGITALTWINS DT WHERE IS_OF_MODEL(DT, 'dtmi:example:room;1')")),
    ).toEqual(['big', 'r']);
    expect(
      dtIds(run(m, "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:example:room;1', exact)")),
    ).toEqual(['r']);
    // the sample selects ROOM, which names no collection (a property nobody has): one empty row per twin
    expect(
      run(m, "SELECT ROOM FROM DIGITALTWINS DT WHERE IS_OF_MODEL(DT, 'dtmi:example:room;1', exact)"),
    ).toEqual([{}]);
    expect(
      dtIds(
        run(m, "SELECT DT FROM DIGITALTWINS DT WHERE IS_OF_MODEL(DT, 'dtmi:example:room;1', exact)"),
        'DT',
      ),
    ).toEqual(['r']);
  });

  it('comparison, IN / NIN and logical operators', () => {
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE DT.Temperature = 80'))).toEqual(['Room1']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE DT.Temperature < 80'))).toEqual(['Room2']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE NOT DT.Temperature <= 80'))).toEqual(['Room3']);
    expect(
      dtIds(run(g, "SELECT * FROM DIGITALTWINS DT WHERE DT.owner IN ['John', 'Anil', 'Bailey', 'Alex']")),
    ).toEqual(['Room1', 'Room3']);
    expect(
      dtIds(run(g, "SELECT * FROM DIGITALTWINS DT WHERE DT.owner NIN ['John', 'Anil', 'Bailey', 'Alex']")),
    ).toEqual(['Room2']);
    expect(
      dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE DT.Temperature < 80 AND DT.Humidity < 50')),
    ).toEqual([]);
    expect(
      dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE DT.Temperature < 80 OR DT.Humidity < 50')),
    ).toEqual(['Room1', 'Room2', 'Room3']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS DT WHERE NOT DT.Temperature < 80'))).toEqual([
      'Room1',
      'Room3',
    ]);
    expect(where('T.Temperature >= 80')).toEqual(['Room1', 'Room3']);
    expect(where('T.Temperature > 80')).toEqual(['Room3']);
    expect(where('T.Temperature != 80')).toEqual(['Room2', 'Room3']);
  });
});

describe('names, strings and keywords (reference-query-reserved, how-to-query-graph)', () => {
  const g = graphOf([
    twin('t1', 'dtmi:x:T;1', {
      Group: 'BravoTeam',
      Name: "D'Souza",
      tags: { red: true, size: 'small' },
      map: { '1key': 'v', k: 'w' },
    }),
    twin('t2', 'dtmi:x:T;1', { Group: 'AlphaTeam', Name: 'Smith', tags: { round: true } }),
  ]);

  it('a reserved word as a property name is escaped as [[word]]', () => {
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS WHERE [[Group]] = 'BravoTeam'"))).toEqual(['t1']);
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS T WHERE T.[[Group]] = 'AlphaTeam'"))).toEqual(['t2']);
    expect(run(g, "SELECT T.[[Group]] AS [[ORDER]] FROM DIGITALTWINS T WHERE T.$dtId = 't1'")).toEqual([
      { ORDER: 'BravoTeam' },
    ]);
  });

  it('unescaped, a reserved word is a SqlQueryError that says how to escape it', () => {
    for (const text of [
      "SELECT * FROM DIGITALTWINS WHERE Group = 'BravoTeam'",
      'SELECT Order FROM DIGITALTWINS',
      'SELECT T.name AS select FROM DIGITALTWINS T',
      'SELECT * FROM DIGITALTWINS Max',
    ]) {
      const e = errorOf(() => run(g, text));
      expect(e.code).toBe('SqlQueryError');
      expect(e.message).toMatch(/reserved word '\w+'.*\[\[\w+\]\].*line 1, column \d+/);
    }
  });

  it('a map key that starts with a digit is escaped the same way', () => {
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS T WHERE T.map.[[1key]] = 'v'"))).toEqual(['t1']);
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS T WHERE T.map.k = 'w'"))).toEqual(['t1']);
  });

  it("a quote inside a string is escaped with a backslash: 'D\\'Souza'", () => {
    expect(dtIds(run(g, "SELECT * FROM DIGITALTWINS WHERE Name = 'D\\'Souza'"))).toEqual(['t1']);
    expect(dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE Name = "D\'Souza"'))).toEqual(['t1']);
  });

  it('keywords and functions in any case; tags as properties', () => {
    expect(dtIds(run(g, 'select * from digitaltwins where is_defined(tags.red)'))).toEqual(['t1']);
    expect(
      dtIds(run(g, 'SELECT * FROM DIGITALTWINS WHERE NOT IS_DEFINED(tags.red) AND IS_DEFINED(tags.round)')),
    ).toEqual(['t2']);
    expect(
      dtIds(run(g, "SELECT * FROM digitaltwins WHERE NOT is_defined(tags.blue) AND tags.size = 'small'")),
    ).toEqual(['t1']);
  });

  it('property names are case-sensitive: a misspelt name matches nothing, without an error', () => {
    expect(run(g, "SELECT * FROM DIGITALTWINS WHERE name = 'Smith'")).toEqual([]);
  });
});
