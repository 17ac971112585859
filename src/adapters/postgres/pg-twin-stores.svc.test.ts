import { afterEach, describe, expect, it } from 'vitest';
import { describeEventOutboxContract } from '../../core/ports/event-outbox.contract.js';
import { describeModelStoreContract } from '../../core/ports/model-store.contract.js';
import type { TwinStoreOp } from '../../core/ports/storage-ports.js';
import { describeTwinStoreContract } from '../../core/ports/twin-store.contract.js';
import { collect } from '../../../test/support/collect.js';
import { openPgDatabase } from './pg-database.js';
import { PG_EVENT_OUTBOX_MIGRATIONS, PgEventOutbox } from './pg-event-outbox.js';
import { PG_EVENT_ROUTE_MIGRATIONS, PgEventRouteStore } from './pg-event-route-store.js';
import { PG_MODEL_MIGRATIONS, PgModelStore } from './pg-model-store.js';
import { PG_TWIN_MIGRATIONS, PgTwinStore, type PgTwinStoreOptions } from './pg-twin-store.js';
import { openPgStorage } from './pg-storage.js';
import { dropSchema, freshSchemaName, pgTestUrl } from './pg-test-fixture.js';

const MIGRATIONS = [
  PG_MODEL_MIGRATIONS,
  PG_TWIN_MIGRATIONS,
  PG_EVENT_OUTBOX_MIGRATIONS,
  PG_EVENT_ROUTE_MIGRATIONS,
];

/** The four stores on one fresh schema; reopen() closes the pool and opens the same schema again. */
async function pgStores(options: PgTwinStoreOptions = {}) {
  const schema = freshSchemaName();
  const open = async () => {
    const db = await openPgDatabase({ url: pgTestUrl(), schema, migrations: MIGRATIONS, poolSize: 4 });
    const outbox = new PgEventOutbox(db);
    return {
      db,
      models: new PgModelStore(db),
      twins: new PgTwinStore(db, { outbox, ...options }),
      outbox,
      routes: new PgEventRouteStore(db),
    };
  };
  const fx = {
    s: await open(),
    async reopen() {
      await fx.s.db.close();
      fx.s = await open();
      return fx.s;
    },
    async cleanup() {
      await fx.s.db.close().catch(() => undefined);
      await dropSchema(schema);
    },
  };
  return fx;
}

describeModelStoreContract('postgres', async () => {
  const fx = await pgStores();
  return {
    store: fx.s.models,
    reopen: async () => (await fx.reopen()).models,
    cleanup: () => fx.cleanup(),
  };
});

describeTwinStoreContract('postgres', async () => {
  // Small pages and statements, so paging and multi-row runs are exercised by the contract.
  const fx = await pgStores({ pageSize: 300, maxRowsPerStatement: 200 });
  return {
    store: fx.s.twins,
    reopen: async () => ({ store: (await fx.reopen()).twins }),
    cleanup: () => fx.cleanup(),
  };
});

// The whole PostgreSQL storage: the twin store with the history store beside it, so the contract's
// telemetry tests (latest values loaded with the twins; a deleted twin's history goes with it) run too.
describeTwinStoreContract('postgres storage', async () => {
  const schema = freshSchemaName();
  let storage = await openPgStorage({ url: pgTestUrl(), schema, poolSize: 4 });
  return {
    store: storage.twins,
    history: storage.history,
    reopen: async () => {
      await storage.close();
      storage = await openPgStorage({ url: pgTestUrl(), schema, poolSize: 4 });
      return { store: storage.twins, history: storage.history };
    },
    cleanup: async () => {
      await storage.close().catch(() => undefined);
      await dropSchema(schema);
    },
  };
});

describeEventOutboxContract('postgres', async () => {
  const fx = await pgStores();
  return {
    outbox: fx.s.outbox,
    routes: fx.s.routes,
    twins: fx.s.twins,
    reopen: async () => {
      const s = await fx.reopen();
      return { outbox: s.outbox, routes: s.routes };
    },
    cleanup: () => fx.cleanup(),
  };
});

const twin = (id: string, etag = 'W/"1"') => ({
  id,
  modelId: 'dtmi:x:A;1',
  workspace: 'ws',
  etag,
  lastUpdateTime: 1,
  contents: { v: id },
  propertyTimes: {},
  telemetry: {},
});

describe('PostgreSQL twin store specifics', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('refuses NUL characters in ids and names with InvalidArgument, stores them in contents, and keeps the tables', async () => {
    const fx = await pgStores();
    cleanups.push(() => fx.cleanup());
    const { twins, models, routes } = fx.s;
    await expect(twins.commit([{ ops: [{ op: 'putTwin', twin: twin('a\u0000b') }] }])).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(
      models.insert([
        { workspace: 'ws', id: 'dtmi:a;1\u0000', definition: '{}', uploadTime: 1, decommissioned: false },
      ]),
    ).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(routes.putRoute({ id: 'r\u0000', endpointName: 'e', filter: 'true' })).rejects.toMatchObject(
      {
        code: 'InvalidArgument',
      },
    );
    await twins.commit([{ ops: [{ op: 'putTwin', twin: { ...twin('n'), contents: { s: 'a\u0000b' } } }] }]);
    expect((await collect(twins.loadTwins('ws'))).map((t) => t.contents)).toEqual([{ s: 'a\u0000b' }]);
    // SQL in ids is data, and the tables are still there
    const evil = "'; DROP TABLE twins; --";
    await twins.commit([{ ops: [{ op: 'putTwin', twin: twin(evil), expectEtag: null }] }]);
    expect((await collect(twins.loadTwins('ws'))).map((t) => t.id).sort()).toEqual([evil, 'n'].sort());
    expect(await models.list("ws'; DROP TABLE models; --")).toEqual([]);
  });

  it('checks etags against another node: a stale write fails and writes nothing', async () => {
    const fx = await pgStores();
    cleanups.push(() => fx.cleanup());
    const other = new PgTwinStore(fx.s.db); // a second node's store on the same database
    await fx.s.twins.commit([{ ops: [{ op: 'putTwin', twin: twin('a'), expectEtag: null }] }]);
    await other.commit([{ ops: [{ op: 'putTwin', twin: twin('a', 'W/"2"'), expectEtag: 'W/"1"' }] }]);
    const stale: TwinStoreOp = { op: 'putTwin', twin: twin('a', 'W/"3"'), expectEtag: 'W/"1"' };
    await expect(
      fx.s.twins.commit([{ ops: [{ op: 'putTwin', twin: twin('b') }] }, { ops: [stale] }]),
    ).rejects.toMatchObject({ code: 'PreconditionFailed' });
    expect((await collect(fx.s.twins.loadTwins('ws'))).map((t) => [t.id, t.etag])).toEqual([['a', 'W/"2"']]);
  });

  it('races two nodes creating the same twin: exactly one wins', async () => {
    const fx = await pgStores();
    cleanups.push(() => fx.cleanup());
    const other = new PgTwinStore(fx.s.db);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? other : fx.s.twins).commit([
          { ops: [{ op: 'putTwin', twin: twin('x', `W/"${i}"`), expectEtag: null }] },
        ]),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'PreconditionFailed' });
  });

  it('deletes a twin with its relationships and calls onDeleteTwin in the same transaction', async () => {
    const seen: string[] = [];
    const fx = await pgStores({
      onDeleteTwin: async (c, ws, id) => {
        seen.push(id);
        await c.query('SELECT 1');
        if (id === 'fail') throw new Error('history delete failed');
      },
    });
    cleanups.push(() => fx.cleanup());
    const { twins } = fx.s;
    const rel = {
      id: 'r',
      sourceId: 'fail',
      targetId: 'a',
      name: 'n',
      workspace: 'ws',
      etag: 'e',
      lastUpdateTime: 1,
      properties: {},
    };
    await twins.commit([
      {
        ops: [
          { op: 'putTwin', twin: twin('a') },
          { op: 'putTwin', twin: twin('fail') },
          { op: 'putRelationship', rel },
        ],
      },
    ]);
    await expect(
      twins.commit([{ ops: [{ op: 'deleteTwin', workspace: 'ws', id: 'fail' }] }]),
    ).rejects.toThrow();
    expect((await collect(twins.loadRelationships('ws'))).map((r) => r.id)).toEqual(['r']); // rolled back
    await twins.commit([{ ops: [{ op: 'deleteTwin', workspace: 'ws', id: 'a', expectEtag: 'W/"1"' }] }]);
    expect(await collect(twins.loadRelationships('ws'))).toEqual([]);
    expect(seen).toEqual(['fail', 'a']);
  });

  it('orders outbox seqs by commit order across concurrent commits', async () => {
    const fx = await pgStores();
    cleanups.push(() => fx.cleanup());
    const ev = (i: number) => ({
      endpoint: 'e',
      orderKey: 'k',
      created: i,
      event: { id: `e${i}`, type: 't', source: 's', time: i, data: {}, twinId: 'k' },
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fx.s.twins.commit([{ ops: [{ op: 'putTwin', twin: twin(`t${i}`) }], outbox: [ev(i)] }]),
      ),
    );
    const p = await fx.s.outbox.pending(0, 100);
    expect(p).toHaveLength(20);
    const seqs = p.map((d) => d.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  });

  it('fills telemetry through loadTelemetry, one call per page of twins', async () => {
    const calls: number[] = [];
    const fx = await pgStores({
      pageSize: 3,
      loadTelemetry: async (ws, ids) => {
        await Promise.resolve();
        calls.push(ids.length);
        return new Map(ids.filter((id) => id !== 't1').map((id) => [id, { flow: { value: id, time: 5 } }]));
      },
    });
    cleanups.push(() => fx.cleanup());
    await fx.s.twins.commit([
      { ops: Array.from({ length: 7 }, (_, i) => ({ op: 'putTwin' as const, twin: twin(`t${i}`) })) },
    ]);
    const loaded = await collect(fx.s.twins.loadTwins('ws'));
    expect(calls).toEqual([3, 3, 1]);
    expect(loaded.find((t) => t.id === 't1')!.telemetry).toEqual({});
    expect(loaded.find((t) => t.id === 't6')!.telemetry).toEqual({ flow: { value: 't6', time: 5 } });
  });
});
