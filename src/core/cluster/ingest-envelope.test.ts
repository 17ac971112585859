import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BusMessage } from '../ports/cluster.js';
import { fromBusMessage, toIngestMessage } from './ingest-envelope.js';

const onBus = (m: ReturnType<typeof toIngestMessage>): BusMessage => ({
  ...m,
  partition: 0,
  seq: 7,
  deliveries: 1,
});

describe('the ingest envelope', () => {
  it('carries every field ingest needs through the bus, hostile text included', () => {
    fc.assert(
      fc.property(
        fc.record({
          source: fc.string(),
          workspace: fc.string(),
          topic: fc.option(fc.string(), { nil: undefined }),
          component: fc.option(fc.string(), { nil: undefined }),
          modelId: fc.option(fc.string(), { nil: undefined }),
          twinId: fc.string({ minLength: 1 }),
          clientId: fc.string({ minLength: 1 }),
        }),
        fc.uint8Array(),
        (meta, bytes) => {
          const msg = {
            ...Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)),
            receivedAt: 1234,
            payload: Buffer.from(bytes),
          } as Parameters<typeof toIngestMessage>[0];
          const back = fromBusMessage(onBus(toIngestMessage(msg, 'id')));
          expect(back.refused).toBeUndefined();
          expect(back.seq).toBe(7);
          expect(back.msg).toEqual(msg);
        },
      ),
    );
  });

  it('refuses what a foreign publisher put on the subject', () => {
    const base = onBus(
      toIngestMessage(
        { source: 'mqtt', workspace: 'default', receivedAt: 1, payload: Buffer.from('{}'), twinId: 't' },
        'x',
      ),
    );
    for (const topic of [
      'twins/t/telemetry',
      'tl1:not json',
      'tl1:[1]',
      'tl1:{"s":1,"w":"default"}',
      'tl1:{"__proto__":{"s":"x"},"w":"default"}',
      'tl1:{"s":"mqtt","w":"default","t":{"\'; DROP TABLE x; --":1}}',
    ]) {
      const r = fromBusMessage({ ...base, topic });
      expect(r.refused?.code, topic).toBe('BadRequest');
      expect(({} as Record<string, unknown>).s).toBeUndefined();
    }
  });
});
