// The RuleStore contract on PostgreSQL, and what only PostgreSQL can get wrong (NUL bytes).
import { describe, expect, it } from 'vitest';
import { describeRuleStoreContract } from '../../core/ports/rule-store.contract.js';
import { SCENE_TABLES } from '../../core/ports/rule-store.js';
import { PG_RULE_MIGRATIONS, PG_SCENE_MIGRATIONS, PgRuleStore } from './pg-rule-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

const open = () => pgStoreFixture([PG_RULE_MIGRATIONS], (db) => new PgRuleStore(db));

describeRuleStoreContract('postgres', async () => {
  const fx = await open();
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});

// Scene bindings (docs/scenes.md): the same adapter over their own tables.
describeRuleStoreContract('postgres, scene tables', async () => {
  const fx = await pgStoreFixture([PG_SCENE_MIGRATIONS], (db) => new PgRuleStore(db, SCENE_TABLES));
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});

describe('PgRuleStore', () => {
  it('refuses a NUL in an id or a definition with BadRequest, storing nothing', async () => {
    const fx = await open();
    try {
      await expect(fx.store.put('ws', 'a\u0000', { id: 'a' })).rejects.toMatchObject({ code: 'BadRequest' });
      await expect(fx.store.put('ws', 'a', { message: 'x\u0000' })).rejects.toMatchObject({
        code: 'BadRequest',
      });
      expect(await fx.store.list('ws')).toEqual([]);
      expect(await fx.store.get('ws', 'a\u0000')).toBeUndefined();
      expect(await fx.store.delete('ws', 'a\u0000')).toBe(false);
    } finally {
      await fx.cleanup();
    }
  });
});
