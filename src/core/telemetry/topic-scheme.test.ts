import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TopicScheme, encodeLevel, telemetryTopic } from './topic-scheme.js';

describe('TopicScheme', () => {
  const scheme = new TopicScheme();

  it('matches the default topics', () => {
    expect(scheme.match('twinloop/plant/twins/pump-1/telemetry')).toEqual({
      kind: 'telemetry',
      target: { workspace: 'plant', twinId: 'pump-1' },
    });
    expect(scheme.match('twinloop/plant/twins/pump-1/components/motor/telemetry')).toEqual({
      kind: 'telemetry',
      target: { workspace: 'plant', twinId: 'pump-1', component: 'motor' },
    });
    expect(scheme.match('twins/pump-1/telemetry')).toEqual({
      kind: 'telemetry',
      target: { workspace: 'default', twinId: 'pump-1' },
    });
    expect(scheme.match('twins/pump-1/status').kind).toBe('other');
    expect(scheme.match('$SYS/broker/uptime').kind).toBe('other');
  });

  it('percent-decodes id levels and reports bad encodings and empty ids', () => {
    expect(scheme.match('twins/a%2Fb%23c/telemetry')).toEqual({
      kind: 'telemetry',
      target: { workspace: 'default', twinId: 'a/b#c' },
    });
    expect(scheme.match('twins/a%ZZ/telemetry').kind).toBe('invalid');
    expect(scheme.match('twins//telemetry').kind).toBe('invalid');
  });

  it('gives subscription filters', () => {
    expect(scheme.subscriptionFilters()).toEqual([
      'twinloop/+/twins/+/telemetry',
      'twinloop/+/twins/+/components/+/telemetry',
      'twins/+/telemetry',
      'twins/+/components/+/telemetry',
    ]);
  });

  it('supports DTDL-style patterns with {modelId} and {senderId}', () => {
    const s = new TopicScheme(['vehicles/{modelId}/{senderId}/telemetry']);
    expect(s.match('vehicles/dtmi:example:TestVehicle;1/car-7/telemetry')).toEqual({
      kind: 'telemetry',
      target: { workspace: 'default', twinId: 'car-7', modelId: 'dtmi:example:TestVehicle;1' },
    });
    expect(s.subscriptionFilters()).toEqual(['vehicles/+/+/telemetry']);
  });

  it('rejects malformed patterns', () => {
    expect(() => new TopicScheme(['a/{nope}/telemetry'])).toThrow(/unknown token/);
    expect(() => new TopicScheme(['a/b c/{twinId}'])).toThrow(/not a valid label/);
    expect(() => new TopicScheme(['$a/{twinId}'])).toThrow(/must not start/);
    expect(() => new TopicScheme(['a/{component}'])).toThrow(/no \{twinId\}/);
  });

  it('round-trips any twin id through telemetryTopic', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: undefined }),
        (id, comp) => {
          const topic = telemetryTopic(id, { workspace: 'ws', component: comp });
          expect(topic.includes('+') || topic.includes('#') || topic.includes('\u0000')).toBe(false);
          const m = scheme.match(topic);
          expect(m).toEqual({
            kind: 'telemetry',
            target:
              comp === undefined
                ? { workspace: 'ws', twinId: id }
                : { workspace: 'ws', twinId: id, component: comp },
          });
        },
      ),
    );
    expect(encodeLevel('a/b+c#d%e')).toBe('a%2Fb%2Bc%23d%25e');
  });
});
