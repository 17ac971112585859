import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { describeBehaviourParameterStoreContract } from '../../core/ports/behaviour-parameter-store.contract.js';
import { openSqliteDatabase } from './sqlite-database.js';
import { tempDir, tempStorage } from './sqlite-test-fixture.js';
import { openSqliteStorage } from './sqlite-storage.js';
import fs from 'node:fs';

describeBehaviourParameterStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.behaviour,
    reopen: async () => (await fx.reopen()).behaviour,
    cleanup: () => fx.cleanup(),
  };
});

describe('SqliteBehaviourParameterStore extras', () => {
  it('refuses non-finite values instead of storing null', async () => {
    const fx = tempStorage();
    try {
      const base = { workspace: 'ws', twinId: 't', behaviour: 'b', appliedAt: 1 };
      await expect(fx.storage.behaviour.put({ ...base, values: { a: NaN } })).rejects.toMatchObject({
        code: 'BadRequest',
      });
      expect(await fx.storage.behaviour.get('ws', 't')).toBeUndefined();
      await expect(fx.storage.behaviour.listCalibrations('ws', 't', 0)).rejects.toThrow(/limit/);
    } finally {
      await fx.cleanup();
    }
  });

  it('adds its tables to a database created by the previous schema version, keeping its data', async () => {
    const dataDir = tempDir();
    try {
      const old = openSqliteDatabase({ dataDir, synchronous: 'NORMAL', targetVersion: 3 });
      old.db
        .prepare(
          "INSERT INTO models (workspace, id, definition, upload_time) VALUES ('ws', 'dtmi:a;1', '{}', 1)",
        )
        .run();
      old.close();
      const storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
      await storage.behaviour.put({
        workspace: 'ws',
        twinId: 't',
        behaviour: 'b',
        values: { k: 2 },
        appliedAt: 3,
      });
      expect((await storage.models.list('ws')).map((m) => m.id)).toEqual(['dtmi:a;1']);
      await storage.close();
      const raw = new Database(`${dataDir}/twinloop.db`, { readonly: true });
      const tables = raw
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((r) => r.name);
      raw.close();
      expect(tables).toEqual(expect.arrayContaining(['behaviour_parameters', 'calibrations']));
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
