/**
 * Latest telemetry in queries (issue 8): a bare path reads the twin's properties only, so a query
 * ADT answers gets ADT's rows however much telemetry arrived; `$telemetry` (an extension) reads
 * the latest readings in every clause a property path goes.
 */
import { describe, it, expect } from 'vitest';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery, type QueryOptions } from './query-executor.js';
import { buildTestGraph, testIsOfModel, twin } from './query-test-graph.js';

const g = buildTestGraph();
// A property and a telemetry of one name: `rpm` (property 1500, latest reading 1700).
g.putTwin(
  twin(
    'pump-9',
    'Pump',
    { name: 'P9', rpm: 1500 },
    { rpm: 1700, vibration: 7.5, position: { lat: 45.7, lon: 4.8 } },
  ),
);
const opts: QueryOptions = { isOfModel: testIsOfModel, pageSize: 1000, cursors: new QueryCursorStore() };
const q = (text: string): unknown[] => executeQuery(g, text, opts).value;
const ids = (rows: unknown[], key = '$dtId'): string[] =>
  rows.map((r) => (r as Record<string, string>)[key] as string).sort();
const where = (cond: string): string[] => ids(q(`SELECT T.$dtId FROM DIGITALTWINS T WHERE ${cond}`));
const ALL = ids(q('SELECT T.$dtId FROM DIGITALTWINS T'));
// pump-1 (8), pump-2 (5), pump-3 (9) and pump-9 (7.5) have a vibration reading; pump-1 a motor current.

describe('bare paths: ADT answers, telemetry or not', () => {
  it('a telemetry name is not a property: undefined in WHERE and functions', () => {
    expect(where('T.vibration > 7')).toEqual([]);
    expect(where('T.vibration < 100 OR T.vibration >= 100')).toEqual([]);
    expect(where('IS_DEFINED(T.vibration)')).toEqual([]);
    expect(where('NOT IS_DEFINED(T.vibration)')).toEqual(ALL);
    expect(where('IS_NUMBER(T.vibration)')).toEqual([]);
    expect(where('T.vibration IN [8, 9]')).toEqual([]);
    expect(where('T.motor.current = 3')).toEqual([]);
    expect(ids(q('SELECT $dtId FROM DIGITALTWINS WHERE IS_DEFINED(vibration)'))).toEqual([]);
    expect(q('SELECT COUNT() FROM DIGITALTWINS T WHERE NOT IS_DEFINED(T.vibration)')).toEqual([
      { COUNT: ALL.length },
    ]);
  });

  it('SELECT leaves it out, and twin documents carry no telemetry', () => {
    expect(q("SELECT T.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")).toEqual([{}]);
    expect(q("SELECT T.$dtId, T.motor.current FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")).toEqual([
      { $dtId: 'pump-1' },
    ]);
    const [doc] = q("SELECT * FROM DIGITALTWINS WHERE $dtId = 'pump-1'") as Record<string, unknown>[];
    expect(doc).not.toHaveProperty('vibration');
    expect(doc).not.toHaveProperty('$telemetry');
  });

  it('a property and a telemetry of one name: the path is the property', () => {
    expect(q("SELECT T.rpm FROM DIGITALTWINS T WHERE T.$dtId = 'pump-9'")).toEqual([{ rpm: 1500 }]);
    expect(where('T.rpm = 1700')).toEqual([]);
    expect(where('T.$telemetry.rpm = 1700')).toEqual(['pump-9']);
  });
});

describe('$telemetry: the latest reading, in every clause', () => {
  it('SELECT, with and without AS, with and without a collection name', () => {
    expect(q("SELECT T.$dtId, T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")).toEqual([
      { $dtId: 'pump-1', vibration: 8 },
    ]);
    expect(q("SELECT T.$telemetry.vibration AS v FROM DIGITALTWINS T WHERE T.$dtId = 'pump-2'")).toEqual([
      { v: 5 },
    ]);
    expect(q("SELECT $telemetry.vibration FROM DIGITALTWINS WHERE $dtId = 'pump-3'")).toEqual([
      { vibration: 9 },
    ]);
    // no reading: the column is left out, as an undefined property is
    expect(q("SELECT T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-4'")).toEqual([{}]);
  });

  it('WHERE: comparisons, IN, NOT, and functions', () => {
    expect(where('T.$telemetry.vibration > 7')).toEqual(['pump-1', 'pump-3', 'pump-9']);
    expect(where('T.$telemetry.vibration IN [5, 9]')).toEqual(['pump-2', 'pump-3']);
    expect(where('NOT T.$telemetry.vibration > 7')).toEqual(['pump-2']);
    expect(where('IS_DEFINED(T.$telemetry.vibration)')).toEqual(['pump-1', 'pump-2', 'pump-3', 'pump-9']);
    expect(where('IS_NUMBER(T.$telemetry.vibration) AND T.$telemetry.vibration < 6')).toEqual(['pump-2']);
    expect(where("IS_OF_MODEL('dtmi:t:Machine;1') AND NOT IS_DEFINED(T.$telemetry.vibration)")).toEqual([
      'fan-1',
      'pump-4',
    ]);
    expect(ids(q('SELECT $dtId FROM DIGITALTWINS WHERE $telemetry.vibration >= 9'))).toEqual(['pump-3']);
  });

  it('components: $telemetry.<component>.<name>; members of an object reading', () => {
    expect(where('T.$telemetry.motor.current = 3')).toEqual(['pump-1']);
    expect(where('T.$telemetry.position.lat > 45')).toEqual(['pump-9']);
    expect(where('IS_OBJECT(T.$telemetry.position)')).toEqual(['pump-9']);
    expect(where('IS_DEFINED(T.position.lat)')).toEqual([]);
    expect(q("SELECT T.$telemetry.motor.current AS a FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")).toEqual([
      { a: 3 },
    ]);
  });

  it('JOIN and MATCH collections', () => {
    expect(
      q(
        "SELECT P.$dtId, P.$telemetry.vibration AS v FROM DIGITALTWINS L JOIN P RELATED L.contains WHERE L.$dtId = 'line-3' AND P.$telemetry.vibration > 7",
      ),
    ).toEqual([{ $dtId: 'pump-1', v: 8 }]);
    expect(
      ids(
        q(
          "SELECT P.$dtId FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.$dtId = 'line-3' AND P.$telemetry.vibration < 7",
        ),
      ),
    ).toEqual(['pump-2']);
    // pump-1 feeds pump-2 and back: the readings of both ends of one relationship
    expect(
      q(
        'SELECT A.$dtId AS a, B.$telemetry.vibration AS bv FROM DIGITALTWINS MATCH (A)-[R:feeds]->(B) WHERE A.$telemetry.vibration > B.$telemetry.vibration',
      ),
    ).toEqual([{ a: 'pump-1', bv: 5 }]);
  });

  it('relationships have no telemetry', () => {
    expect(
      q(
        'SELECT R.$telemetry.flow FROM DIGITALTWINS A JOIN B RELATED A.feeds R WHERE IS_DEFINED(R.$telemetry.flow)',
      ),
    ).toEqual([]);
  });
});
