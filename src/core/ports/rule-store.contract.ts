/**
 * The contract every RuleStore adapter passes: call describeRuleStoreContract from the adapter's test
 * file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RuleStore } from './rule-store.js';

export interface RuleStoreFixture {
  store: RuleStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<RuleStore>;
  cleanup(): Promise<void>;
}

const def = (limit: string | number, extra: Record<string, unknown> = {}) => ({
  id: 'vib',
  appliesTo: { model: 'dtmi:x:Pump;1' },
  severity: 'major',
  condition: { threshold: { telemetry: 'vibration', above: limit } },
  message: 'vibration {value}',
  ...extra,
});

export function describeRuleStoreContract(name: string, open: () => Promise<RuleStoreFixture>): void {
  describe(`RuleStore contract (${name})`, () => {
    let fx: RuleStoreFixture;
    beforeEach(async () => {
      fx = await open();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('numbers versions: a changed definition is a new version, the same one is not', async () => {
      const s = fx.store;
      const a = await s.put('ws', 'vib', def('$vibrationLimit'), 1000);
      expect(a.outcome).toBe('created');
      expect(a.rule).toEqual({
        workspace: 'ws',
        id: 'vib',
        version: 1,
        definition: def('$vibrationLimit'),
        createdAt: 1000,
      });
      // Same definition with keys in another order: unchanged.
      const same = JSON.parse(
        JSON.stringify(Object.fromEntries(Object.entries(def('$vibrationLimit')).reverse())),
      ) as Record<string, unknown>;
      expect((await s.put('ws', 'vib', same, 2000)).outcome).toBe('unchanged');
      const b = await s.put('ws', 'vib', def(7.1), 3000);
      expect(b).toMatchObject({ outcome: 'updated', rule: { version: 2, createdAt: 3000 } });
      expect((await s.get('ws', 'vib'))?.version).toBe(2);
      expect((await s.get('ws', 'vib', 1))?.definition).toEqual(def('$vibrationLimit'));
      expect(await s.get('ws', 'vib', 3)).toBeUndefined();
      expect((await s.versions('ws', 'vib')).map((v) => v.version)).toEqual([1, 2]);
      // Going back to an earlier definition is a new version too.
      expect((await s.put('ws', 'vib', def('$vibrationLimit'), 4000)).rule.version).toBe(3);
    });

    it('lists the latest of each rule, per workspace, by id', async () => {
      const s = fx.store;
      await s.put('ws', 'b', def(1, { id: 'b' }), 1);
      await s.put('ws', 'a', def(1, { id: 'a' }), 1);
      await s.put('ws', 'a', def(2, { id: 'a' }), 2);
      await s.put('other', 'c', def(1, { id: 'c' }), 1);
      expect((await s.list('ws')).map((r) => `${r.id}@${r.version}`)).toEqual(['a@2', 'b@1']);
      expect((await s.list('other')).map((r) => r.id)).toEqual(['c']);
      expect(await s.list('none')).toEqual([]);
    });

    it('delete hides the rule and keeps its versions; a later put continues the numbering', async () => {
      const s = fx.store;
      await s.put('ws', 'vib', def(1), 1);
      await s.put('ws', 'vib', def(2), 2);
      expect(await s.delete('ws', 'vib', 3)).toBe(true);
      expect(await s.delete('ws', 'vib', 4)).toBe(false);
      expect(await s.delete('ws', 'never', 4)).toBe(false);
      expect(await s.get('ws', 'vib')).toBeUndefined();
      expect(await s.list('ws')).toEqual([]);
      expect((await s.get('ws', 'vib', 2))?.definition).toEqual(def(2));
      const again = await s.put('ws', 'vib', def(2), 5);
      expect(again).toMatchObject({ outcome: 'created', rule: { version: 2 } });
      expect((await s.put('ws', 'vib', def(3), 6)).rule.version).toBe(3);
    });

    it('keeps everything across a reopen, definitions exactly', async () => {
      const tricky = def(0.1 + 0.2, {
        description: 'ünïcödé \u2028 "quoted" \\ 🚀',
        appliesTo: { twins: ['a', 'b'] },
      });
      await fx.store.put('ws', 'vib', tricky, 7);
      await fx.store.put('ws', 'x', def(1, { id: 'x' }), 8);
      await fx.store.delete('ws', 'x', 9);
      const s = await fx.reopen();
      expect(await s.get('ws', 'vib')).toEqual({
        workspace: 'ws',
        id: 'vib',
        version: 1,
        definition: tricky,
        createdAt: 7,
      });
      expect(await s.get('ws', 'x')).toBeUndefined();
      expect((await s.versions('ws', 'x')).length).toBe(1);
    });

    it('concurrent puts of different definitions get distinct versions', async () => {
      const s = fx.store;
      const results = await Promise.all([1, 2, 3, 4, 5].map((n) => s.put('ws', 'vib', def(n), n)));
      expect(results.map((r) => r.rule.version).sort()).toEqual([1, 2, 3, 4, 5]);
      expect((await s.versions('ws', 'vib')).length).toBe(5);
    });
  });
}
