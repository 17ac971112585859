import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../ports/storage-ports.js';
import { isTruncated, reingestPlan } from './dead-letter-reingest.js';
import { TopicScheme } from './topic-scheme.js';

const scheme = new TopicScheme();
const letter = (over: Partial<DeadLetter & { twinId: string }>): DeadLetter => ({
  id: 7,
  workspace: 'default',
  time: 1000,
  source: 'mqtt',
  payload: Buffer.from('{"vibration": 3}'),
  code: 'DigitalTwinNotFound',
  reason: 'no twin',
  ...over,
});

describe('how a dead letter is ingested again', () => {
  it('reads an MQTT topic as the broker did: twin, component, model, percent-decoded', () => {
    expect(
      reingestPlan(letter({ topic: 'twins/pump%2F1/components/motor/telemetry', clientId: 'dev-1' }), scheme),
    ).toEqual({
      ok: true,
      via: 'ingest',
      msg: {
        source: 'mqtt',
        workspace: 'default',
        topic: 'twins/pump%2F1/components/motor/telemetry',
        clientId: 'dev-1',
        receivedAt: 1000,
        payload: Buffer.from('{"vibration": 3}'),
        twinId: 'pump/1',
        component: 'motor',
      },
    });
    const ws = reingestPlan(
      letter({ workspace: 'plant', topic: 'twinloop/plant/twins/p/telemetry' }),
      scheme,
    );
    expect(ws).toMatchObject({ ok: true, msg: { workspace: 'plant', twinId: 'p' } });
    const other = reingestPlan(
      letter({ workspace: 'default', topic: 'twinloop/plant/twins/p/telemetry' }),
      scheme,
    );
    expect(other).toMatchObject({ ok: false, reason: /names workspace 'plant'/ });
  });

  it("reads ADT's HTTP routes and NDJSON letters", () => {
    expect(
      reingestPlan(letter({ source: 'http', topic: 'POST /digitaltwins/a%20b/telemetry' }), scheme),
    ).toMatchObject({
      ok: true,
      via: 'ingestAdt',
      msg: { source: 'http', twinId: 'a b' },
    });
    const c = reingestPlan(
      letter({ source: 'http', topic: 'POST /digitaltwins/p/components/m%2Fx/telemetry' }),
      scheme,
    );
    expect(c).toMatchObject({ ok: true, msg: { twinId: 'p', component: 'm/x' } });
    expect(
      reingestPlan(letter({ source: 'http-bulk', topic: 'POST /telemetry/bulk' }), scheme),
    ).toMatchObject({
      ok: true,
      via: 'ingestBulk',
      msg: { source: 'http-bulk' },
    });
  });

  it('refuses, with the reason, what cannot be ingested again as it came', () => {
    const cases: [Partial<DeadLetter>, RegExp][] = [
      [
        { receivedBytes: 99_999, payload: Buffer.alloc(10) },
        /first 10 bytes .*99999 bytes.*never re-ingested/,
      ],
      [{ code: 'PayloadTooLarge' }, /truncated payload/],
      [{ topic: 'twins/%zz/telemetry' }, /not a telemetry topic/],
      [{ topic: undefined }, /not a telemetry topic/],
      [{ topic: 'factory/x' }, /not a telemetry topic/],
      [{ source: 'http', topic: 'POST /digitaltwins/%E0%A4%A/telemetry' }, /not one of the telemetry routes/],
      [
        { source: 'http', topic: 'POST /digitaltwins/x… (400 characters)' },
        /not one of the telemetry routes/,
      ],
      [
        {
          source: 'http',
          topic: 'POST /digitaltwins/p/telemetry',
          code: 'InvalidTelemetry',
          reason: '1 value(s) not stored, 2 stored: x',
        },
        /would store them twice/,
      ],
      [{ source: 'sim' }, /not re-ingested/],
      [{ source: '__proto__' }, /not re-ingested/],
    ];
    for (const [over, reason] of cases) {
      const p = reingestPlan(letter(over), scheme);
      expect(p.ok, JSON.stringify(over)).toBe(false);
      expect(p.ok ? '' : p.reason).toMatch(reason);
    }
    expect(isTruncated(letter({ receivedBytes: 16 }))).toBe(false); // the size as received, not more
  });

  it('never throws, whatever the topic and source (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('mqtt', 'http', 'http-bulk', 'file'), (topic, source) => {
        const p = reingestPlan(letter({ topic, source }), scheme);
        expect(typeof p.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });
});
