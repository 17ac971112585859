/**
 * The contract every TwinStore adapter passes. The factory also gives the HistoryStore of the same
 * storage, because loadTwins fills each twin's telemetry with the latest history values.
 * `commit` is a unit of work: every op of every write in one transaction, etag expectations
 * checked in op order, all or nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelationshipRecord, TwinDeviceState, TwinRecord } from '../graph/graph-types.js';
import type { HistoryStore, TwinStore, TwinStoreOp } from './storage-ports.js';

export interface TwinStoreFixture {
  store: TwinStore;
  /** The history store of the same storage; absent where the adapter has none yet (telemetry tests skip). */
  history?: HistoryStore;
  /** Closes both and opens them again on the same data. */
  reopen(): Promise<{ store: TwinStore; history?: HistoryStore }>;
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

const put = (t: TwinRecord, expectEtag?: string | null): TwinStoreOp =>
  expectEtag === undefined ? { op: 'putTwin', twin: t } : { op: 'putTwin', twin: t, expectEtag };
const putRel = (r: RelationshipRecord, expectEtag?: string | null): TwinStoreOp =>
  expectEtag === undefined
    ? { op: 'putRelationship', rel: r }
    : { op: 'putRelationship', rel: r, expectEtag };
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of items) out.push(x);
  return out;
}

const byId = <T extends { id: string }>(xs: T[]): T[] => xs.sort((p, q) => p.id.localeCompare(q.id));

export function describeTwinStoreContract(name: string, make: () => Promise<TwinStoreFixture>): void {
  describe(`TwinStore contract: ${name}`, () => {
    let fx: TwinStoreFixture;
    let store: TwinStore;
    let history: HistoryStore | undefined;
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
    const twins = async (ws = 'ws'): Promise<TwinRecord[]> => byId(await collect(store.loadTwins(ws)));
    const rels = async (ws = 'ws'): Promise<RelationshipRecord[]> =>
      byId(await collect(store.loadRelationships(ws)));
    const commitOps = (...ops: TwinStoreOp[]): Promise<void> => store.commit([{ ops }]);

    it('saves, replaces and loads twins with their contents unchanged', async () => {
      await commitOps(put(twin('a')), put(twin('b')));
      await commitOps(put(twin('a', { etag: 'W/"a-2"', contents: { name: 'A2' }, lastUpdateTime: 2000 })));
      await commitOps(put(twin('x', { workspace: 'other' })));
      await reopen();
      expect(await twins()).toEqual([
        twin('a', { etag: 'W/"a-2"', contents: { name: 'A2' }, lastUpdateTime: 2000 }),
        twin('b'),
      ]);
      expect((await twins('other')).map((t) => t.id)).toEqual(['x']);
    });

    it('keeps the sourceTimes a writer set, exactly as written, and none when none was set', async () => {
      const sourceTimes = {
        name: '2022-05-31T12:00:01.000125009Z',
        'motor/rpm': '2024-01-01T00:00:00+02:00',
      };
      await commitOps(put(twin('a', { sourceTimes })), put(twin('b')));
      await reopen();
      const [a, b] = await twins();
      expect(a).toEqual(twin('a', { sourceTimes }));
      expect(b?.sourceTimes).toBeUndefined();
      expect(b?.propertyTimes).toEqual(twin('b').propertyTimes);
    });

    it('stores the device side with the twin, and alone without touching etag, time or contents', async () => {
      const device: TwinDeviceState = {
        desiredVersion: 3,
        properties: { speed: { desiredVersion: 3, desiredTime: 1000 }, 'motor/rpm': { desiredVersion: 2 } },
      };
      await commitOps(put(twin('a', { device })), put(twin('b')));
      await reopen();
      const [a, b] = await twins();
      expect(a).toEqual(twin('a', { device }));
      expect(b?.device).toBeUndefined();
      const reported: TwinDeviceState = {
        ...device,
        properties: {
          ...device.properties,
          speed: { desiredVersion: 3, desiredTime: 1000, reportedValue: { v: [1, 'x'] }, reportedTime: 1500 },
        },
        connection: { state: 'disconnected', since: 1400, lastSeen: 1450 },
      };
      await commitOps(
        { op: 'putDeviceState', workspace: 'ws', id: 'a', device: reported },
        { op: 'putDeviceState', workspace: 'ws', id: 'b', device: { desiredVersion: 0, properties: {} } },
        // absent twin: nothing is created
        { op: 'putDeviceState', workspace: 'ws', id: 'gone', device: reported },
      );
      // a later write expecting the etag from before still holds: the device side changed no etag
      await commitOps(put(twin('a', { device: reported, contents: { name: 'A2' } }), 'W/"a-1"'));
      await reopen();
      const loaded = await twins();
      expect(loaded.map((t) => t.id)).toEqual(['a', 'b']);
      expect(loaded[0]).toEqual(twin('a', { device: reported, contents: { name: 'A2' } }));
      expect(loaded[1]).toEqual(twin('b', { device: { desiredVersion: 0, properties: {} } }));
      // a put without device state clears the desired part, never the device's
      await commitOps(put(twin('b')));
      expect((await twins())[1]!.device).toEqual({ desiredVersion: 0, properties: {} });
      // a writer with a stale copy of the device side (another node stored a report since) writes
      // the desired part only: the reported value and the connection stay
      const stale: TwinDeviceState = {
        desiredVersion: 4,
        properties: { speed: { desiredVersion: 4, desiredTime: 3000, reportedValue: 'old' } },
      };
      await commitOps(put(twin('a', { etag: 'W/"a-3"', device: stale }), 'W/"a-1"'));
      expect((await twins())[0]!.device).toEqual({
        desiredVersion: 4,
        properties: {
          speed: { desiredVersion: 4, desiredTime: 3000, reportedValue: { v: [1, 'x'] }, reportedTime: 1500 },
        },
        connection: { state: 'disconnected', since: 1400, lastSeen: 1450 },
      });
      // deleted and created again: a new twin starts without the old device side
      await commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a' }, put(twin('a')));
      expect((await twins())[0]!.device).toBeUndefined();
    });

    it('fills telemetry with the latest history values (telemetry series only)', async (ctx) => {
      if (!history) return ctx.skip();
      await commitOps(put(twin('a')), put(twin('b')));
      await history.append([
        { workspace: 'ws', twinId: 'a', path: 'flow', kind: 'telemetry', ts: 10, value: 1.5 },
        { workspace: 'ws', twinId: 'a', path: 'flow', kind: 'telemetry', ts: 20, value: 2.5 },
        { workspace: 'ws', twinId: 'a', path: 'motor/state', kind: 'telemetry', ts: 15, value: 'on' },
        { workspace: 'ws', twinId: 'a', path: 'speed', kind: 'property', ts: 15, value: 3.5 },
      ]);
      // visible without a restart, and after one
      expect((await twins()).find((t) => t.id === 'a')!.telemetry).toEqual({
        flow: { value: 2.5, time: 20 },
        'motor/state': { value: 'on', time: 15 },
      });
      await reopen();
      const loaded = new Map((await twins()).map((t) => [t.id, t]));
      expect(loaded.get('a')!.telemetry).toEqual({
        flow: { value: 2.5, time: 20 },
        'motor/state': { value: 'on', time: 15 },
      });
      expect(loaded.get('b')!.telemetry).toEqual({});
    });

    it('saves and deletes relationships; deleting a twin removes its relationships both ways', async () => {
      await commitOps(...['a', 'b', 'c'].map((id) => put(twin(id))));
      await store.commit([
        { ops: [putRel(rel('a', 'r1', 'b')), putRel(rel('b', 'r2', 'c'))] },
        {
          ops: [
            putRel(rel('c', 'r3', 'a')),
            putRel({ ...rel('c', 'r4', 'b'), properties: { capacity: 99 } }),
          ],
        },
      ]);
      await commitOps({ op: 'deleteRelationship', workspace: 'ws', sourceId: 'c', relId: 'r4' });
      await reopen();
      expect((await rels()).map((r) => r.id)).toEqual(['r1', 'r2', 'r3']);
      expect((await rels()).find((r) => r.id === 'r1')).toEqual(rel('a', 'r1', 'b'));
      await commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a' });
      expect((await rels()).map((r) => r.id)).toEqual(['r2']);
      expect((await twins()).map((t) => t.id)).toEqual(['b', 'c']);
    });

    it('commits every write of a call all or nothing', async () => {
      await commitOps(put(twin('a')));
      // the second write's expectation fails: the first is not kept either
      await expect(
        store.commit([{ ops: [put(twin('t1'))] }, { ops: [put(twin('a', { etag: 'W/"a-9"' }), null)] }]),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
      expect((await twins()).map((t) => [t.id, t.etag])).toEqual([['a', 'W/"a-1"']]);
      await store.commit([{ ops: [put(twin('t1'))] }, { ops: [put(twin('t2'))] }]);
      expect((await twins()).map((t) => t.id)).toEqual(['a', 't1', 't2']);
      await store.commit([]); // nothing to do
    });

    it('checks etag expectations in op order: absent, equal, unconditional', async () => {
      await commitOps(put(twin('a'), null));
      await expect(commitOps(put(twin('a', { etag: 'W/"a-x"' }), null))).rejects.toMatchObject({
        code: 'PreconditionFailed',
      });
      await expect(commitOps(put(twin('a', { etag: 'W/"a-x"' }), 'W/"stale"'))).rejects.toMatchObject({
        code: 'PreconditionFailed',
      });
      // a later op sees the earlier ops of the same commit
      await commitOps(
        put(twin('a', { etag: 'W/"a-2"' }), 'W/"a-1"'),
        put(twin('a', { etag: 'W/"a-3"' }), 'W/"a-2"'),
      );
      expect((await twins()).map((t) => t.etag)).toEqual(['W/"a-3"']);
      await commitOps(put(twin('a', { etag: 'W/"a-4"' })));
      await expect(
        commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: 'W/"a-3"' }),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
      await expect(
        commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: null }),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
      await commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: 'W/"a-4"' });
      expect(await twins()).toEqual([]);
      // deleting an absent twin that was expected absent is fine; expecting an etag is not
      await commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: null });
      await expect(
        commitOps({ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: 'W/"a-4"' }),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
    });

    it('checks relationship etags, and sees relationships deleted with their twin', async () => {
      await commitOps(put(twin('a')), put(twin('b')), putRel(rel('a', 'r1', 'b'), null));
      await expect(commitOps(putRel(rel('a', 'r1', 'b'), null))).rejects.toMatchObject({
        code: 'PreconditionFailed',
      });
      await commitOps(putRel({ ...rel('a', 'r1', 'b'), etag: 'W/"r1-2"' }, 'W/"r1"'));
      await expect(
        commitOps({
          op: 'deleteRelationship',
          workspace: 'ws',
          sourceId: 'a',
          relId: 'r1',
          expectEtag: 'W/"r1"',
        }),
      ).rejects.toMatchObject({ code: 'PreconditionFailed' });
      // deleting the target twin takes r1 with it: re-creating it expecting absence then holds
      await commitOps(
        { op: 'deleteTwin', workspace: 'ws', id: 'b' },
        put(twin('b', { etag: 'W/"b-2"' }), null),
        putRel({ ...rel('a', 'r1', 'b'), etag: 'W/"r1-3"' }, null),
      );
      expect((await rels()).map((r) => r.etag)).toEqual(['W/"r1-3"']);
      await commitOps({
        op: 'deleteRelationship',
        workspace: 'ws',
        sourceId: 'a',
        relId: 'r1',
        expectEtag: 'W/"r1-3"',
      });
      expect(await rels()).toEqual([]);
    });

    it('keeps hostile ids and contents as data', async () => {
      const id = "x'; DROP TABLE twins; --";
      const hostile = twin(id, {
        contents: JSON.parse(
          '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"s":"ü\u2028😀"}',
        ) as Record<string, unknown>,
      });
      await commitOps(put(hostile, null), put(twin('b')), putRel(rel(id, "r'); --", 'b'), null));
      await reopen();
      const [loaded] = (await twins()).filter((t) => t.id === id);
      expect(loaded).toEqual(hostile);
      expect(Object.getPrototypeOf(loaded!.contents)).toBe(Object.prototype);
      expect(Object.keys(loaded!.contents)).toContain('__proto__');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((await rels()).map((r) => r.id)).toEqual(["r'); --"]);
    });

    it('stores a NUL character whole or refuses the commit with InvalidArgument, writing nothing', async () => {
      const nul = twin('n', { contents: { s: 'a\u0000b' } });
      const relNul = { ...rel('n', 'r\u0000', 'n2') };
      for (const ops of [[put(nul)], [put(twin('n2')), putRel(relNul)], [put(twin('n\u0000'))]]) {
        let refused: unknown;
        await commitOps(...ops).catch((e: unknown) => (refused = e));
        if (refused !== undefined) expect(refused).toMatchObject({ code: 'InvalidArgument' });
      }
      const stored = await twins();
      const n = stored.find((t) => t.id === 'n');
      if (n) expect(n.contents).toEqual({ s: 'a\u0000b' });
      // a refused commit kept nothing of its ops
      if (!stored.some((t) => t.id === 'n2')) expect(await rels()).toEqual([]);
      await commitOps(put(twin('ok')));
      expect((await twins()).map((t) => t.id)).toContain('ok');
    });

    it('stores a 1 MB twin whole', async () => {
      const big = twin('big', { contents: { blob: 'x'.repeat(1024 * 1024), n: [1, 2, 3] } });
      await commitOps(put(big));
      await reopen();
      expect(await twins()).toEqual([big]);
    });

    it('streams many twins and relationships in pages', async () => {
      const n = 2500;
      await commitOps(...Array.from({ length: n }, (_, i) => put(twin(`t${String(i).padStart(5, '0')}`))));
      await commitOps(
        ...Array.from({ length: n - 1 }, (_, i) =>
          putRel(rel(`t${String(i).padStart(5, '0')}`, `r${i}`, `t${String(i + 1).padStart(5, '0')}`)),
        ),
      );
      let count = 0;
      for await (const t of store.loadTwins('ws')) if (t.workspace === 'ws') count++;
      expect(count).toBe(n);
      expect(new Set((await rels()).map((r) => r.id)).size).toBe(n - 1);
    });
  });
}
