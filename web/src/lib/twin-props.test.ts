import { describe, expect, it } from 'vitest';
import { connectionOf, propertyRows } from './twin-props.js';

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

  it('reads the device side from $metadata: reported value, pending, and the connection', () => {
    const twin = {
      $dtId: 'p',
      $metadata: {
        $model: 'm',
        $connection: {
          state: 'disconnected',
          since: '2026-01-01T00:00:00Z',
          lastSeen: '2025-12-31T23:00:00Z',
        },
        flowSetpoint: {
          lastUpdateTime: '2026-01-01T00:00:00Z',
          desiredValue: 60,
          reportedValue: 50,
          reportedTime: '2025-12-31T22:00:00Z',
          pending: true,
        },
      },
      flowSetpoint: 60,
      valve: { $metadata: { opening: { desiredValue: 0.5, pending: true } }, opening: 0.5 },
    };
    const rows = propertyRows(twin, {});
    expect(rows[0]).toMatchObject({
      path: 'flowSetpoint',
      device: { reported: 50, reportedTime: Date.parse('2025-12-31T22:00:00Z'), pending: true },
    });
    expect(rows[1]).toEqual({ path: 'valve/opening', value: 0.5, device: { pending: true } });
    expect(connectionOf(twin)).toEqual({
      state: 'disconnected',
      since: Date.parse('2026-01-01T00:00:00Z'),
      lastSeen: Date.parse('2025-12-31T23:00:00Z'),
    });
    expect(
      connectionOf({ $dtId: 'x', $metadata: { $model: 'm', $connection: { state: 'odd' } } }),
    ).toBeUndefined();
  });
});
