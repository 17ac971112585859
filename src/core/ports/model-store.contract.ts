/**
 * The contract every ModelStore adapter passes: call describeModelStoreContract from the adapter's
 * test file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ModelStore, StoredModel } from './storage-ports.js';

export interface ModelStoreFixture {
  store: ModelStore;
  reopen(): Promise<ModelStore>;
  cleanup(): Promise<void>;
}

const model = (id: string, uploadTime: number, workspace = 'ws'): StoredModel => ({
  workspace,
  id,
  definition: JSON.stringify({ '@id': id, '@type': 'Interface', '@context': 'dtmi:dtdl:context;3' }),
  uploadTime,
  decommissioned: false,
});

export function describeModelStoreContract(name: string, make: () => Promise<ModelStoreFixture>): void {
  describe(`ModelStore contract: ${name}`, () => {
    let fx: ModelStoreFixture;
    let store: ModelStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('lists models in upload order, per workspace, with definitions unchanged', async () => {
      await store.insert([model('dtmi:b;1', 2), model('dtmi:a;1', 1)]);
      await store.insert([model('dtmi:c;1', 3), model('dtmi:a;1', 1, 'other')]);
      expect((await store.list('ws')).map((m) => m.id)).toEqual(['dtmi:a;1', 'dtmi:b;1', 'dtmi:c;1']);
      expect((await store.list('other')).map((m) => m.id)).toEqual(['dtmi:a;1']);
      store = await fx.reopen();
      expect((await store.list('ws'))[0]).toEqual(model('dtmi:a;1', 1));
    });

    it('inserts all or nothing', async () => {
      await store.insert([model('dtmi:a;1', 1)]);
      await expect(store.insert([model('dtmi:b;1', 2), model('dtmi:a;1', 3)])).rejects.toMatchObject({
        code: 'StorageError',
      });
      expect((await store.list('ws')).map((m) => m.id)).toEqual(['dtmi:a;1']);
    });

    it('sets the decommissioned flag and deletes, reporting absent models', async () => {
      await store.insert([model('dtmi:a;1', 1), model('dtmi:b;1', 2)]);
      expect(await store.setDecommissioned('ws', 'dtmi:a;1', true)).toBe(true);
      expect(await store.setDecommissioned('ws', 'dtmi:zz;1', true)).toBe(false);
      expect(await store.delete('ws', 'dtmi:b;1')).toBe(true);
      expect(await store.delete('ws', 'dtmi:b;1')).toBe(false);
      store = await fx.reopen();
      expect(await store.list('ws')).toEqual([{ ...model('dtmi:a;1', 1), decommissioned: true }]);
      expect(await store.setDecommissioned('ws', 'dtmi:a;1', false)).toBe(true);
      expect((await store.list('ws'))[0]!.decommissioned).toBe(false);
    });

    it('keeps hostile ids and definitions as data', async () => {
      const id = "dtmi:x;1'; DROP TABLE models; --";
      const definition = `{"__proto__":{"polluted":true},"@id":${JSON.stringify(id)},"s":"ü\u2028😀"}`;
      await store.insert([{ ...model(id, 1), definition }]);
      store = await fx.reopen();
      expect(await store.list('ws')).toEqual([{ ...model(id, 1), definition }]);
      expect(await store.delete('ws', id)).toBe(true);
    });
  });
}
