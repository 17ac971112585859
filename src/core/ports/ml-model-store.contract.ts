/**
 * The contract every MlModelStore adapter passes: call describeMlModelStoreContract from the
 * adapter's test file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MlModelRecord, MlModelStore, NewMlModel } from './ml-model-store.js';

export interface MlModelStoreFixture {
  store: MlModelStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<MlModelStore>;
  cleanup(): Promise<void>;
}

const PUMP = 'dtmi:x:Pump;1';
const FAN = 'dtmi:x:Fan;1';

const spec = (window = 30) => ({
  sensors: ['s2', 's3'],
  settings: ['setting1'],
  window,
  cap: 125,
  regimes: 'auto',
  validationFraction: 0.2,
  seed: 1,
});

const metrics = (rmse = 14.2) => ({
  validationRmse: rmse,
  validationScore: 310.5,
  validationMethod: '5 random cut points per held-out asset',
  trainingAssets: 80,
  validationAssets: 20,
  trainingRows: 16_000,
  notes: ['dropped s1 (constant)'],
  trainingMs: 41_000,
});

function model(over: Partial<NewMlModel> = {}): NewMlModel {
  return {
    workspace: 'ws',
    kind: 'rul',
    target: PUMP,
    createdAt: 1_000,
    features: spec(),
    trainingRange: { from: 0, to: 86_400_000, assets: ['pump-1', 'pump-2'], rows: 20_631 },
    metrics: metrics(),
    codeVersion: '0.1.0+6829d5d',
    artefact: JSON.stringify({ format: 'twinloop-rul/1', spec: spec(), model: { trees: [1, 2, 3] } }),
    note: 'first try',
    ...over,
  };
}

async function rejection(
  p: Promise<unknown>,
): Promise<{ code?: string; message: string; innerCode?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

const at = (t: number, by = 'alice', reason?: string) => ({ at: t, by, ...(reason ? { reason } : {}) });

export function describeMlModelStoreContract(name: string, make: () => Promise<MlModelStoreFixture>): void {
  describe(`MlModelStore contract: ${name}`, () => {
    let fx: MlModelStoreFixture;
    let store: MlModelStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('adds models as candidates, numbering versions per workspace, kind and target', async () => {
      const a = await store.add(model());
      expect(a).toEqual({
        ...model(),
        artefact: undefined,
        id: a.id,
        version: 1,
        status: 'candidate',
        artefactSize: model().artefact.length,
        seq: a.seq,
      } as unknown as MlModelRecord);
      expect('artefact' in a).toBe(false);
      expect(a.id).toMatch(/^rul-[0-9a-f]{12}-v1$/);
      const b = await store.add(model({ createdAt: 2_000, note: undefined }));
      expect(b.version).toBe(2);
      expect(b.id).toBe(a.id.replace(/-v1$/, '-v2'));
      expect('note' in b).toBe(false);
      expect(b.seq).toBeGreaterThan(a.seq);
      const fan = await store.add(model({ target: FAN }));
      expect(fan.version).toBe(1);
      expect(fan.id).not.toBe(a.id);
      const other = await store.add(model({ workspace: 'ws2' }));
      expect(other.version).toBe(1);
      expect(other.id).toBe(a.id); // ids are per workspace
      expect(await store.get('ws', a.id)).toEqual(a);
      expect(await store.get('ws', a.id, { artefact: true })).toEqual({ ...a, artefact: model().artefact });
      expect(await store.get('ws', 'nope')).toBeUndefined();
      expect(await store.get('ws3', a.id)).toBeUndefined();
    });

    it('gives distinct versions to concurrent adds, and never gives a version twice', async () => {
      const added = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.add(model({ target: i % 2 ? FAN : PUMP, createdAt: i }))),
      );
      for (const t of [PUMP, FAN]) {
        const versions = added.filter((m) => m.target === t).map((m) => m.version);
        expect([...versions].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      }
      expect(new Set(added.map((m) => m.id)).size).toBe(40);
      const last = added.filter((m) => m.target === PUMP).find((m) => m.version === 20)!;
      expect(await store.delete('ws', last.id)).toBe(true);
      expect((await store.add(model())).version).toBe(21);
      store = await fx.reopen();
      expect((await store.add(model())).version).toBe(22);
    });

    it('refuses fields of the wrong type and artefacts that are not JSON objects (BadRequest), storing nothing', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bads: unknown[] = [
        null,
        model({ workspace: '' }),
        model({ kind: 'forecast' as 'rul' }),
        model({ target: 42 as unknown as string }),
        model({ createdAt: 1.5 }),
        model({ codeVersion: undefined as unknown as string }),
        model({ artefact: '{"truncated": ' }),
        model({ artefact: '[1, 2]' }),
        model({ artefact: { a: 1 } as unknown as string }),
        model({ features: cyclic }),
        model({ metrics: 10n }),
        model({ trainingRange: { from: 0, to: Number.NaN, assets: 3, rows: 1 } }),
        model({ trainingRange: { from: 0, to: 1, assets: [1 as unknown as string], rows: 1 } }),
        model({ trainingRange: { from: 0, to: 1, assets: 3, rows: -1 } }),
        model({ note: 5 as unknown as string }),
      ];
      for (const b of bads) expect((await rejection(store.add(b as NewMlModel))).code).toBe('BadRequest');
      expect(await store.list({ workspace: 'ws', limit: 10 })).toEqual([]);
      expect((await store.add(model())).version).toBe(1); // no version was taken by a refused add
      const odd = 42 as unknown as string;
      for (const p of [
        store.get(odd, 'x'),
        store.list({ workspace: 'ws', limit: 0 }),
        store.list({ workspace: 'ws', limit: 5, kind: 'x' as 'rul' }),
        store.list({ workspace: 'ws', limit: 5, status: 'gone' as 'active' }),
        store.setActive('ws', odd, at(1)),
        store.setActive('ws', 'x', { at: Number.NaN, by: 'a' }),
        store.rollback('ws', 'nope' as 'rul', PUMP, at(1)),
        store.active('ws', 'rul', odd),
        store.activations({ workspace: 'ws', limit: -1 }),
      ])
        expect((await rejection(p)).code).toBe('BadRequest');
    });

    it('lists newest first without artefacts, filtered by kind, target and status, paged by seq', async () => {
      for (let i = 0; i < 7; i++) await store.add(model({ target: i % 3 === 0 ? FAN : PUMP, createdAt: i }));
      const all = await store.list({ workspace: 'ws', limit: 100 });
      expect(all.map((m) => m.createdAt)).toEqual([6, 5, 4, 3, 2, 1, 0]);
      for (const m of all) expect(m).not.toHaveProperty('artefact');
      const pumps = await store.list({ workspace: 'ws', kind: 'rul', target: PUMP, limit: 2 });
      expect(pumps.map((m) => m.version)).toEqual([4, 3]);
      const more = await store.list({ workspace: 'ws', target: PUMP, limit: 10, beforeSeq: pumps[1]!.seq });
      expect(more.map((m) => m.version)).toEqual([2, 1]);
      await store.setActive('ws', pumps[1]!.id, at(10));
      expect((await store.list({ workspace: 'ws', status: 'active', limit: 5 })).map((m) => m.id)).toEqual([
        pumps[1]!.id,
      ]);
      expect(await store.list({ workspace: 'ws', status: 'retired', limit: 5 })).toEqual([]);
      expect(await store.list({ workspace: 'other', limit: 5 })).toEqual([]);
      expect(await store.list({ workspace: 'ws', target: 'dtmi:x:None;1', limit: 5 })).toEqual([]);
      expect((await store.list({ workspace: 'ws', limit: 5000 })).length).toBe(7);
    });

    it('promotes atomically (the previous active one retired), logs who, when, from which version and why', async () => {
      const [v1, v2, v3] = [await store.add(model()), await store.add(model()), await store.add(model())];
      const first = await store.setActive('ws', v1!.id, at(100, 'alice', 'best RMSE'));
      expect(first.changed).toBe(true);
      expect(first.previous).toBeUndefined();
      expect(first.model).toMatchObject({ id: v1!.id, status: 'active', activatedAt: 100 });
      expect(first.activation).toMatchObject({
        action: 'promote',
        modelId: v1!.id,
        version: 1,
        by: 'alice',
        reason: 'best RMSE',
        at: 100,
      });
      expect(first.activation).not.toHaveProperty('fromId');
      const second = await store.setActive('ws', v2!.id, at(200, 'bob'));
      expect(second.previous).toMatchObject({ id: v1!.id, status: 'retired', activatedAt: 100 });
      expect(second.model).toMatchObject({ id: v2!.id, status: 'active', activatedAt: 200 });
      expect(second.activation).toMatchObject({ fromId: v1!.id, fromVersion: 1, by: 'bob' });
      expect(second.activation).not.toHaveProperty('reason');
      const again = await store.setActive('ws', v2!.id, at(250));
      expect(again.changed).toBe(false);
      expect(again.activation).toBeUndefined();
      expect(again.model.activatedAt).toBe(200);
      expect((await store.get('ws', v1!.id))!.status).toBe('retired');
      expect((await store.get('ws', v3!.id))!.status).toBe('candidate');
      const active = await store.active('ws', 'rul', PUMP);
      expect(active).toMatchObject({ id: v2!.id, status: 'active', artefact: model().artefact });
      expect(await store.active('ws', 'rul', FAN)).toBeUndefined();
      expect(await store.active('ws2', 'rul', PUMP)).toBeUndefined();
      const log = await store.activations({ workspace: 'ws', kind: 'rul', target: PUMP, limit: 10 });
      expect(log.map((a) => [a.action, a.version, a.fromVersion])).toEqual([
        ['promote', 2, 1],
        ['promote', 1, undefined],
      ]);
      expect((await rejection(store.setActive('ws', 'missing', at(1)))).code).toBe('NotFound');
      // A retired model can be made active again.
      const back = await store.setActive('ws', v1!.id, at(300));
      expect(back.model).toMatchObject({ status: 'active', activatedAt: 300 });
      expect(back.previous).toMatchObject({ id: v2!.id, status: 'retired' });
    });

    it('rolls back like a stack of activations, skipping deleted models, and says when there is nothing to go back to', async () => {
      const v = [
        await store.add(model()),
        await store.add(model()),
        await store.add(model()),
        await store.add(model()),
      ];
      const id = (i: number) => v[i - 1]!.id;
      const none = await rejection(store.rollback('ws', 'rul', PUMP, at(1)));
      expect(none.code).toBe('Conflict');
      expect(none.message).toMatch(/no model of it is active/);
      await store.setActive('ws', id(1), at(10));
      expect((await rejection(store.rollback('ws', 'rul', PUMP, at(11)))).code).toBe('Conflict');
      await store.setActive('ws', id(2), at(20));
      await store.setActive('ws', id(3), at(30));
      const r1 = await store.rollback('ws', 'rul', PUMP, at(40, 'carol', 'v3 drifts'));
      expect(r1.model).toMatchObject({ id: id(2), status: 'active', activatedAt: 40 });
      expect(r1.previous).toMatchObject({ id: id(3), status: 'retired' });
      expect(r1.activation).toMatchObject({
        action: 'rollback',
        modelId: id(2),
        fromId: id(3),
        fromVersion: 3,
        by: 'carol',
        reason: 'v3 drifts',
      });
      const r2 = await store.rollback('ws', 'rul', PUMP, at(50));
      expect(r2.model.id).toBe(id(1));
      const end = await rejection(store.rollback('ws', 'rul', PUMP, at(60)));
      expect(end.code).toBe('Conflict');
      expect(end.message).toMatch(/no model was active before/);
      expect((await store.active('ws', 'rul', PUMP))!.id).toBe(id(1));
      // promote 4 then roll back: back to 1; a deleted model is skipped on the way back.
      await store.setActive('ws', id(4), at(70));
      expect((await store.rollback('ws', 'rul', PUMP, at(80))).model.id).toBe(id(1));
      await store.setActive('ws', id(2), at(90));
      await store.setActive('ws', id(3), at(100));
      expect(await store.delete('ws', id(2))).toBe(true);
      expect((await store.rollback('ws', 'rul', PUMP, at(110))).model.id).toBe(id(1));
      const statuses = (await store.list({ workspace: 'ws', limit: 10 })).map((m) => [m.version, m.status]);
      expect(statuses).toEqual([
        [4, 'retired'],
        [3, 'retired'],
        [1, 'active'],
      ]);
      const log = await store.activations({ workspace: 'ws', limit: 100 });
      expect(log.map((a) => `${a.action}:${a.version}`)).toEqual([
        'rollback:1',
        'promote:3',
        'promote:2',
        'rollback:1',
        'promote:4',
        'rollback:1',
        'rollback:2',
        'promote:3',
        'promote:2',
        'promote:1',
      ]);
      expect(
        (await store.activations({ workspace: 'ws', limit: 3, beforeSeq: log[2]!.seq })).map((a) => a.seq),
      ).toEqual(log.slice(3, 6).map((a) => a.seq));
    });

    it('refuses to delete the active model (Conflict), deletes others with their artefacts', async () => {
      const a = await store.add(model());
      const b = await store.add(model());
      await store.setActive('ws', a.id, at(1));
      const e = await rejection(store.delete('ws', a.id));
      expect(e.code).toBe('Conflict');
      expect(e.message).toContain(a.id);
      expect(await store.delete('ws', b.id)).toBe(true);
      expect(await store.delete('ws', b.id)).toBe(false);
      expect(await store.get('ws', b.id, { artefact: true })).toBeUndefined();
      expect(await store.delete('ws', 'never')).toBe(false);
      await store.setActive('ws', (await store.add(model())).id, at(2));
      expect(await store.delete('ws', a.id)).toBe(true); // retired now
    });

    it('lets one of many concurrent promotions of one target win at a time: one active model at the end', async () => {
      const ms = await Promise.all(Array.from({ length: 8 }, () => store.add(model())));
      const results = await Promise.all(ms.map((m, i) => store.setActive('ws', m.id, at(100 + i))));
      expect(results.every((r) => r.changed)).toBe(true);
      const active = (await store.list({ workspace: 'ws', status: 'active', limit: 10 })).map((m) => m.id);
      expect(active).toHaveLength(1);
      expect((await store.active('ws', 'rul', PUMP))!.id).toBe(active[0]);
      expect(await store.list({ workspace: 'ws', status: 'candidate', limit: 10 })).toEqual([]);
      const log = await store.activations({ workspace: 'ws', limit: 100 });
      expect(log).toHaveLength(8);
      expect(log[0]!.modelId).toBe(active[0]);
      // Each activation replaced the one before it in the log.
      for (let i = 0; i < log.length - 1; i++) expect(log[i]!.fromId).toBe(log[i + 1]!.modelId);
    });

    it('round-trips a 5 MB artefact exactly, and keeps it out of lists', async () => {
      const blob = 'ü✓🚀'.repeat(10) + 'x'.repeat(5 * 1024 * 1024);
      const artefact = JSON.stringify({ format: 'twinloop-rul/1', weights: blob, n: [0.1, -2e-308, 1e308] });
      const m = await store.add(model({ artefact }));
      expect(m.artefactSize).toBe(artefact.length);
      store = await fx.reopen();
      const got = await store.get('ws', m.id, { artefact: true });
      expect(got!.artefact!.length).toBe(artefact.length);
      expect(got!.artefact === artefact).toBe(true);
      await store.setActive('ws', m.id, at(5));
      expect((await store.active('ws', 'rul', PUMP))!.artefact === artefact).toBe(true);
      const [listed] = await store.list({ workspace: 'ws', limit: 1 });
      expect(listed).not.toHaveProperty('artefact');
    });

    it('keeps __proto__ and constructor keys in JSON fields as data, polluting nothing', async () => {
      const hostile =
        '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "a": [1]}';
      const m = await store.add(
        model({
          features: JSON.parse(hostile),
          metrics: JSON.parse(hostile),
          artefact: hostile,
          trainingRange: { from: -5, to: 5, assets: ['__proto__', 'constructor'], rows: 0 },
        }),
      );
      store = await fx.reopen();
      const got = (await store.get('ws', m.id, { artefact: true }))!;
      for (const v of [got.features, got.metrics]) {
        const o = v as Record<string, unknown>;
        expect(Object.prototype.hasOwnProperty.call(o, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
        expect((o as { polluted?: unknown }).polluted).toBeUndefined();
        expect(JSON.stringify(o)).toBe(JSON.stringify(JSON.parse(hostile)));
      }
      expect(got.artefact).toBe(hostile);
      expect(got.trainingRange).toEqual({ from: -5, to: 5, assets: ['__proto__', 'constructor'], rows: 0 });
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    });

    it('keeps everything across a reopen', async () => {
      const a = await store.add(
        model({ note: 'ünïcödé "q" \u2028 🚀', trainingRange: { from: 1, to: 2, assets: 7, rows: 9 } }),
      );
      const b = await store.add(model());
      await store.setActive('ws', a.id, at(10, 'x', 'why'));
      await store.setActive('ws', b.id, at(20));
      const before = await store.list({ workspace: 'ws', limit: 10 });
      const log = await store.activations({ workspace: 'ws', limit: 10 });
      store = await fx.reopen();
      expect(await store.list({ workspace: 'ws', limit: 10 })).toEqual(before);
      expect(await store.activations({ workspace: 'ws', limit: 10 })).toEqual(log);
      expect((await store.rollback('ws', 'rul', PUMP, at(30))).model.id).toBe(a.id);
    });

    it('imports models and log lines exactly as given (migrate-store), refusing ids already stored', async () => {
      const a = await store.add(model());
      const b = await store.add(model());
      await store.setActive('ws', a.id, at(10));
      await store.setActive('ws', b.id, at(20));
      const models = await Promise.all(
        (await store.list({ workspace: 'ws', limit: 10 }))
          .reverse()
          .map(async (m) => (await store.get('ws', m.id, { artefact: true }))!),
      );
      const log = (await store.activations({ workspace: 'ws', limit: 10 })).reverse();
      const dst = await make();
      try {
        await dst.store.importModels(models as (MlModelRecord & { artefact: string })[]);
        await dst.store.importActivations(log);
        const strip = (xs: MlModelRecord[]) => xs.map(({ seq: _s, ...m }) => m);
        expect(strip(await dst.store.list({ workspace: 'ws', limit: 10 }))).toEqual(
          strip(await store.list({ workspace: 'ws', limit: 10 })),
        );
        const stripLog = (xs: { seq: number }[]) => xs.map(({ seq: _s, ...x }) => x);
        expect(stripLog(await dst.store.activations({ workspace: 'ws', limit: 10 }))).toEqual(
          stripLog(await store.activations({ workspace: 'ws', limit: 10 })),
        );
        expect((await dst.store.active('ws', 'rul', PUMP))!.artefact).toBe(model().artefact);
        expect((await dst.store.add(model())).version).toBe(3);
        expect((await dst.store.rollback('ws', 'rul', PUMP, at(30))).model.id).toBe(a.id);
        const dup = await rejection(
          dst.store.importModels([models[0] as MlModelRecord & { artefact: string }]),
        );
        expect(dup.code).toBe('Conflict');
        expect(
          (await rejection(dst.store.importModels([{ ...models[0]!, status: 'gone' } as never]))).code,
        ).toBe('BadRequest');
      } finally {
        await dst.cleanup();
      }
    });

    it('keeps a NUL in a text field, or refuses it with BadRequest', async () => {
      try {
        const m = await store.add(model({ target: 'dtmi:x:P\u0000;1', note: 'a\u0000b' }));
        expect((await store.get('ws', m.id))!.note).toBe('a\u0000b');
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BadRequest');
        expect((e as Error).message).toMatch(/NUL/);
        expect(await store.list({ workspace: 'ws', limit: 5 })).toEqual([]);
        expect(await store.get('ws\u0000', 'x')).toBeUndefined();
        expect(await store.active('ws', 'rul', 'dtmi:x:P\u0000;1')).toBeUndefined();
      }
      // JSON fields keep NULs (escaped in their text)
      const j = await store.add(model({ features: { 'k\u0000': 'v\u0000' } }));
      expect((await store.get('ws', j.id))!.features).toEqual({ 'k\u0000': 'v\u0000' });
      const id = 'ünï "code" \' ; DROP TABLE ml_models; --';
      expect(await store.get('ws', id)).toBeUndefined();
      expect(await store.delete('ws', id)).toBe(false);
    });
  });
}
