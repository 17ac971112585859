/**
 * The device side in queries (issue 12): `$metadata.$connection` and the desired / reported
 * members of a writable property's `$metadata` read like any other metadata field.
 */
import { describe, expect, it } from 'vitest';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery, type QueryOptions } from './query-executor.js';
import { buildTestGraph, testIsOfModel, twin } from './query-test-graph.js';

const g = buildTestGraph();
const connected = twin('dev-1', 'Pump', { flowSetpoint: 60, motor: { rpm: 1200 } });
connected.device = {
  desiredVersion: 2,
  properties: {
    flowSetpoint: { desiredVersion: 2, desiredTime: 1000, reportedValue: 60, reportedTime: 1500 },
    'motor/rpm': { desiredVersion: 1, desiredTime: 900, reportedValue: 1100, reportedTime: 950 },
  },
  connection: { state: 'connected', since: 500, lastSeen: 1600 },
};
const offline = twin('dev-2', 'Pump', { flowSetpoint: 70 });
offline.device = {
  desiredVersion: 1,
  properties: {
    flowSetpoint: { desiredVersion: 1, desiredTime: 1000, reportedValue: 55, ackVersion: 0, ackCode: 200 },
  },
  connection: { state: 'disconnected', since: 800, lastSeen: 790 },
};
g.putTwin(connected);
g.putTwin(offline);

const opts: QueryOptions = { isOfModel: testIsOfModel, pageSize: 1000, cursors: new QueryCursorStore() };
const q = (text: string): unknown[] => executeQuery(g, text, opts).value;
const where = (cond: string): string[] =>
  q(`SELECT T.$dtId FROM DIGITALTWINS T WHERE ${cond}`)
    .map((r) => (r as { $dtId: string }).$dtId)
    .sort();

describe('device state in queries', () => {
  it('filters on presence', () => {
    expect(where("T.$metadata.$connection.state = 'disconnected'")).toEqual(['dev-2']);
    expect(where("T.$metadata.$connection.state = 'connected'")).toEqual(['dev-1']);
    expect(where("T.$metadata.$connection.since < '1970-01-01T00:00:00.600Z'")).toEqual(['dev-1']);
    // twins whose device was never seen have no $connection
    expect(where('IS_DEFINED(T.$metadata.$connection)')).toEqual(['dev-1', 'dev-2']);
  });

  it('filters on pending, desired and reported values, components included', () => {
    expect(where('T.$metadata.flowSetpoint.pending = true')).toEqual(['dev-2']);
    expect(where('T.$metadata.flowSetpoint.pending = false')).toEqual(['dev-1']);
    expect(where('T.$metadata.flowSetpoint.reportedValue = 55')).toEqual(['dev-2']);
    expect(where('T.$metadata.flowSetpoint.desiredVersion = 2')).toEqual(['dev-1']);
    expect(where('T.$metadata.flowSetpoint.ackCode = 200')).toEqual(['dev-2']);
    expect(where('T.motor.$metadata.rpm.pending = true')).toEqual(['dev-1']);
  });

  it('selects them', () => {
    expect(q("SELECT T.$metadata.$connection FROM DIGITALTWINS T WHERE T.$dtId = 'dev-2'")).toEqual([
      {
        $connection: {
          state: 'disconnected',
          since: '1970-01-01T00:00:00.800Z',
          lastSeen: '1970-01-01T00:00:00.790Z',
        },
      },
    ]);
    const [doc] = q("SELECT * FROM DIGITALTWINS WHERE $dtId = 'dev-1'") as {
      $metadata: Record<string, unknown>;
    }[];
    expect(doc!.$metadata.flowSetpoint).toEqual({
      lastUpdateTime: '1970-01-01T00:00:01.000Z',
      desiredValue: 60,
      desiredVersion: 2,
      desiredTime: '1970-01-01T00:00:01.000Z',
      reportedValue: 60,
      reportedTime: '1970-01-01T00:00:01.500Z',
      pending: false,
    });
  });
});
