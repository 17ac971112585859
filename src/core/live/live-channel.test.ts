import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyOfArrayJson, bodyOfEvents } from './live-channel.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const reference = (events: readonly unknown[]): Uint8Array => bodyOfArrayJson(JSON.stringify(events));

describe('bodyOfEvents', () => {
  it('makes the same bytes as serialising the whole array, for any JSON values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.jsonValue(), fc.object(), fc.constant(undefined)), { maxLength: 40 }),
        fc.integer({ min: 1, max: 400 }),
        (events, perEvent) => {
          expect(
            Buffer.compare(Buffer.from(bodyOfEvents(events, perEvent)), Buffer.from(reference(events))),
          ).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('encodes non-ASCII, lone surrogates and __proto__ keys as JSON.stringify does', () => {
    const proto = JSON.parse('{"__proto__":{"polluted":true},"x":1}') as unknown;
    const events = [
      { type: 'telemetry', twinId: 'pompe-é', values: { débit: 1.5, emoji: '🚀', lone: '\ud800' } },
      proto,
      { big: 'ä'.repeat(100_000) }, // far more than the size estimate: the buffer grows
      { toJSON: () => ({ custom: true }) },
      undefined,
    ];
    const body = bodyOfEvents(events, 10);
    expect(Buffer.compare(Buffer.from(body), Buffer.from(reference(events)))).toBe(0);
    const parsed = JSON.parse(`[${text(body).slice(0, -1)}`) as unknown[];
    expect(parsed).toHaveLength(5);
    expect(Object.getPrototypeOf(parsed[1])).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('is `]}` for no events, and keeps no large slack when the estimate was too high', () => {
    expect(text(bodyOfEvents([], 200))).toBe(']}');
    const body = bodyOfEvents([{ a: 1 }], 100_000);
    expect(body.byteLength).toBe(text(body).length);
    expect(body.buffer.byteLength).toBeLessThan(64);
  });
});
