/**
 * The contract every EventOutbox / OutboxWriter / EventRouteStore adapter passes: call
 * describeEventOutboxContract from the adapter's test file with a factory for a fresh, empty store.
 * `transaction` runs a function in the adapter's write transaction (the twin store's).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RoutedEvent } from '../events/change-events.js';
import type { EventOutbox, EventRouteStore, OutboxRow, OutboxWriter } from './event-routing.js';

export interface EventOutboxFixture {
  outbox: EventOutbox & OutboxWriter;
  routes: EventRouteStore;
  transaction<T>(fn: () => T): T;
  /** Closes and opens the same data again. */
  reopen(): Promise<{ outbox: EventOutbox & OutboxWriter; routes: EventRouteStore }>;
  cleanup(): Promise<void>;
}

function row(i: number, endpoint = 'hook', twin = `t${i % 3}`): OutboxRow {
  const event: RoutedEvent = {
    id: `e${i}`,
    type: 'Microsoft.DigitalTwins.Twin.Update',
    source: 'host',
    subject: twin,
    time: 1000 + i,
    data: { modelId: 'dtmi:x:A;1', patch: [{ op: 'replace', path: '/v', value: i, s: 'ü\u2028' }] },
    twinId: twin,
  };
  return { endpoint, orderKey: twin, event, created: 2000 + i };
}

export function describeEventOutboxContract(name: string, make: () => Promise<EventOutboxFixture>): void {
  describe(`EventOutbox contract: ${name}`, () => {
    let fx: EventOutboxFixture;
    beforeEach(async () => {
      fx = await make();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps appended rows in commit order, whole, across a reopen', async () => {
      fx.transaction(() => fx.outbox.append([row(1), row(2), row(3, 'other')]));
      const { outbox } = await fx.reopen();
      const p = await outbox.pending(0, 10);
      expect(p.map((d) => d.event.id)).toEqual(['e1', 'e2', 'e3']);
      expect(p[0]).toMatchObject({ endpoint: 'hook', orderKey: 't1', created: 2001, event: row(1).event });
      expect(p[1]!.seq).toBeGreaterThan(p[0]!.seq);
      expect((await outbox.pending(p[1]!.seq, 10)).map((d) => d.event.id)).toEqual(['e3']);
      expect((await outbox.pending(0, 2)).length).toBe(2);
    });

    it('rows appended in a transaction that fails are not kept', async () => {
      expect(() =>
        fx.transaction(() => {
          fx.outbox.append([row(1)]);
          throw new Error('the write failed');
        }),
      ).toThrow('the write failed');
      expect(await fx.outbox.pending(0, 10)).toEqual([]);
    });

    it('acknowledges, dead-letters, replays in the original order, and purges', async () => {
      fx.transaction(() => fx.outbox.append([row(1), row(2), row(3), row(4, 'other')]));
      const [a, b, c] = await fx.outbox.pending(0, 10);
      await fx.outbox.acknowledge([a!.seq, 999_999]);
      await fx.outbox.deadLetter([
        { seq: c!.seq, attempts: 5, reason: 'HTTP 500', at: 3000 },
        { seq: b!.seq, attempts: 2, reason: 'HTTP 503', at: 3001 },
      ]);
      expect((await fx.outbox.pending(0, 10)).map((d) => d.event.id)).toEqual(['e4']);
      const dead = await fx.outbox.listDeadLetters({ endpoint: 'hook', limit: 10 });
      expect(dead.map((d) => [d.event.id, d.attempts, d.reason])).toEqual([
        ['e2', 2, 'HTTP 503'],
        ['e3', 5, 'HTTP 500'],
      ]);
      expect(await fx.outbox.countDeadLetters('hook')).toBe(2);
      expect(await fx.outbox.countDeadLetters('other')).toBe(0);
      expect((await fx.outbox.backlog()).get('other')).toEqual({ count: 1, oldest: 2004 });
      // replay goes back in commit order (e2 before e3), with new seqs after everything pending
      expect(await fx.outbox.replay({ endpoint: 'hook' })).toBe(2);
      const again = await fx.outbox.pending(0, 10);
      expect(again.map((d) => d.event.id)).toEqual(['e4', 'e2', 'e3']);
      expect(again[1]!.created).toBe(2002);
      await fx.outbox.deadLetter([{ seq: again[1]!.seq, attempts: 1, reason: 'x', at: 1 }]);
      const [d] = await fx.outbox.listDeadLetters({ limit: 10 });
      expect(await fx.outbox.purgeDeadLetters({ endpoint: 'hook', ids: [d!.id] })).toBe(1);
      expect(await fx.outbox.countDeadLetters()).toBe(0);
    });

    it('stores routes and endpoints, the secret apart', async () => {
      await fx.routes.putEndpoint({ name: 'hook', spec: { type: 'webhook', url: 'http://x' }, secret: 's' });
      await fx.routes.putRoute({ id: 'r', endpointName: 'hook', filter: 'true' });
      const { routes } = await fx.reopen();
      expect(await routes.listEndpoints()).toEqual([
        { name: 'hook', spec: { type: 'webhook', url: 'http://x' }, secret: 's' },
      ]);
      expect(await routes.listRoutes()).toEqual([{ id: 'r', endpointName: 'hook', filter: 'true' }]);
      expect(await routes.deleteRoute('r')).toBe(true);
      expect(await routes.deleteRoute('r')).toBe(false);
      expect(await routes.deleteEndpoint('hook')).toBe(true);
    });
  });
}
