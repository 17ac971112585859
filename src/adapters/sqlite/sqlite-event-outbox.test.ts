import { describe, expect, it } from 'vitest';
import { describeEventOutboxContract } from '../../core/ports/event-outbox.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeEventOutboxContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    outbox: fx.storage.outbox,
    routes: fx.storage.eventRoutes,
    twins: fx.storage.twins,
    reopen: async () => {
      const s = await fx.reopen();
      return { outbox: s.outbox, routes: s.eventRoutes };
    },
    cleanup: () => fx.cleanup(),
  };
});

describe('SqliteEventOutbox with the history group commit', () => {
  it('telemetry rows carried by an append commit with its points, and wake the delivery', async () => {
    const fx = tempStorage();
    try {
      const { outbox, history } = fx.storage;
      const ev = { id: 'x', type: 'microsoft.iot.telemetry', source: 's', time: 1, data: {}, twinId: 'p' };
      let told = 0;
      outbox.onHistoryRows = () => told++; // the delivery engine is woken by this
      const appended = history.append(
        [{ workspace: 'default', twinId: 'p', path: 'flow', kind: 'telemetry', ts: 5, value: 1 }],
        { outbox: [{ endpoint: 'hook', orderKey: 'p', event: ev, created: 1 }] },
      );
      expect(await outbox.pending(0, 10)).toEqual([]); // not before the commit
      await appended;
      expect((await outbox.pending(0, 10)).map((d) => d.event.id)).toEqual(['x']);
      expect(told).toBe(1);
      // A redelivered reading (deduplicated by its source time) still journals its event.
      await history.append(
        [{ workspace: 'default', twinId: 'p', path: 'flow', kind: 'telemetry', ts: 5, value: 1, once: true }],
        { outbox: [{ endpoint: 'hook', orderKey: 'p', event: { ...ev, id: 'y' }, created: 2 }] },
      );
      await history.append([
        { workspace: 'default', twinId: 'p', path: 'flow', kind: 'telemetry', ts: 5, value: 1, once: true },
      ]);
      expect((await outbox.pending(0, 10)).map((d) => d.event.id)).toEqual(['x', 'y']);
    } finally {
      await fx.cleanup();
    }
  });
});
