// The MlModelStore contract on PostgreSQL (a schema of its own per test), and what only a shared
// database shows: two pools (two nodes) adding and promoting on the same target.
import { describe, expect, it } from 'vitest';
import { describeMlModelStoreContract } from '../../core/ports/ml-model-store.contract.js';
import { PG_ML_MODEL_MIGRATIONS, PgMlModelStore } from './pg-ml-model-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';
import { pgTestDatabase } from './pg-test-fixture.js';

describeMlModelStoreContract('postgres', async () => {
  const fx = await pgStoreFixture([PG_ML_MODEL_MIGRATIONS], (db) => new PgMlModelStore(db));
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});

describe('PgMlModelStore across nodes', () => {
  it('gives distinct versions to adds from two pools and keeps one active model when both promote', async () => {
    const a = await pgTestDatabase([PG_ML_MODEL_MIGRATIONS]);
    const b = await pgTestDatabase([], a.schema);
    try {
      const sa = new PgMlModelStore(a);
      const sb = new PgMlModelStore(b);
      const m = (i: number) => ({
        workspace: 'ws',
        kind: 'rul' as const,
        target: 'dtmi:x:Pump;1',
        createdAt: i,
        features: { window: i },
        trainingRange: { from: 0, to: 1, assets: 1, rows: 1 },
        metrics: {},
        codeVersion: 'test',
        artefact: '{}',
      });
      const added = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? sa : sb).add(m(i))));
      expect(added.map((x) => x.version).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      await Promise.all(added.map((x, i) => (i % 2 ? sb : sa).setActive('ws', x.id, { at: i, by: 'n' })));
      const active = await sa.list({ workspace: 'ws', status: 'active', limit: 50 });
      expect(active).toHaveLength(1);
      expect((await sb.active('ws', 'rul', 'dtmi:x:Pump;1'))!.id).toBe(active[0]!.id);
      const log = await sb.activations({ workspace: 'ws', limit: 100 });
      expect(log).toHaveLength(30);
      for (let i = 0; i < log.length - 1; i++) expect(log[i]!.fromId).toBe(log[i + 1]!.modelId);
    } finally {
      await b.close();
      await a.drop();
    }
  });
});
