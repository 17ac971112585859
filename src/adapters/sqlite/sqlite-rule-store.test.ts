import { describe, expect, it } from 'vitest';
import { describeRuleStoreContract } from '../../core/ports/rule-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeRuleStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.rules,
    reopen: async () => (await fx.reopen()).rules,
    cleanup: () => fx.cleanup(),
  };
});

// Scene bindings (docs/scenes.md) are kept by the same adapter in their own tables.
describeRuleStoreContract('sqlite, scene tables', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.scenes,
    reopen: async () => (await fx.reopen()).scenes,
    cleanup: () => fx.cleanup(),
  };
});

describe('SqliteRuleStore tables', () => {
  it('keeps rules and scene bindings apart', async () => {
    const fx = tempStorage();
    try {
      await fx.storage.rules.put('ws', 'a', { kind: 'rule' });
      await fx.storage.scenes.put('ws', 'a', { kind: 'scene' });
      await fx.storage.scenes.put('ws', 'b', { kind: 'scene' });
      expect((await fx.storage.rules.list('ws')).map((r) => r.id)).toEqual(['a']);
      expect((await fx.storage.rules.get('ws', 'a'))?.definition).toEqual({ kind: 'rule' });
      expect((await fx.storage.scenes.get('ws', 'a'))?.definition).toEqual({ kind: 'scene' });
      expect(await fx.storage.scenes.delete('ws', 'a')).toBe(true);
      expect(await fx.storage.rules.get('ws', 'a')).toBeDefined();
    } finally {
      await fx.cleanup();
    }
  });
});
