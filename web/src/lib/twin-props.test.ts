import { describe, expect, it } from 'vitest';
import { propertyRows } from './twin-props.js';

describe('property rows', () => {
  it('lists reported values with their times, components under their name, desired beside', () => {
    const rows = propertyRows(
      {
        $dtId: 'pump-1a',
        $etag: 'W/"x"',
        $metadata: {
          $model: 'dtmi:x:Pump;1',
          flowSetpoint: { lastUpdateTime: '2026-01-01T00:00:00Z', sourceTime: '2025-12-31T23:59:59Z' },
          serialNumber: { lastUpdateTime: 'not a date' },
        },
        serialNumber: 'P-1',
        flowSetpoint: 48,
        motor: { $metadata: { ratedPower: { lastUpdateTime: '2026-01-02T00:00:00Z' } }, ratedPower: 5.5 },
      },
      { flowSetpoint: 50, motor: { ratedPower: 6 } },
    );
    expect(rows).toEqual([
      {
        path: 'flowSetpoint',
        value: 48,
        updated: Date.parse('2026-01-01T00:00:00Z'),
        sourceTime: Date.parse('2025-12-31T23:59:59Z'),
        desired: 50,
      },
      { path: 'motor/ratedPower', value: 5.5, updated: Date.parse('2026-01-02T00:00:00Z'), desired: 6 },
      { path: 'serialNumber', value: 'P-1' },
    ]);
  });

  it('takes hostile names as text (no prototype keys followed)', () => {
    const rows = propertyRows({ $dtId: 'x', $metadata: { $model: 'm' }, toString: 1 } as never, {});
    expect(rows).toEqual([{ path: 'toString', value: 1 }]);
  });
});
