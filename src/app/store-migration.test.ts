import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../adapters/sqlite/sqlite-test-fixture.js';
import { countStore, nonEmptyKinds } from './store-counts.js';
import { migrateStore, type MigrationProgress } from './store-migration.js';
import { EVIL_ID, seedStore } from './store-migration-test-fixture.js';

// SQLite to SQLite: the orchestration sees only the Storage ports, so this proves the copy without a server.
describe('migrateStore (SQLite → SQLite)', () => {
  const fixtures: ReturnType<typeof tempStorage>[] = [];
  const open = () => {
    const fx = tempStorage();
    fixtures.push(fx);
    return fx;
  };
  afterEach(async () => {
    for (const fx of fixtures.splice(0)) await fx.cleanup();
  });

  it('copies every kind, keeps old tokens working, and the counts match', async () => {
    const src = open();
    const dst = open();
    const seeded = await seedStore(src.storage, 2500);
    const progress: MigrationProgress[] = [];
    const report = await migrateStore(src.storage, dst.storage, {
      historyBatch: 1000,
      chunk: 2,
      onProgress: (p) => progress.push(p),
    });
    expect(report.ok).toBe(true);
    const counts = Object.fromEntries(report.rows.map((r) => [r.kind, [r.source, r.target]]));
    expect(counts).toEqual({
      models: [2, 2],
      twins: [3, 3],
      relationships: [2, 2],
      behaviourParameters: [1, 1],
      calibrations: [2, 2],
      deviceCredentials: [1, 1],
      jobs: [2, 2],
      eventEndpoints: [1, 1],
      eventRoutes: [1, 1],
      routeDeadLetters: [1, 1],
      outboxPending: [3, 3],
      deadLetters: [2, 2],
      commands: [4, 4],
      mlModels: [2, 2],
      mlActivations: [3, 3],
      historySeries: [3, 3],
      historyPoints: [5003, 5003],
    });
    // Progress: history in batches, ending at the total.
    const hist = progress.filter((p) => p.kind === 'historyPoints');
    expect(hist.length).toBeGreaterThan(3);
    expect(hist[hist.length - 1]).toEqual({ kind: 'historyPoints', done: 5003, total: 5003 });

    const d = dst.storage;
    // The device keeps its token.
    expect((await d.credentials.verify(seeded.token))?.twinId).toBe(EVIL_ID);
    // Twins as they were: etag, hostile id and keys, model flags.
    const twins = new Map<string, Record<string, unknown>>();
    for await (const t of d.twins.loadTwins('default'))
      twins.set(t.id, t as unknown as Record<string, unknown>);
    const evil = twins.get(EVIL_ID) as { etag: string; contents: Record<string, unknown> };
    expect(evil.etag).toBe(`W/"${EVIL_ID.length}"`);
    expect(Object.keys(evil.contents)).toEqual(['__proto__', 'constructor', 'name']);
    expect(Object.getOwnPropertyDescriptor(evil.contents, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await d.models.list('default')).map((m) => [m.id, m.decommissioned])).toEqual([
      ['dtmi:x:Base;1', false],
      ['dtmi:x:Pump;1', true],
    ]);
    // History: same points in the same order (the two at one time included).
    const read = async (s: typeof d) =>
      (
        await s.history.queryRaw({
          workspace: 'default',
          twinId: EVIL_ID,
          path: 'flow',
          from: 0,
          to: 2e12,
          limit: 10_000,
        })
      ).points;
    expect(await read(d)).toEqual(await read(src.storage));
    // Dead letters oldest first with their bytes; route dead letter with its attempts and reason.
    const letters = await d.deadLetters.list({ workspace: 'default', limit: 10 });
    expect(letters.map((l) => [l.time, l.source, [...l.payload]])).toEqual([
      [1_700_000_000_001, 'http', [...Buffer.from('{"__proto__":1}')]],
      [1_700_000_000_000, 'mqtt', [0, 1, 2, 255]],
    ]);
    const [rdl] = await d.outbox.listDeadLetters({ limit: 5 });
    expect(rdl).toMatchObject({
      endpoint: 'hook',
      orderKey: EVIL_ID,
      attempts: 7,
      reason: 'HTTP 500',
      deadAt: 1_700_000_000_099,
    });
    expect((await d.outbox.pending(0, 10)).map((x) => x.event.id)).toEqual(['e1', 'e2', 'e3']);
    expect((await d.eventRoutes.listEndpoints())[0]?.secret).toBe('Bearer s3cret');
    expect((await d.behaviour.get('default', 'pump-1'))?.calibrationId).toBe('c2');
    // Commands in their order, each step at its time, status, response and reason as they were.
    const commands = async (s: typeof d) =>
      (await s.commands.list({ workspace: 'default', limit: 10 })).map(({ seq: _seq, ...c }) => c);
    const copied = await commands(d);
    expect(copied.map((c) => [c.requestId, c.state])).toEqual([
      ['cmd-3', 'sent'],
      ['cmd-2', 'succeeded'],
      ['cmd-1', 'acknowledged'],
      ['cmd-0', 'expired'],
    ]);
    expect(copied).toEqual(await commands(src.storage));
    const response = copied[1]!.response as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(response, '__proto__')?.value).toEqual({ polluted: true });
    expect(copied[3]!.reason).toMatch(/expired while queued/i);
    expect((await d.commands.pending('default', 'pump-1')).map((c) => c.requestId)).toEqual(['cmd-1']);
    // ML models with their ids, versions, status, times and artefacts; the activation log as it was.
    const ml = async (s: typeof d) => {
      const models = await s.mlModels.list({ workspace: 'default', limit: 10 });
      return Promise.all(
        models.map(async ({ seq: _seq, ...m }) => ({
          ...m,
          artefact: (await s.mlModels.get('default', m.id, { artefact: true }))!.artefact,
        })),
      );
    };
    const models = await ml(d);
    expect(models).toEqual(await ml(src.storage));
    expect(models.map((m) => [m.version, m.status])).toEqual([
      [2, 'retired'],
      [1, 'active'],
    ]);
    expect(Object.getOwnPropertyDescriptor(models[0]!.features, '__proto__')?.value).toEqual({
      polluted: true,
    });
    const log = async (s: typeof d) =>
      (await s.mlModels.activations({ workspace: 'default', limit: 10 })).map(({ seq: _seq, ...a }) => a);
    expect(await log(d)).toEqual(await log(src.storage));
    expect((await d.mlModels.active('default', 'rul', 'dtmi:x:Pump;1'))!.id).toBe(models[1]!.id);
    expect((await d.mlModels.add({ ...models[1]!, artefact: '{}' })).version).toBe(3); // versions go on
  });

  it('refuses a target that holds data, writing nothing', async () => {
    const src = open();
    const dst = open();
    await seedStore(src.storage, 10);
    await dst.storage.models.insert([
      { workspace: 'default', id: 'dtmi:x:Other;1', definition: '{}', uploadTime: 1, decommissioned: false },
    ]);
    expect(await nonEmptyKinds(dst.storage)).toEqual(['models']);
    await expect(migrateStore(src.storage, dst.storage)).rejects.toMatchObject({
      code: 'Conflict',
      message: expect.stringMatching(/not empty \(it holds models\).*\?schema=/),
    });
    const c = await countStore(dst.storage);
    expect(c.twins + c.historyPoints + c.deviceCredentials).toBe(0);
  });

  it('reports a count that differs (a point lost on the way is caught)', async () => {
    const src = open();
    const dst = open();
    await seedStore(src.storage, 50);
    // A target that drops the first point of its first append: the check must say so.
    let appends = 0;
    const target = {
      ...dst.storage,
      history: {
        ...dst.storage.history,
        append: (points: Parameters<typeof dst.storage.history.append>[0]) =>
          dst.storage.history.append(appends++ ? points : points.slice(1)),
        queryAggregate: dst.storage.history.queryAggregate.bind(dst.storage.history),
        listSeries: dst.storage.history.listSeries.bind(dst.storage.history),
      },
    } as typeof dst.storage;
    const report = await migrateStore(src.storage, target, { historyBatch: 20 });
    expect(report.ok).toBe(false);
    const bad = report.rows.filter((r) => !r.equal);
    expect(bad).toEqual([{ kind: 'historyPoints', source: 103, target: 102, equal: false }]);
  });

  it('streams history: pages no larger than a batch, appends under two batches, one in flight', async () => {
    const src = open();
    const dst = open();
    await seedStore(src.storage, 3000);
    const h = dst.storage.history;
    let inFlight = 0;
    let maxInFlight = 0;
    const sizes: number[] = [];
    const limits: number[] = [];
    const target = {
      ...dst.storage,
      history: {
        append: async (points: Parameters<typeof h.append>[0]) => {
          sizes.push(points.length);
          maxInFlight = Math.max(maxInFlight, ++inFlight);
          await new Promise((r) => setTimeout(r, 5));
          try {
            await h.append(points);
          } finally {
            inFlight--;
          }
        },
        queryAggregate: h.queryAggregate.bind(h),
        listSeries: h.listSeries.bind(h),
      },
    } as typeof dst.storage;
    const s = src.storage.history;
    const source = {
      ...src.storage,
      history: {
        queryRaw: (q: Parameters<typeof s.queryRaw>[0]) => {
          limits.push(q.limit);
          return s.queryRaw(q);
        },
        queryAggregate: s.queryAggregate.bind(s),
        listSeries: s.listSeries.bind(s),
      },
    } as typeof src.storage;
    const report = await migrateStore(source, target, { historyBatch: 700 });
    expect(report.ok).toBe(true);
    expect(Math.max(...limits)).toBe(700);
    expect(Math.max(...sizes)).toBeLessThan(1400);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(6003);
    expect(maxInFlight).toBe(1);
  });
});
