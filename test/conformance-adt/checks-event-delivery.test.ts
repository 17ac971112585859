import { describe, expect, it } from 'vitest';
import { cloudEvents } from './checks-event-delivery.js';

describe('cloudEvents (what the webhook receiver got, as events)', () => {
  it('reads structured mode, batches and binary mode, and skips what is not an event', () => {
    const one = {
      type: 'Microsoft.DigitalTwins.Twin.Create',
      source: 'host',
      subject: 'a',
      data: { $dtId: 'a' },
    };
    const got = cloudEvents([
      { headers: {}, body: JSON.stringify(one) },
      { headers: {}, body: JSON.stringify([one, { ...one, subject: 'b' }]) },
      {
        headers: { 'ce-type': 'microsoft.iot.telemetry', 'ce-source': 'h/digitaltwins/t' },
        body: '{"x":1}',
      },
      { headers: {}, body: 'not json' },
      { headers: {}, body: '{"no":"type"}' },
    ]);
    expect(got).toEqual([
      one,
      one,
      { ...one, subject: 'b' },
      { type: 'microsoft.iot.telemetry', source: 'h/digitaltwins/t', subject: '', data: { x: 1 } },
    ]);
  });
});
