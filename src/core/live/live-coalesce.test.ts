import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mergePatches, mergeTelemetry, mergePropertyChanges } from './live-coalesce.js';

type Op = { op: string; path: string; value?: unknown };

// A small JSON Patch applier for objects (no arrays), enough to check merged patches keep their meaning.
function apply(doc: Record<string, unknown>, patch: readonly Op[]): Record<string, unknown> {
  const root = structuredClone(doc);
  for (const op of patch) {
    const parts = op.path.split('/').slice(1);
    let parent: Record<string, unknown> = root;
    for (const p of parts.slice(0, -1)) {
      const next = parent[p];
      if (typeof next !== 'object' || next === null) parent[p] = {};
      parent = parent[p] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1]!;
    if (op.op === 'remove') delete parent[last];
    else parent[last] = structuredClone(op.value);
  }
  return root;
}

describe('coalescing', () => {
  it('merges telemetry values, later wins, inputs untouched', () => {
    const a = {
      type: 'telemetry' as const,
      workspace: 'w',
      twinId: 't',
      modelId: 'm',
      time: 1,
      values: { x: 1, y: 1 },
    };
    const b = { ...a, time: 2, values: { y: 2, z: 3 } };
    expect(mergeTelemetry(a, b)).toEqual({ ...a, time: 2, values: { x: 1, y: 2, z: 3 } });
    expect(a.values).toEqual({ x: 1, y: 1 });
  });

  it('drops earlier patch operations a later one overwrites', () => {
    expect(
      mergePatches(
        [
          { op: 'replace', path: '/a', value: 1 },
          { op: 'add', path: '/b/c', value: 1 },
          { op: 'replace', path: '/bc', value: 1 },
        ],
        [
          { op: 'replace', path: '/a', value: 2 },
          { op: 'remove', path: '/b' },
        ],
      ),
    ).toEqual([
      { op: 'replace', path: '/bc', value: 1 },
      { op: 'replace', path: '/a', value: 2 },
      { op: 'remove', path: '/b' },
    ]);
  });

  it('keeps array insertions and removals, which shift elements', () => {
    const a = [{ op: 'add', path: '/arr/0', value: 1 }];
    const b = [{ op: 'replace', path: '/arr/0', value: 2 }];
    expect(mergePatches(a, b)).toHaveLength(2);
    expect(
      mergePatches([{ op: 'replace', path: '/x', value: 1 }], [{ op: 'add', path: '/arr/-', value: 1 }]),
    ).toHaveLength(2);
  });

  it('merges property changes', () => {
    const a = {
      type: 'propertyChange' as const,
      workspace: 'w',
      twinId: 't',
      modelId: 'm',
      time: 5,
      patch: [{ op: 'replace', path: '/x', value: 1 }],
    };
    const b = { ...a, time: 6, patch: [{ op: 'replace', path: '/x', value: 2 }] };
    expect(mergePropertyChanges(a, b).patch).toEqual([{ op: 'replace', path: '/x', value: 2 }]);
    expect(mergePropertyChanges(a, b).time).toBe(6);
  });

  it('applying the merged patch equals applying both in order (objects)', () => {
    const path = fc
      .array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 })
      .map((p) => `/${p.join('/')}`);
    const op = fc.oneof(
      fc.record({ op: fc.constantFrom('add', 'replace'), path, value: fc.integer() }),
      fc.record({ op: fc.constant('remove'), path }),
    );
    const patch = fc.array(op, { maxLength: 6 });
    fc.assert(
      fc.property(patch, patch, (a, b) => {
        expect(apply({}, mergePatches(a, b))).toEqual(apply(apply({}, a), b));
      }),
      { numRuns: 300 },
    );
  });
});
