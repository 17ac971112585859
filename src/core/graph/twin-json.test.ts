import { describe, it, expect } from 'vitest';
import type { TwinRecord } from './graph-types.js';
import { relationshipField, relationshipToJson, twinField, twinToJson } from './twin-json.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const pump: TwinRecord = {
  id: 'pump-1',
  modelId: 'dtmi:x:Pump;1',
  workspace: 'w',
  etag: 'W/"e1"',
  lastUpdateTime: T0,
  contents: { rpm: 1200, location: { x: 1, y: 2 }, motor: { temp: 60, mode: 'eco' } },
  propertyTimes: { rpm: T0, location: T0 + 1000, 'motor/temp': T0 + 2000 },
  telemetry: {
    vibration: { value: 7.5, time: T0 },
    'motor/current': { value: 3.2, time: T0 },
    rpm: { value: 999, time: T0 },
  },
};

describe('twinToJson', () => {
  it('gives the ADT shape with metadata and components', () => {
    expect(twinToJson(pump)).toEqual({
      $dtId: 'pump-1',
      $etag: 'W/"e1"',
      $metadata: {
        $model: 'dtmi:x:Pump;1',
        $lastUpdateTime: '2026-01-02T03:04:05.000Z',
        rpm: { lastUpdateTime: '2026-01-02T03:04:05.000Z' },
        location: { lastUpdateTime: '2026-01-02T03:04:06.000Z' },
      },
      rpm: 1200,
      location: { x: 1, y: 2 },
      motor: {
        temp: 60,
        mode: 'eco',
        $metadata: {
          $lastUpdateTime: '2026-01-02T03:04:07.000Z',
          temp: { lastUpdateTime: '2026-01-02T03:04:07.000Z' },
        },
      },
    });
  });

  it("a component's $lastUpdateTime is its latest property write, else the twin's last update", () => {
    const bare = { ...pump, contents: { ...pump.contents, motor: {} }, propertyTimes: { rpm: T0 } };
    const motor = (twinToJson(bare, (_t, n) => n === 'motor') as { motor: { $metadata: unknown } }).motor;
    expect(motor.$metadata).toEqual({ $lastUpdateTime: new Date(pump.lastUpdateTime).toISOString() });
  });

  it('gives the ADT relationship shape', () => {
    const r = {
      id: 'r1',
      sourceId: 'a',
      targetId: 'b',
      name: 'feeds',
      workspace: 'w',
      etag: 'W/"x"',
      lastUpdateTime: 0,
      properties: { flow: 3 },
    };
    expect(relationshipToJson(r)).toEqual({
      $relationshipId: 'r1',
      $etag: 'W/"x"',
      $sourceId: 'a',
      $relationshipName: 'feeds',
      $targetId: 'b',
      flow: 3,
    });
    expect(relationshipField(r, ['$targetId'])).toBe('b');
    expect(relationshipField(r, ['flow'])).toBe(3);
    expect(relationshipField(r, ['constructor'])).toBeUndefined();
  });
});

describe('twinField', () => {
  it('resolves system fields, metadata, properties, components and object members', () => {
    expect(twinField(pump, ['$dtId'])).toBe('pump-1');
    expect(twinField(pump, ['$etag'])).toBe('W/"e1"');
    expect(twinField(pump, ['$metadata', '$model'])).toBe('dtmi:x:Pump;1');
    expect(twinField(pump, ['$metadata', 'rpm', 'lastUpdateTime'])).toBe('2026-01-02T03:04:05.000Z');
    expect(twinField(pump, ['rpm'])).toBe(1200);
    expect(twinField(pump, ['location', 'y'])).toBe(2);
    expect(twinField(pump, ['motor', 'mode'])).toBe('eco');
    expect(twinField(pump, ['motor', '$metadata', 'temp', 'lastUpdateTime'])).toBe(
      '2026-01-02T03:04:07.000Z',
    );
    expect(twinField(pump, ['location', 'z'])).toBeUndefined();
    expect(twinField(pump, ['$dtId', 'x'])).toBeUndefined();
  });

  it('reads properties only on a bare path (ADT); the latest telemetry only through $telemetry', () => {
    expect(twinField(pump, ['vibration'])).toBeUndefined();
    expect(twinField(pump, ['motor', 'current'])).toBeUndefined();
    expect(twinField(pump, ['$telemetry', 'vibration'])).toBe(7.5);
    expect(twinField(pump, ['$telemetry'])).toBeUndefined();
    expect(twinField(pump, ['$telemetry', 'vibration', 'x'])).toBeUndefined();
    expect(twinField(pump, ['$telemetry', '__proto__'])).toBeUndefined();
    expect(twinField(pump, ['$telemetry', 'constructor'])).toBeUndefined();
    // a property and a telemetry of one name: the path gives the property, $telemetry the telemetry
    expect(twinField(pump, ['rpm'])).toBe(1200);
    expect(twinField(pump, ['$telemetry', 'rpm'])).toBe(999);
    expect(twinField(pump, ['$telemetry', 'motor', 'current'])).toBe(3.2);
    expect(twinField(pump, ['nothing'])).toBeUndefined();
  });

  it('never reaches the object prototype', () => {
    expect(twinField(pump, ['constructor'])).toBeUndefined();
    expect(twinField(pump, ['location', '__proto__'])).toBeUndefined();
    expect(twinField(pump, ['$metadata', 'toString'])).toBeUndefined();
  });
});
