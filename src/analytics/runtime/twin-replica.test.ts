import { describe, expect, it } from 'vitest';
import { TwinReplica } from './twin-replica.js';

const PUMP = 'dtmi:ex:Pump;1';
const BASE = 'dtmi:ex:Device;1';

function replica(): TwinReplica {
  const r = new TwinReplica('default');
  r.load({
    twins: [
      { id: 'p1', modelId: PUMP, contents: { limit: 7, motor: { rated: 4 } } },
      { id: 'line', modelId: 'dtmi:ex:Line;1', contents: {} },
    ],
    rels: [
      ['line', 'r1', 'feeds', 'p1'],
      ['line', 'r2', 'feeds', 'p2'],
      ['line', 'r3', 'near', 'p1'],
    ],
    models: [[PUMP, [BASE]]],
  });
  return r;
}

describe('TwinReplica (the analytics worker’s view of the twins)', () => {
  it('answers as the graph context does: model, IS_OF_MODEL, properties, relationship targets', () => {
    const r = replica();
    expect(r.modelOf('default', 'p1')).toBe(PUMP);
    expect(r.modelOf('other', 'p1')).toBeUndefined();
    expect(r.isOfModel('default', PUMP, BASE)).toBe(true);
    expect(r.isOfModel('default', 'dtmi:ex:Pump;2', PUMP)).toBe(true); // a later version
    expect(r.isOfModel('default', 'dtmi:ex:Line;1', BASE)).toBe(false);
    expect(r.property('default', 'p1', 'limit')).toBe(7);
    expect(r.property('default', 'p1', 'motor/rated')).toBe(4);
    expect(r.property('default', 'nobody', 'limit')).toBeUndefined();
    expect(r.related('default', 'line', 'feeds')).toEqual(['p1', 'p2']);
    expect(r.related('default', 'line', 'near')).toEqual(['p1']);
    expect(r.related('other', 'line', 'feeds')).toEqual([]);
  });

  it('never reads Object.prototype members, whatever the property is called', () => {
    const r = replica();
    for (const name of [
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'motor/__proto__',
      '__proto__/x',
    ])
      expect(r.property('default', 'p1', name)).toBeUndefined();
    r.apply({ k: 'twin', id: 'p1', modelId: PUMP, contents: JSON.parse('{"__proto__": 5, "limit": 8}') });
    expect(r.property('default', 'p1', '__proto__')).toBe(5);
    expect(r.property('default', 'p1', 'limit')).toBe(8);
  });

  it('applies updates as state: twice, or after a snapshot that had them, changes nothing', () => {
    const r = replica();
    const u = { k: 'twin', id: 'p1', modelId: PUMP, contents: { limit: 9 } } as const;
    r.apply(u);
    r.apply(u);
    expect(r.property('default', 'p1', 'limit')).toBe(9);
    expect(r.related('default', 'line', 'feeds')).toEqual(['p1', 'p2']); // a patch keeps relationships
    r.apply({ k: 'rel', source: 'line', relId: 'r1', name: 'feeds', target: 'p1' });
    expect(r.related('default', 'line', 'feeds')).toEqual(['p1', 'p2']);
    r.apply({ k: 'relDeleted', source: 'line', relId: 'r2' });
    r.apply({ k: 'relDeleted', source: 'line', relId: 'r2' });
    expect(r.related('default', 'line', 'feeds')).toEqual(['p1']);
    r.apply({ k: 'twinDeleted', id: 'p1' });
    r.apply({ k: 'twinDeleted', id: 'p1' });
    expect(r.modelOf('default', 'p1')).toBeUndefined();
    // A new twin with the deleted one's id starts with no relationships of its own.
    r.apply({ k: 'twin', id: 'p1', modelId: 'dtmi:ex:Other;1', contents: {} });
    expect(r.modelOf('default', 'p1')).toBe('dtmi:ex:Other;1');
    expect(r.twinCount).toBe(2);
  });

  it('takes a model’s ancestors when first told, and relationships of unknown sources are ignored', () => {
    const r = new TwinReplica('default');
    expect(r.knowsModel(PUMP)).toBe(false);
    expect(r.isOfModel('default', PUMP, BASE)).toBe(false);
    r.apply({ k: 'model', id: PUMP, ancestors: [BASE] });
    expect(r.knowsModel(PUMP)).toBe(true);
    expect(r.isOfModel('default', PUMP, BASE)).toBe(true);
    r.apply({ k: 'rel', source: 'ghost', relId: 'x', name: 'feeds', target: 'p1' });
    expect(r.related('default', 'ghost', 'feeds')).toEqual([]);
  });
});
