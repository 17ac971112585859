import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { graphElements, modelShortName, twinsInRows } from './graph.js';

describe('graph elements', () => {
  it('makes nodes and edges, with placeholders for ends outside the result', () => {
    const els = graphElements(
      [
        { id: 'line-1', model: 'dtmi:twinloop:pumpline:ProductionLine;1' },
        { id: 'pump-1a', model: 'dtmi:twinloop:pumpline:Pump;1' },
        { id: 'pump-1a' },
      ],
      [
        { id: 'r1', source: 'line-1', target: 'pump-1a', name: 'hasEquipment' },
        { id: 'r1', source: 'line-1', target: 'pump-1a', name: 'hasEquipment' },
        { id: 'r2', source: 'site', target: 'line-1', name: 'contains' },
      ],
      'pump-1a',
    );
    const nodes = els.filter((e) => e.group === 'nodes');
    expect(nodes.map((n) => n.data['twinId'])).toEqual(['line-1', 'pump-1a', 'site']);
    expect(nodes[1]!.classes).toBe('focus');
    expect(nodes[2]!.classes).toBe('outside');
    expect(nodes[0]!.data['model']).toBe('ProductionLine');
    const edges = els.filter((e) => e.group === 'edges');
    expect(edges).toHaveLength(2);
    expect(edges[0]!.data).toMatchObject({ source: 't:line-1', target: 't:pump-1a', label: 'hasEquipment' });
  });

  it('never gives two elements one id, whatever the twin and relationship ids (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { maxLength: 6 }),
        fc.array(fc.tuple(fc.string(), fc.string(), fc.string()), { maxLength: 6 }),
        (twinIds, rels) => {
          const els = graphElements(
            twinIds.map((id) => ({ id })),
            rels.map(([source, target, id]) => ({ id, source, target, name: 'x' })),
          );
          const ids = els.map((e) => e.data['id']);
          expect(new Set(ids).size).toBe(ids.length);
          const nodeIds = new Set(els.filter((e) => e.group === 'nodes').map((e) => e.data['id']));
          for (const e of els.filter((x) => x.group === 'edges')) {
            expect(nodeIds.has(e.data['source'])).toBe(true);
            expect(nodeIds.has(e.data['target'])).toBe(true);
          }
        },
      ),
    );
  });

  it('finds twins in any query projection', () => {
    expect(
      twinsInRows([
        { $dtId: 'a', $metadata: { $model: 'dtmi:x:A;1' } },
        { p: { $dtId: 'b' }, s: { $dtId: 'c' } },
        { $dtId: 'a' },
        { count: 3 },
      ]),
    ).toEqual([{ id: 'a', model: 'dtmi:x:A;1' }, { id: 'b' }, { id: 'c' }]);
  });

  it('shortens model ids', () => {
    expect(modelShortName('dtmi:twinloop:pumpline:Pump;1')).toBe('Pump');
    expect(modelShortName('weird')).toBe('weird');
    expect(modelShortName(undefined)).toBe('');
  });
});
