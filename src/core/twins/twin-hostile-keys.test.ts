// Untrusted keys are data: __proto__, constructor and prototype in JSON Patch documents (paths and
// values), twin PUT bodies and relationship bodies are refused with a pointer, and nothing changes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALL_MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { caught } from '../../../test/support/caught.js';

const ROOM = 'dtmi:test:Room;1';
const HOSTILE = ['__proto__', 'constructor', 'prototype'] as const;
const hostileKey = fc.constantFrom(...HOSTILE);
const name = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,6}$/);

/** Parses text the way a device or client sends it: JSON.parse keeps "__proto__" as an own key. */
const wire = (text: string): unknown => JSON.parse(text) as unknown;

/** `{"p0":{"p1":{…{"<key>": leaf}}}}` as text. */
function nested(path: readonly string[], key: string, leaf: unknown): string {
  let inner = `{${JSON.stringify(key)}:${JSON.stringify(leaf)}}`;
  for (let i = path.length - 1; i >= 0; i--) inner = `{${JSON.stringify(path[i])}:${inner}}`;
  return inner;
}

describe('hostile keys in twin writes', () => {
  let w: TestWorkspace;
  let etag: string;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add(ALL_MODELS);
    etag = (
      await w.twins.createOrReplace('r1', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } })
    ).etag;
    w.events.length = 0;
  });
  afterEach(async () => w.close());

  const unchanged = async (): Promise<void> => {
    const t = w.twins.get('r1');
    expect(t.etag).toBe(etag);
    expect(Object.getPrototypeOf(t.contents)).toBe(Object.prototype);
    expect((await w.storage.history.listSeries('default', 'r1')).map((s) => s.path)).toEqual([]);
    expect(w.events).toEqual([]);
  };

  it('refuses a patch that adds /__proto__ (which used to slip a value past the model)', async () => {
    const e = await caught(
      w.twins.update('r1', wire('[{"op":"add","path":"/__proto__","value":{"temperature":"not a number"}}]')),
    );
    expect(e.code).toBe('JsonPatchInvalid');
    expect(e.problems[0]).toMatchObject({ code: 'patch.path.forbidden', pointer: '/0/path' });
    expect((w.twins.get('r1').contents as { temperature?: unknown }).temperature).toBeUndefined();
    await unchanged();
  });

  it('property: a patch path through a hostile segment at any depth is refused, nothing changes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(name, { maxLength: 4 }),
        hostileKey,
        fc.array(name, { maxLength: 3 }),
        fc.constantFrom('add', 'replace', 'remove'),
        async (before, key, after, op) => {
          const path = '/' + [...before, key, ...after].join('/');
          const patch = wire(JSON.stringify([{ op, path, ...(op === 'remove' ? {} : { value: 1 }) }]));
          const e = await caught(w.twins.update('r1', patch));
          expect(e.code).toBe('JsonPatchInvalid');
          expect(e.problems.some((p) => p.code === 'patch.path.forbidden')).toBe(true);
          await unchanged();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: a hostile key at any depth of a patch value is refused with its pointer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(name, { maxLength: 6 }),
        hostileKey,
        fc.jsonValue({ maxDepth: 2 }),
        fc.constantFrom('/info', '/thermostat', '/name'),
        async (path, key, leaf, target) => {
          const text = `[{"op":"add","path":"${target}","value":${nested(path, key, leaf)}}]`;
          const e = await caught(w.twins.update('r1', wire(text)));
          expect(e.code).toBe('JsonPatchInvalid');
          expect(e.problems[0]).toMatchObject({
            code: 'json.key.forbidden',
            pointer: `/0/value/${[...path, key].join('/')}`,
          });
          await unchanged();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: a hostile key at any depth of a PUT body is refused; the twin is not written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(name, { maxLength: 6 }),
        hostileKey,
        fc.jsonValue({ maxDepth: 2 }),
        async (path, key, leaf) => {
          const inner = nested(path, key, leaf);
          const body = `{"$metadata":{"$model":"${ROOM}"},"thermostat":{"$metadata":{}},${inner.slice(1)}`;
          const e = await caught(w.twins.createOrReplace('r2', wire(body)));
          expect(e.code).toBe('ValidationFailed');
          expect(e.problems[0]).toMatchObject({
            code: 'json.key.forbidden',
            pointer: `/${[...path, key].join('/')}`,
          });
          expect(w.graph.getTwin('r2')).toBeUndefined();
          await unchanged();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses hostile keys in relationship bodies and relationship patches', async () => {
    await w.twins.createOrReplace('r2', { $metadata: { $model: 'dtmi:test:Sensor;1' } });
    w.events.length = 0;
    for (const key of HOSTILE) {
      const e = await caught(
        w.twins.relationships.createOrReplace(
          'r1',
          'rel',
          wire(`{"$targetId":"r2","$relationshipName":"contains","${key}":{"since":"x"}}`),
        ),
      );
      expect(e.code).toBe('InvalidRelationship');
      expect(e.problems[0]).toMatchObject({ code: 'json.key.forbidden', pointer: `/${key}` });
    }
    await w.twins.relationships.createOrReplace('r1', 'rel', {
      $targetId: 'r2',
      $relationshipName: 'contains',
    });
    const p = await caught(
      w.twins.relationships.update(
        'r1',
        'rel',
        wire('[{"op":"add","path":"/__proto__","value":{"since":5}}]'),
      ),
    );
    expect(p.code).toBe('JsonPatchInvalid');
    expect(Object.getPrototypeOf(w.twins.relationships.get('r1', 'rel').properties)).toBe(Object.prototype);
  });
});
