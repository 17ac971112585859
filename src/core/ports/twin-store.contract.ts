/**
 * The contract every TwinStore adapter passes. The factory also gives the HistoryStore of the same
 * storage, because loadTwins fills each twin's telemetry with the latest history values.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { HistoryStore, TwinStore } from './storage-ports.js';

export interface TwinStoreFixture {
  store: TwinStore;
  history: HistoryStore;
  /** Closes both and opens them again on the same data. */
  reopen(): Promise<{ store: TwinStore; history: HistoryStore }>;
  cleanup(): Promise<void>;
}

const twin = (id: string, over: Partial<TwinRecord> = {}): TwinRecord => ({
  id,
  modelId: 'dtmi:example:Pump;1',
  workspace: 'ws',
  etag: `W/"${id}-1"`,
  lastUpdateTime: 1000,
  contents: { name: id, speed: 3.5, motor: { rpm: 1200, tags: ['a', 'b'] } },
  propertyTimes: { name: 900, 'motor/rpm': 950 },
  telemetry: {},
  ...over,
});

const rel = (sourceId: string, id: string, targetId: string): RelationshipRecord => ({
  id,
  sourceId,
  targetId,
  name: 'feeds',
  workspace: 'ws',
  etag: `W/"${id}"`,
  lastUpdateTime: 5,
  properties: { capacity: 10 },
});

export function describeTwinStoreContract(name: string, make: () => Promise<TwinStoreFixture>): void {
  describe(`TwinStore contract: ${name}`, () => {
    let fx: TwinStoreFixture;
    let store: TwinStore;
    let history: HistoryStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
      history = fx.history;
    });
    afterEach(async () => {
      await fx.cleanup();
    });
    const reopen = async (): Promise<void> => {
      ({ store, history } = await fx.reopen());
    };

    it('saves, replaces and loads twins with their contents unchanged', async () => {
      store.saveTwin(twin('a'));
      store.saveTwin(twin('b'));
      store.saveTwin(twin('a', { etag: 'W/"a-2"', contents: { name: 'A2' }, lastUpdateTime: 2000 }));
      store.saveTwin(twin('x', { workspace: 'other' }));
      await reopen();
      const loaded = [...store.loadTwins('ws')].sort((p, q) => p.id.localeCompare(q.id));
      expect(loaded).toEqual([
        twin('a', { etag: 'W/"a-2"', contents: { name: 'A2' }, lastUpdateTime: 2000 }),
        twin('b'),
      ]);
      expect([...store.loadTwins('other')].map((t) => t.id)).toEqual(['x']);
    });

    it('keeps the sourceTimes a writer set, exactly as written, and none when none was set', async () => {
      const sourceTimes = {
        name: '2022-05-31T12:00:01.000125009Z',
        'motor/rpm': '2024-01-01T00:00:00+02:00',
      };
      store.saveTwin(twin('a', { sourceTimes }));
      store.saveTwin(twin('b'));
      await reopen();
      const [a, b] = [...store.loadTwins('ws')].sort((p, q) => p.id.localeCompare(q.id));
      expect(a).toEqual(twin('a', { sourceTimes }));
      expect(b?.sourceTimes).toBeUndefined();
      expect(b?.propertyTimes).toEqual(twin('b').propertyTimes);
    });

    it('fills telemetry with the latest history values (telemetry series only)', async () => {
      store.saveTwin(twin('a'));
      store.saveTwin(twin('b'));
      await history.append([
        { workspace: 'ws', twinId: 'a', path: 'flow', kind: 'telemetry', ts: 10, value: 1.5 },
        { workspace: 'ws', twinId: 'a', path: 'flow', kind: 'telemetry', ts: 20, value: 2.5 },
        { workspace: 'ws', twinId: 'a', path: 'motor/state', kind: 'telemetry', ts: 15, value: 'on' },
        { workspace: 'ws', twinId: 'a', path: 'speed', kind: 'property', ts: 15, value: 3.5 },
      ]);
      // visible without a restart, and after one
      expect([...store.loadTwins('ws')].find((t) => t.id === 'a')!.telemetry).toEqual({
        flow: { value: 2.5, time: 20 },
        'motor/state': { value: 'on', time: 15 },
      });
      await reopen();
      const byId = new Map([...store.loadTwins('ws')].map((t) => [t.id, t]));
      expect(byId.get('a')!.telemetry).toEqual({
        flow: { value: 2.5, time: 20 },
        'motor/state': { value: 'on', time: 15 },
      });
      expect(byId.get('b')!.telemetry).toEqual({});
    });

    it('saves and deletes relationships; deleting a twin removes its relationships both ways', async () => {
      for (const id of ['a', 'b', 'c']) store.saveTwin(twin(id));
      store.saveRelationship(rel('a', 'r1', 'b'));
      store.saveRelationship(rel('b', 'r2', 'c'));
      store.saveRelationship(rel('c', 'r3', 'a'));
      store.saveRelationship({ ...rel('c', 'r4', 'b'), properties: { capacity: 99 } });
      store.deleteRelationship('ws', 'c', 'r4');
      await reopen();
      const ids = (): string[] => [...store.loadRelationships('ws')].map((r) => r.id).sort();
      expect(ids()).toEqual(['r1', 'r2', 'r3']);
      expect([...store.loadRelationships('ws')].find((r) => r.id === 'r1')).toEqual(rel('a', 'r1', 'b'));
      store.deleteTwin('ws', 'a');
      expect(ids()).toEqual(['r2']);
      expect([...store.loadTwins('ws')].map((t) => t.id).sort()).toEqual(['b', 'c']);
    });

    it('runs a transaction all or nothing', () => {
      expect(() =>
        store.transaction(() => {
          store.saveTwin(twin('t1'));
          throw new Error('abort');
        }),
      ).toThrow('abort');
      expect([...store.loadTwins('ws')]).toEqual([]);
      expect(store.transaction(() => (store.saveTwin(twin('t2')), 42))).toBe(42);
      expect([...store.loadTwins('ws')].map((t) => t.id)).toEqual(['t2']);
    });
  });
}
