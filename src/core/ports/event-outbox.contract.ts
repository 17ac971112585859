/**
 * The contract every EventOutbox / EventRouteStore adapter passes: call describeEventOutboxContract
 * from the adapter's test file with a factory for a fresh, empty store. Rows are written the way
 * the services write them: as the outbox rows of a TwinStore commit of the same storage.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RoutedEvent } from '../events/change-events.js';
import type { EventOutbox, EventRouteStore, OutboxRow } from './event-routing.js';
import type { TwinStore } from './storage-ports.js';

export interface EventOutboxFixture {
  outbox: EventOutbox;
  routes: EventRouteStore;
  /** The twin store of the same storage (its commit writes outbox rows). */
  twins: TwinStore;
  /** Closes and opens the same data again. */
  reopen(): Promise<{ outbox: EventOutbox; routes: EventRouteStore }>;
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

    const append = (rows: OutboxRow[]): Promise<void> => fx.twins.commit([{ ops: [], outbox: rows }]);

    it('keeps appended rows in commit order, whole, across a reopen', async () => {
      await fx.twins.commit([
        { ops: [], outbox: [row(1), row(2)] },
        { ops: [], outbox: [row(3, 'other')] },
      ]);
      const { outbox } = await fx.reopen();
      const p = await outbox.pending(0, 10);
      expect(p.map((d) => d.event.id)).toEqual(['e1', 'e2', 'e3']);
      expect(p[0]).toMatchObject({ endpoint: 'hook', orderKey: 't1', created: 2001, event: row(1).event });
      expect(p[1]!.seq).toBeGreaterThan(p[0]!.seq);
      expect((await outbox.pending(p[1]!.seq, 10)).map((d) => d.event.id)).toEqual(['e3']);
      expect((await outbox.pending(0, 2)).length).toBe(2);
    });

    it('rows of a commit that fails are not kept', async () => {
      const t = {
        id: 'p',
        modelId: 'dtmi:x:A;1',
        workspace: 'ws',
        etag: 'W/"1"',
        lastUpdateTime: 1,
        contents: {},
        propertyTimes: {},
        telemetry: {},
      };
      await expect(
        fx.twins.commit([
          { ops: [], outbox: [row(1)] },
          { ops: [{ op: 'putTwin', twin: t, expectEtag: 'W/"absent"' }], outbox: [row(2)] },
        ]),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
      expect(await fx.outbox.pending(0, 10)).toEqual([]);
    });

    it('keeps hostile event contents and endpoint names as data', async () => {
      const r = row(7, "hook'; DROP TABLE event_outbox; --", "t'); --");
      const data = JSON.parse(
        '{"__proto__":{"polluted":true},"big":"' + 'x'.repeat(100_000) + '"}',
      ) as Record<string, unknown>;
      await append([{ ...r, event: { ...r.event, data } }]);
      const [d] = await fx.outbox.pending(0, 10);
      expect(d).toMatchObject({ endpoint: r.endpoint, orderKey: r.orderKey });
      expect(d!.event.data).toEqual(data);
      expect(Object.getPrototypeOf(d!.event.data)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('acknowledges, dead-letters, replays in the original order, and purges', async () => {
      await append([row(1), row(2), row(3), row(4, 'other')]);
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

    it('keeps hostile route ids, filters and endpoint settings as data', async () => {
      const id = "r'; DROP TABLE event_routes; --";
      const spec = JSON.parse(
        '{"__proto__":{"polluted":true},"type":"webhook","url":"http://x/ü\u2028"}',
      ) as Record<string, unknown>;
      await fx.routes.putEndpoint({ name: "e'); --", spec, secret: 'Bearer "quoted" \\ secret' });
      await fx.routes.putRoute({ id, endpointName: "e'); --", filter: "type = 'x'' OR 1=1 --'" });
      const { routes } = await fx.reopen();
      const [e] = await routes.listEndpoints();
      expect(e).toEqual({ name: "e'); --", spec, secret: 'Bearer "quoted" \\ secret' });
      expect(Object.getPrototypeOf(e!.spec)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await routes.listRoutes()).toEqual([
        { id, endpointName: "e'); --", filter: "type = 'x'' OR 1=1 --'" },
      ]);
      expect(await routes.deleteRoute(id)).toBe(true);
    });
  });
}
