/**
 * Property: however readers of one shared channel stall and resume, a reader that ends up reading
 * again holds, for every twin, exactly the latest value of every telemetry name — as a reader that
 * read every event would — and never an older value after a newer one (the catch-up folds every
 * chunk leaving the log while anyone lags).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LiveEventBus } from './live-events.js';
import type { LiveEvent } from './live-events.js';
import { LiveHub } from './live-hub.js';
import { parseSubscription } from './live-filters.js';
import type { LiveSink } from './live-session.js';

type Values = Record<string, number>;

class Sink implements LiveSink {
  bufferedAmount = 0;
  readonly events: { twinId: string; values: Values }[] = [];
  send(frame: string): void {
    const f = JSON.parse(frame) as { events?: { twinId: string; values: Values }[] };
    if (f.events) this.events.push(...f.events);
  }
}

const step = fc.oneof(
  fc.record({
    kind: fc.constant('publish' as const),
    twin: fc.integer({ min: 0, max: 3 }),
    names: fc.subarray(['a', 'b', 'c'], { minLength: 1 }),
  }),
  fc.record({ kind: fc.constant('stall' as const), reader: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('resume' as const), reader: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('drain' as const) }),
);

describe('live catch-up (property)', () => {
  it('every reader ends with the latest value of every name of every twin, never going back', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 0, max: 600 }), (steps, bound) => {
        const bus = new LiveEventBus();
        // Each step takes 7 ms: catch-up snapshots (one per 100 ms per channel) hold some readers back.
        let now = 0;
        const hub = new LiveHub({
          bus,
          isOfModel: () => true,
          schedule: () => {},
          clock: () => now,
          limits: { highWaterBytes: 100, maxChannelBytes: bound },
        });
        const sinks = [new Sink(), new Sink(), new Sink()];
        const sessions = sinks.map((k) => hub.openSession(k));
        for (const s of sessions)
          s.subscribe(
            parseSubscription(
              { id: 'all', model: 'dtmi:x:P;1' },
              { defaultWorkspace: 'w', maxTwinIds: 10, maxQueryLength: 100 },
            ),
          );
        const truth = new Map<string, Values>();
        let seq = 0;
        for (const st of steps) {
          now += 7;
          if (st.kind === 'publish') {
            const values = Object.fromEntries(st.names.map((n) => [n, ++seq]));
            const ev: LiveEvent = {
              type: 'telemetry',
              workspace: 'w',
              twinId: `t${st.twin}`,
              modelId: 'dtmi:x:P;1',
              time: seq,
              values,
            };
            truth.set(ev.twinId, { ...truth.get(ev.twinId), ...values });
            bus.publish([ev]);
          } else if (st.kind === 'stall') (sinks[st.reader] as Sink).bufferedAmount = 1000;
          else if (st.kind === 'resume') {
            (sinks[st.reader] as Sink).bufferedAmount = 0;
            (sessions[st.reader] as (typeof sessions)[number]).flush();
          } else hub.drain(true);
        }
        sinks.forEach((k) => (k.bufferedAmount = 0));
        now += 1000;
        hub.drain(true);
        // Readers held back for the next snapshot get it once the interval has passed.
        now += 1000;
        sessions.forEach((s) => s.flush());
        for (const k of sinks) {
          const seen = new Map<string, Values>();
          for (const e of k.events) {
            const before = seen.get(e.twinId) ?? {};
            for (const [n, v] of Object.entries(e.values)) expect(v).toBeGreaterThanOrEqual(before[n] ?? 0); // never an older value after a newer one
            seen.set(e.twinId, { ...before, ...e.values });
          }
          expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(truth));
        }
        hub.close();
      }),
      { numRuns: 300 },
    );
  });
});
