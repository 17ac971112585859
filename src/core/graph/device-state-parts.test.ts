import { describe, expect, it } from 'vitest';
import { desiredPart, devicePart, mergeDeviceParts } from './device-state-parts.js';
import type { TwinDeviceState } from './graph-types.js';

describe('device state parts', () => {
  const full: TwinDeviceState = {
    desiredVersion: 5,
    properties: {
      a: {
        desiredVersion: 5,
        desiredTime: 10,
        reportedValue: 1,
        reportedTime: 11,
        ackVersion: 4,
        ackCode: 200,
      },
      'c/b': { reportedValue: { x: [1] }, reportedTime: 12 },
      d: { desiredVersion: 2 },
    },
    connection: { state: 'connected', since: 1, lastSeen: 12 },
  };

  it('splits into the writer-owned and device-owned parts and merges back to the same state', () => {
    expect(desiredPart(full)).toEqual({
      desiredVersion: 5,
      properties: { a: { desiredVersion: 5, desiredTime: 10 }, d: { desiredVersion: 2 } },
    });
    expect(devicePart(full)).toEqual({
      properties: {
        a: { reportedValue: 1, reportedTime: 11, ackVersion: 4, ackCode: 200 },
        'c/b': { reportedValue: { x: [1] }, reportedTime: 12 },
      },
      connection: full.connection,
    });
    expect(mergeDeviceParts(desiredPart(full), devicePart(full))).toEqual(full);
  });

  it('merges either part alone; nothing from nothing', () => {
    expect(mergeDeviceParts(null, null)).toBeUndefined();
    expect(mergeDeviceParts(null, { properties: {}, connection: full.connection })).toEqual({
      desiredVersion: 0,
      properties: {},
      connection: full.connection,
    });
    expect(mergeDeviceParts(desiredPart(full), undefined)?.properties.a).toEqual({
      desiredVersion: 5,
      desiredTime: 10,
    });
  });
});
