import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../../../test/support/collect.js';
import {
  ALL_MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { caught } from '../../../test/support/caught.js';

describe('RelationshipService', () => {
  let w: TestWorkspace;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add(ALL_MODELS);
    const room = (id: string) =>
      w.twins.createOrReplace(id, {
        $metadata: { $model: 'dtmi:test:Room;1' },
        thermostat: { $metadata: {} },
      });
    await room('r1');
    await room('r2');
    for (const s of ['s1', 's2', 's3'])
      await w.twins.createOrReplace(s, { $metadata: { $model: 'dtmi:test:Sensor;1' } });
  });
  afterEach(async () => w.close());

  it('creates, lists (outgoing by name, incoming), patches and deletes relationships', async () => {
    const rel = await w.twins.relationships.createOrReplace('r1', 'c1', {
      $targetId: 's1',
      $relationshipName: 'contains',
      since: '2020',
    });
    expect(rel).toMatchObject({
      id: 'c1',
      sourceId: 'r1',
      targetId: 's1',
      name: 'contains',
      properties: { since: '2020' },
    });
    // inherited relationship, no target constraint
    await w.twins.relationships.createOrReplace('r1', 'a1', {
      $targetId: 'r2',
      $relationshipName: 'adjacentTo',
    });
    expect(
      w.twins.relationships
        .listOutgoing('r1')
        .map((r) => r.id)
        .sort(),
    ).toEqual(['a1', 'c1']);
    expect(w.twins.relationships.listOutgoing('r1', 'contains').map((r) => r.id)).toEqual(['c1']);
    expect(w.twins.relationships.listIncoming('s1').map((r) => r.sourceId)).toEqual(['r1']);
    const patched = await w.twins.relationships.update(
      'r1',
      'c1',
      [{ op: 'replace', path: '/since', value: '2021' }],
      { ifMatch: rel.etag },
    );
    expect(patched.properties).toEqual({ since: '2021' });
    expect(
      (
        await caught(
          w.twins.relationships.update('r1', 'c1', [{ op: 'replace', path: '/since', value: 'x' }], {
            ifMatch: rel.etag,
          }),
        )
      ).status,
    ).toBe(412);
    expect(await collect(w.storage.twins.loadRelationships('default'))).toBeDefined();
    await w.twins.relationships.delete('r1', 'c1', { ifMatch: patched.etag });
    expect(w.graph.getRelationship('r1', 'c1')).toBeUndefined();
    expect(w.events.filter((e) => e.type.startsWith('relationship')).map((e) => e.type)).toEqual([
      'relationshipCreated',
      'relationshipCreated',
      'relationshipUpdated',
      'relationshipDeleted',
    ]);
  });

  it('checks the name, the target model, the target twin and the properties, reporting all at once', async () => {
    const e = await caught(
      w.twins.relationships.createOrReplace('r1', 'x', {
        $targetId: 'r2',
        $relationshipName: 'contains',
        since: 5,
        colour: 'red',
      }),
    );
    expect(e.code).toBe('InvalidRelationship');
    expect(e.problems.map((p) => `${p.pointer} ${p.code}`).sort()).toEqual([
      '/$targetId relationship.target.model',
      '/colour relationship.property.unknown',
      '/since value.type',
    ]);
  });

  it('a missing target twin is 404 TargetTwinNotFound; a relationship to itself is OperationNotAllowed', async () => {
    const e = await caught(
      w.twins.relationships.createOrReplace('s1', 'x', { $targetId: 'ghost', $relationshipName: 'contains' }),
    );
    expect(e.code).toBe('TargetTwinNotFound');
    expect(e.status).toBe(404);
    expect(e.problems.map((p) => `${p.pointer} ${p.code}`)).toEqual([
      '/$targetId relationship.target.notFound',
    ]);
    const self = await caught(
      w.twins.relationships.createOrReplace('r1', 'x', { $targetId: 'r1', $relationshipName: 'contains' }),
    );
    expect([self.code, self.status]).toEqual(['OperationNotAllowed', 400]);
    expect(w.graph.getRelationship('s1', 'x')).toBeUndefined();
    expect(w.graph.getRelationship('r1', 'x')).toBeUndefined();
  });

  it('reports an undeclared name', async () => {
    const e = await caught(
      w.twins.relationships.createOrReplace('s1', 'x', { $targetId: 'r1', $relationshipName: 'contains' }),
    );
    expect(e.problems.map((p) => p.code)).toEqual(['relationship.name.unknown']);
  });

  it('enforces maxMultiplicity (2 contains per room) but allows replacing an existing one', async () => {
    await w.twins.relationships.createOrReplace('r1', 'c1', {
      $targetId: 's1',
      $relationshipName: 'contains',
    });
    await w.twins.relationships.createOrReplace('r1', 'c2', {
      $targetId: 's2',
      $relationshipName: 'contains',
    });
    const e = await caught(
      w.twins.relationships.createOrReplace('r1', 'c3', { $targetId: 's3', $relationshipName: 'contains' }),
    );
    expect(e.problems[0]?.code).toBe('relationship.maxMultiplicity');
    await w.twins.relationships.createOrReplace('r1', 'c2', {
      $targetId: 's3',
      $relationshipName: 'contains',
    });
    expect(w.graph.getRelationship('r1', 'c2')?.targetId).toBe('s3');
    expect(
      (
        await caught(
          w.twins.relationships.createOrReplace(
            'r1',
            'c2',
            { $targetId: 's3', $relationshipName: 'contains' },
            { ifNoneMatch: '*' },
          ),
        )
      ).status,
    ).toBe(412);
  });
});
