// The ML model registry over the real SQLite store: checks (every problem at its pointer), compare,
// promote and rollback with their change events, and hostile input.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import type { RulArtefact, RulMetrics, RulTrainingSpec } from '../rul/rul-types.js';
import { jsonDifferences } from './ml-model-checks.js';
import { MlModelRegistry, type MlModelChange, type MlModelInput } from './ml-model-registry.js';

const PUMP = 'dtmi:x:Pump;1';
const spec = (over: Partial<RulTrainingSpec> = {}): RulTrainingSpec => ({
  sensors: ['s2', 's3', 's4'],
  settings: ['setting1'],
  window: 30,
  cap: 125,
  regimes: 'auto',
  validationFraction: 0.2,
  seed: 1,
  ...over,
});
const metrics = (over: Partial<RulMetrics> = {}): RulMetrics => ({
  validationRmse: 14,
  validationScore: 320,
  validationMethod: '5 random cut points per held-out asset',
  trainingAssets: 80,
  validationAssets: 20,
  trainingRows: 16_500,
  notes: ['dropped s1 (constant)'],
  trainingMs: 40_000,
  ...over,
});
const input = (s = spec(), m = metrics()): MlModelInput => {
  const artefact: RulArtefact = { format: 'twinloop-rul/1', spec: s, model: { trees: [[1, 2]] } };
  return {
    kind: 'rul',
    target: PUMP,
    features: s,
    metrics: m,
    trainingRange: { from: 0, to: 3_600_000, assets: ['p1', 'p2'], rows: 20_000 },
    artefact,
  };
};

async function caught(
  p: Promise<unknown>,
): Promise<{ code?: string; message: string; problems?: { pointer?: string }[] }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('MlModelRegistry', () => {
  let fx: ReturnType<typeof tempStorage>;
  let registry: MlModelRegistry;
  let changes: MlModelChange[];
  let t: number;
  beforeEach(() => {
    fx = tempStorage();
    t = 1_000;
    registry = new MlModelRegistry({
      workspace: 'default',
      store: fx.storage.mlModels,
      codeVersion: '0.1.0+abc1234',
      now: () => t++,
      maxArtefactChars: 1_000_000,
    });
    changes = [];
    registry.onChange((c) => {
      changes.push(c);
    });
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('stores a checked model with the default code version, from an artefact object or its text', async () => {
    const a = await registry.add(input());
    expect(a).toMatchObject({
      version: 1,
      status: 'candidate',
      codeVersion: '0.1.0+abc1234',
      createdAt: 1000,
    });
    const b = await registry.add({
      ...input(),
      artefact: JSON.stringify(input().artefact),
      codeVersion: 'x',
      note: 'n',
    });
    expect(b).toMatchObject({ version: 2, codeVersion: 'x', note: 'n' });
    expect(JSON.parse((await registry.get(b.id, { artefact: true })).artefact!)).toEqual(input().artefact);
    expect(changes.map((c) => [c.type, c.version])).toEqual([
      ['added', 1],
      ['added', 2],
    ]);
  });

  it('reports every problem of a model at once, each at its JSON pointer, storing nothing', async () => {
    const e = await caught(
      registry.add({
        kind: 'rul',
        target: 'not a dtmi',
        features: {
          ...spec(),
          sensors: ['s1', 's1', ''],
          window: 0,
          regimes: 'many',
          validationFraction: 1,
          seed: 0.5,
        },
        metrics: { ...metrics(), validationRmse: Number.NaN, trainingAssets: -1, notes: [1] },
        trainingRange: { from: 10, to: 5, assets: [3] as unknown as string[], rows: 1.5 },
        artefact: { format: 'other', spec: spec() },
        note: 'x'.repeat(3000),
      }),
    );
    expect(e.code).toBe('ValidationFailed');
    const pointers = (e.problems ?? []).map((p) => p.pointer).sort();
    expect(pointers).toEqual(
      [
        '/artefact/format',
        '/artefact/model',
        '/artefact/spec',
        '/features/regimes',
        '/features/seed',
        '/features/sensors/1',
        '/features/sensors/2',
        '/features/validationFraction',
        '/features/window',
        '/metrics/notes',
        '/metrics/trainingAssets',
        '/metrics/validationRmse',
        '/note',
        '/target',
        '/trainingRange',
        '/trainingRange/assets',
        '/trainingRange/rows',
      ].sort(),
    );
    expect(e.message).toMatch(/#\/features\/window/);
    const partial = await caught(
      registry.add({
        ...input(),
        features: { ...spec(), seed: undefined, window: 0 },
        metrics: { notes: [] },
      }),
    );
    expect((partial.problems ?? []).map((p) => p.pointer)).toEqual(
      expect.arrayContaining([
        '/features/seed',
        '/features/window',
        '/metrics/validationRmse',
        '/metrics/trainingMs',
      ]),
    );
    expect((partial.problems ?? []).filter((p) => p.pointer === '/features/seed')).toHaveLength(1);
    for (const bad of [
      null,
      'text',
      { ...input(), kind: 'forecast' },
      { ...input(), artefact: '[1]' },
      { ...input(), artefact: '{"a":' },
    ]) {
      expect((await caught(registry.add(bad as MlModelInput))).code).toBe('ValidationFailed');
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect((await caught(registry.add({ ...input(), artefact: cyclic }))).code).toBe('ValidationFailed');
    expect((await caught(registry.add({ ...input(), artefact: 'x'.repeat(1_000_001) }))).code).toBe(
      'PayloadTooLarge',
    );
    expect(await registry.list()).toEqual([]);
    expect(changes).toEqual([]);
  });

  it('compares two models: metrics side by side with which is better, spec and range differences', async () => {
    const a = await registry.add(input());
    const b = await registry.add({
      ...input(
        spec({ window: 40, sensors: ['s2', 's3'] }),
        metrics({ validationRmse: 12.5, validationScore: 400, notes: [] }),
      ),
      trainingRange: { from: 0, to: 7_200_000, assets: 100, rows: 20_000 },
      codeVersion: '0.2.0',
    });
    const c = await registry.compare(a.id, b.id);
    expect(c.sameTarget).toBe(true);
    expect(c.a).not.toHaveProperty('artefact');
    const row = (n: string) => c.metrics.find((m) => m.name === n);
    expect(row('validationRmse')).toEqual({
      name: 'validationRmse',
      a: 14,
      b: 12.5,
      difference: -1.5,
      better: 'b',
    });
    expect(row('validationScore')).toMatchObject({ difference: 80, better: 'a' });
    expect(row('trainingMs')).toEqual({ name: 'trainingMs', a: 40_000, b: 40_000, difference: 0 });
    expect(row('notes')).toEqual({ name: 'notes', a: ['dropped s1 (constant)'], b: [] });
    expect(c.features).toEqual([
      { pointer: '/sensors/2', a: 's4' },
      { pointer: '/window', a: 30, b: 40 },
    ]);
    expect(c.trainingRange).toEqual([
      { pointer: '/assets', a: ['p1', 'p2'], b: 100 },
      { pointer: '/to', a: 3_600_000, b: 7_200_000 },
    ]);
    expect(c.codeVersion).toEqual({ a: '0.1.0+abc1234', b: '0.2.0' });
    expect((await caught(registry.compare(a.id, 'nope'))).code).toBe('NotFound');
  });

  it('bounds a comparison of huge or deep differences', () => {
    const wide = (k: number) => Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i + k]));
    const d = jsonDifferences(wide(0), wide(1));
    expect(d.differences).toHaveLength(200);
    expect(d.truncated).toBe(4800);
    let deepA: unknown = 1;
    let deepB: unknown = 2;
    for (let i = 0; i < 10_000; i++) {
      deepA = { a: deepA };
      deepB = { a: deepB };
    }
    const deep = jsonDifferences(deepA, deepB);
    expect(deep.differences).toHaveLength(1);
    expect(deep.differences[0]!.pointer.split('/').length - 1).toBe(32);
    const proto = jsonDifferences(
      JSON.parse('{"__proto__": {"x": 1}}'),
      JSON.parse('{"__proto__": {"x": 2}}'),
    );
    expect(proto.differences).toEqual([{ pointer: '/__proto__/x', a: 1, b: 2 }]);
  });

  it('promotes and rolls back with who and why, telling listeners once per change', async () => {
    const v1 = await registry.add(input());
    const v2 = await registry.add(input());
    changes.length = 0;
    const p1 = await registry.promote(v1.id, { by: 'alice', reason: 'first' });
    expect(p1.model.status).toBe('active');
    await registry.promote(v2.id, { by: ' bob ' });
    expect((await registry.promote(v2.id, { by: 'bob' })).changed).toBe(false);
    const back = await registry.rollback('rul', PUMP, { by: 'carol', reason: 'drift' });
    expect(back.model.id).toBe(v1.id);
    expect((await registry.active('rul', PUMP))!.artefact).toBeDefined();
    expect(changes.map((c) => [c.type, c.action, c.version, c.previousVersion, c.by, c.reason])).toEqual([
      ['activated', 'promote', 1, undefined, 'alice', 'first'],
      ['activated', 'promote', 2, 1, 'bob', undefined],
      ['activated', 'rollback', 1, 2, 'carol', 'drift'],
    ]);
    expect((await registry.activations({ target: PUMP })).map((a) => a.action)).toEqual([
      'rollback',
      'promote',
      'promote',
    ]);
    const nothing = await caught(registry.rollback('rul', PUMP, { by: 'x' }));
    expect(nothing.code).toBe('Conflict');
    const active = await caught(registry.delete(v1.id));
    expect(active.code).toBe('Conflict');
    await registry.delete(v2.id);
    expect(changes.at(-1)).toMatchObject({ type: 'deleted', modelId: v2.id });
    expect((await caught(registry.delete(v2.id))).code).toBe('NotFound');
  });

  it('keeps a change stored when a listener throws or rejects, and reports the listener error', async () => {
    const seen: unknown[] = [];
    const r = new MlModelRegistry({
      workspace: 'default',
      store: fx.storage.mlModels,
      codeVersion: 'x',
      onListenerError: (e) => seen.push(e),
    });
    r.onChange(() => {
      throw new Error('sync boom');
    });
    r.onChange(() => Promise.reject(new Error('async boom')));
    const m = await r.add(input());
    await r.promote(m.id, { by: 'a' });
    await new Promise((res) => setTimeout(res, 10));
    expect(seen.map((e) => (e as Error).message).sort()).toEqual([
      'async boom',
      'async boom',
      'sync boom',
      'sync boom',
    ]);
    expect((await r.active('rul', PUMP))!.id).toBe(m.id);
  });

  it('follows activations made by another node on the same store, not telling its own again', async () => {
    const other = new MlModelRegistry({ workspace: 'default', store: fx.storage.mlModels, codeVersion: 'x' });
    const v1 = await registry.add(input());
    const v2 = await registry.add(input());
    await registry.promote(v1.id, { by: 'here' });
    const stop = registry.follow(5);
    try {
      await new Promise((r) => setTimeout(r, 30));
      changes.length = 0;
      await other.promote(v2.id, { by: 'there' });
      const deadline = Date.now() + 5000;
      while (!changes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(changes).toMatchObject([
        {
          type: 'activated',
          modelId: v2.id,
          version: 2,
          previousId: v1.id,
          previousVersion: 1,
          remote: true,
        },
      ]);
      await registry.rollback('rul', PUMP, { by: 'here' }); // told once, by the rollback itself
      await new Promise((r) => setTimeout(r, 50));
      expect(changes.map((c) => [c.action, c.remote, c.version])).toEqual([
        [undefined, true, 2],
        ['rollback', undefined, 1],
      ]);
    } finally {
      stop();
    }
  });

  it('refuses bad arguments with InvalidArgument', async () => {
    for (const p of [
      registry.get(''),
      registry.get('x'.repeat(300)),
      registry.list({ target: 'nope' }),
      registry.list({ kind: 'x' as 'rul' }),
      registry.list({ limit: 0 }),
      registry.list({ status: 'x' as 'active' }),
      registry.promote('a', { by: 'a\nb' }),
      registry.promote('a', { by: 'a', reason: 'r'.repeat(3000) }),
      registry.rollback('rul', 'dtmi:bad target', { by: 'a' }),
      registry.active('nope' as 'rul', PUMP),
    ])
      expect((await caught(p)).code).toBe('InvalidArgument');
  });
});
