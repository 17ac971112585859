import { describe, expect, it } from 'vitest';
import type { TwinRecord } from './graph-types.js';
import { twinField, twinToJson } from './twin-json.js';

const base = (): TwinRecord => ({
  id: 'p',
  modelId: 'dtmi:x:P;1',
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 1000,
  contents: { setpoint: 5, serial: 'A', valve: { opening: 0.5 } },
  propertyTimes: { setpoint: 1000, serial: 1000, 'valve/opening': 1000 },
  telemetry: {},
});

describe('$metadata of the device side', () => {
  it('a twin without device state renders exactly as before', () => {
    expect(twinToJson(base())).toEqual({
      $dtId: 'p',
      $etag: 'W/"1"',
      $metadata: {
        $model: 'dtmi:x:P;1',
        $lastUpdateTime: '1970-01-01T00:00:01.000Z',
        setpoint: { lastUpdateTime: '1970-01-01T00:00:01.000Z' },
        serial: { lastUpdateTime: '1970-01-01T00:00:01.000Z' },
      },
      setpoint: 5,
      serial: 'A',
      valve: {
        opening: 0.5,
        $metadata: {
          $lastUpdateTime: '1970-01-01T00:00:01.000Z',
          opening: { lastUpdateTime: '1970-01-01T00:00:01.000Z' },
        },
      },
    });
  });

  it('shows desired, reported, ack, pending and $connection; unset reported properties too', () => {
    const t = base();
    t.device = {
      desiredVersion: 4,
      properties: {
        setpoint: { desiredVersion: 4, desiredTime: 1000, reportedValue: 4, reportedTime: 2000 },
        'valve/opening': {
          desiredVersion: 3,
          reportedValue: 0.5,
          reportedTime: 1500,
          ackVersion: 3,
          ackCode: 200,
          ackDescription: 'ok',
        },
        'valve/mode': { reportedValue: 'auto', reportedTime: 1500 },
        gone: { desiredVersion: 2, desiredTime: 900 },
      },
      connection: { state: 'connected', since: 100, lastSeen: 2000 },
    };
    const json = twinToJson(t) as {
      $metadata: Record<string, unknown>;
      valve: { $metadata: Record<string, unknown> };
    };
    expect(json.$metadata.$connection).toEqual({
      state: 'connected',
      since: '1970-01-01T00:00:00.100Z',
      lastSeen: '1970-01-01T00:00:02.000Z',
    });
    expect(json.$metadata.setpoint).toEqual({
      lastUpdateTime: '1970-01-01T00:00:01.000Z',
      desiredValue: 5,
      desiredVersion: 4,
      desiredTime: '1970-01-01T00:00:01.000Z',
      reportedValue: 4,
      reportedTime: '1970-01-01T00:00:02.000Z',
      pending: true,
    });
    expect(json.$metadata.serial).toEqual({ lastUpdateTime: '1970-01-01T00:00:01.000Z' });
    expect(json.$metadata.gone).toEqual({
      desiredVersion: 2,
      desiredTime: '1970-01-01T00:00:00.900Z',
      pending: false,
    });
    expect(json.valve.$metadata.opening).toMatchObject({
      desiredValue: 0.5,
      ackVersion: 3,
      ackCode: 200,
      ackDescription: 'ok',
      pending: false,
    });
    expect(json.valve.$metadata.mode).toEqual({
      reportedValue: 'auto',
      reportedTime: '1970-01-01T00:00:01.500Z',
      pending: false,
    });
    expect(twinField(t, ['$metadata', 'setpoint', 'pending'])).toBe(true);
    expect(twinField(t, ['$metadata', '$connection', 'state'])).toBe('connected');
    expect(twinField(base(), ['$metadata', '$connection'])).toBeUndefined();
  });
});
