// A history import into PostgreSQL history: every value stored once, a second import of the same
// file (and of its overlapping fix) stores nothing twice, the partly bad row keeps its good values.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../core/models/model-registry.js';
import { runHistoryImport } from '../../core/history-import/history-import-runner.js';
import { parseHistoryMapping } from '../../core/history-import/history-mapping.js';
import { pgTestDatabase } from './pg-test-fixture.js';
import { PG_HISTORY_MIGRATIONS, PgHistoryStore } from './pg-history-store.js';

const ENGINE = {
  '@id': 'dtmi:test:Engine;1',
  '@type': 'Interface',
  '@context': 'dtmi:dtdl:context;3',
  contents: [
    { '@type': 'Telemetry', name: 's1', schema: 'double' },
    { '@type': 'Telemetry', name: 's2', schema: 'double' },
  ],
};
const MAPPING = parseHistoryMapping({
  delimiter: 'whitespace',
  header: false,
  columns: ['unit', 'cycle', 's1', 's2'],
  twin: { template: 'e-{unit}' },
  time: { column: 'cycle', format: 'cycle', origin: '2020-01-01T00:00:00Z', stepSeconds: 60 },
});

describe('history import into PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof pgTestDatabase>>;
  let store: PgHistoryStore;
  const registry = new ModelRegistry();
  registry.add([{ source: 'engine', json: ENGINE }]);
  beforeEach(async () => {
    db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
    store = await PgHistoryStore.open(db, { rollupEveryMs: 0 });
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  const run = (text: string) =>
    runHistoryImport({
      fileName: 'f.txt',
      input: (async function* () {
        yield new TextEncoder().encode(text);
      })(),
      mapping: MAPPING,
      target: {
        workspace: 'default',
        models: registry,
        twinModel: (id) => (/^e-[12]$/.test(id) ? 'dtmi:test:Engine;1' : undefined),
        createTwin: () => Promise.reject(new Error('not here')),
        append: (points) => store.append(points),
      },
      badRows: { header: async () => undefined, write: async () => undefined },
      batchPoints: 3,
      sliceMs: 10,
      maxRowBytes: 4096,
      maxBadRows: 100,
      yieldNow: () => new Promise((r) => setImmediate(r)),
      cancelled: () => false,
      onProgress: () => undefined,
      now: Date.now,
    });
  const series = async (twinId: string, path: string) =>
    (await store.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 4e12, limit: 1000 })).points;

  it('stores each value once, however often the file is imported', async () => {
    const file = '1 1 1.5 2.5\n1 2 1.6 x\n2 1 3.5 4.5\n3 1 9 9\n';
    const first = await run(file);
    expect(first.progress).toMatchObject({ rows: 4, rowsStored: 3, points: 5, badRows: 2 });
    await run(file);
    // The fix of the bad row, imported on its own: only its missing value is added.
    await run('1 2 1.6 2.6\n');
    const t0 = Date.UTC(2020, 0, 1);
    expect(await series('e-1', 's1')).toEqual([
      { ts: t0 + 60_000, value: 1.5 },
      { ts: t0 + 120_000, value: 1.6 },
    ]);
    expect(await series('e-1', 's2')).toEqual([
      { ts: t0 + 60_000, value: 2.5 },
      { ts: t0 + 120_000, value: 2.6 },
    ]);
    expect(await series('e-2', 's2')).toEqual([{ ts: t0 + 60_000, value: 4.5 }]);
    expect(await series('e-3', 's1')).toEqual([]);
  });
});
