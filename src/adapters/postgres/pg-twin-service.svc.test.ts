import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import { ModelRegistry } from '../../core/models/model-registry.js';
import { ModelService } from '../../core/models/model-service.js';
import { TwinService } from '../../core/twins/twin-service.js';
import { ALL_MODELS } from '../../../test/adt-sdk/workspace-fixture.js';
import { collect } from '../../../test/support/collect.js';
import { PG_MODEL_MIGRATIONS, PgModelStore } from './pg-model-store.js';
import { PG_TWIN_MIGRATIONS, PgTwinStore } from './pg-twin-store.js';
import { pgTestDatabase } from './pg-test-fixture.js';

const ROOM = 'dtmi:test:Room;1';
const SENSOR = 'dtmi:test:Sensor;1';

/** The twin and model services over PostgreSQL stores, as a node of a cluster would run them. */
async function node(db: Awaited<ReturnType<typeof pgTestDatabase>>) {
  const registry = new ModelRegistry();
  const models = new ModelService({ workspace: 'default', registry, store: new PgModelStore(db) });
  await models.load();
  const graph = new InMemoryTwinGraph({ hierarchy: registry });
  const store = new PgTwinStore(db);
  for await (const t of store.loadTwins('default')) graph.putTwin(t);
  for await (const r of store.loadRelationships('default')) graph.putRelationship(r);
  return { models, graph, store, twins: new TwinService({ workspace: 'default', models, graph, store }) };
}

describe('twin services on PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('group-commits concurrent writes, reloads the same graph, and refuses a stale node with 412', async () => {
    const db = await pgTestDatabase([PG_MODEL_MIGRATIONS, PG_TWIN_MIGRATIONS]);
    cleanups.push(() => db.drop());
    const a = await node(db);
    await a.models.add(ALL_MODELS);
    const before = a.twins.commits.commits;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        a.twins.createOrReplace(`s${i}`, { $metadata: { $model: SENSOR } }),
      ),
    );
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        a.twins.createOrReplace(`r${i}`, { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } }),
      ),
    );
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        a.twins.relationships.createOrReplace(`r${i}`, 'c', {
          $targetId: `s${i}`,
          $relationshipName: 'contains',
        }),
      ),
    );
    expect(a.twins.commits.commits - before).toBeLessThanOrEqual(6);

    const b = await node(db); // a second node, loaded from the database
    expect(b.graph.twinCount).toBe(300);
    expect(b.graph.relationshipCount).toBe(100);
    expect(b.twins.get('r7').etag).toBe(a.twins.get('r7').etag);

    // b writes; a's graph is stale now and its write is refused, not lost silently
    await b.twins.update('r7', [{ op: 'add', path: '/temperature', value: 21 }]);
    await expect(a.twins.update('r7', [{ op: 'add', path: '/temperature', value: 5 }])).rejects.toMatchObject(
      {
        code: 'PreconditionFailed',
      },
    );
    const stored = (await collect(b.store.loadTwins('default'))).find((t) => t.id === 'r7');
    expect(stored?.contents.temperature).toBe(21);
    // deleting a relationship then the twin works across the stale-free node
    await b.twins.relationships.delete('r7', 'c');
    await b.twins.delete('r7');
    expect((await collect(b.store.loadRelationships('default'))).length).toBe(99);
  });
});
