// The embedded broker's access rules, as properties over hostile filters and topics.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopicScheme, encodeLevel } from '../../core/telemetry/topic-scheme.js';
import { maySubscribe, publishRefusal } from './mqtt-access.js';
import type { MqttPrincipal } from './mqtt-access.js';

const scheme = new TopicScheme();
const device = (twinId: string, workspace = 'default'): MqttPrincipal => ({
  kind: 'device',
  credential: { id: 'dc_0000000000000001', workspace, twinId, createdAt: 0 },
});
const level = fc.oneof(
  fc.constantFrom('twins', 'pump-1', 'pump-2', 'pump%2D1', '+', '#', 'commands', 'desired', 'telemetry'),
  fc.constantFrom('components', 'motor', '$SYS', 'twinloop', 'default', 'plant', '', 'pump-1%2F', 'a/b'),
  fc.string({ maxLength: 6 }),
);
const topicLike = fc.array(level, { minLength: 1, maxLength: 7 }).map((l) => l.join('/'));

describe('MQTT access rules', () => {
  it('a device subscribes only under its own twin commands and desired state (property)', () => {
    fc.assert(
      fc.property(topicLike, fc.constantFrom('pump-1', 'line/3#a'), (filter, twin) => {
        if (!maySubscribe(device(twin), filter)) return;
        const l = filter.split('/');
        expect(l[0]).toBe('twins');
        expect(l[1]).toBe(encodeLevel(twin)); // never + or # or another twin
        expect(l.length === 3 ? l[2] === 'desired' : l.length === 4 && l[2] === 'commands').toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("a device publishes only its own twin's telemetry, never commands or desired state (property)", () => {
    fc.assert(
      fc.property(topicLike, (topic) => {
        if (publishRefusal(device('pump-1'), topic, scheme) !== undefined) return;
        const m = scheme.match(topic);
        expect(m.kind).toBe('telemetry');
        if (m.kind === 'telemetry')
          expect(m.target).toMatchObject({ twinId: 'pump-1', workspace: 'default' });
      }),
      { numRuns: 3000 },
    );
    expect(publishRefusal(device('pump-1'), 'twins/pump-1/telemetry', scheme)).toBeUndefined();
    expect(
      publishRefusal(device('pump-1'), 'twinloop/default/twins/pump-1/components/m/telemetry', scheme),
    ).toBeUndefined();
    expect(publishRefusal(device('pump-1'), 'twinloop/plant/twins/pump-1/telemetry', scheme)).toMatch(
      /may publish only/,
    );
    expect(publishRefusal(device('pump-1'), 'twins/pump-1/desired', scheme)).toMatch(
      /reserved to the platform/,
    );
  });

  it('anonymous clients never get $-topics; the platform gets everything', () => {
    fc.assert(
      fc.property(topicLike, (filter) => {
        if (filter.startsWith('$')) expect(maySubscribe({ kind: 'anonymous' }, filter)).toBe(false);
        else expect(maySubscribe({ kind: 'anonymous' }, filter)).toBe(true);
        expect(maySubscribe({ kind: 'platform' }, filter)).toBe(true);
      }),
    );
    expect(publishRefusal({ kind: 'anonymous' }, 'twins/x/commands/go', scheme)).toBeDefined();
    expect(publishRefusal({ kind: 'platform' }, 'twins/x/commands/go', scheme)).toBeDefined();
  });
});
