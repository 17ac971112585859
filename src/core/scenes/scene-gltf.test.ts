import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import type { Mesh } from 'three';
import { describe, expect, it } from 'vitest';
import { readGlbNodeNames, sceneToGlb } from './scene-gltf.js';
import { layoutScene } from './scene-layout.js';

const graph = {
  twins: [
    { id: 'site', modelId: 'dtmi:x:Site;1' },
    { id: 'line-1', modelId: 'dtmi:x:ProductionLine;1' },
    { id: 'pump-b', modelId: 'dtmi:x:Pump;1' },
    { id: 'pump-a', modelId: 'dtmi:x:Pump;1' },
    { id: 'tank', modelId: 'dtmi:x:Tank;1' },
    { id: '<b>odd</b>', modelId: 'dtmi:x:Sensor;1' },
  ],
  relationships: [
    { source: 'site', target: 'line-1', name: 'contains' },
    { source: 'line-1', target: 'pump-a', name: 'hasEquipment' },
    { source: 'line-1', target: 'pump-b', name: 'hasEquipment' },
    { source: 'line-1', target: 'tank', name: 'hasEquipment' },
    { source: 'tank', target: 'pump-a', name: 'feeds' },
    // A second container, a self-containment and a dangling target are ignored.
    { source: 'tank', target: 'pump-b', name: 'contains' },
    { source: 'tank', target: 'tank', name: 'hasPart' },
    { source: 'line-1', target: 'missing', name: 'hasEquipment' },
  ],
};

/** Parses a GLB with three.js's own loader (what the web app uses). */
function parse(glb: Uint8Array): Promise<Map<string, Mesh>> {
  const ab = glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer;
  return new Promise((resolve, reject) =>
    new GLTFLoader().parse(
      ab,
      '',
      (g) => {
        const meshes = new Map<string, Mesh>();
        g.scene.traverse((o) => {
          if ((o as Mesh).isMesh) meshes.set(o.name, o as Mesh);
        });
        resolve(meshes);
      },
      reject,
    ),
  );
}

describe('scene layout and GLB', () => {
  it('lays out parts on their group plates, connectors between them, named for binding', () => {
    const { nodes } = layoutScene(graph);
    expect(nodes.map((n) => n.name)).toEqual([
      '<b>odd</b>',
      'site',
      'line-1',
      'pump-a',
      'pump-b',
      'tank',
      'link:tank/feeds/pump-a',
    ]);
    const by = new Map(nodes.map((n) => [n.name, n]));
    expect(by.get('pump-a')).toMatchObject({ shape: 'cylinder', material: 'part', twin: 'pump-a' });
    expect(by.get('tank')).toMatchObject({ shape: 'box', material: 'part' });
    expect(by.get('site')).toMatchObject({ material: 'ground' });
    expect(by.get('line-1')).toMatchObject({ material: 'group' });
    // Parts of one row stand apart, on top of the plates.
    const xs = ['pump-a', 'pump-b', 'tank'].map((id) => by.get(id)!.translation[0]);
    expect(new Set(xs).size).toBe(3);
    for (const id of ['pump-a', 'pump-b', 'tank']) expect(by.get(id)!.translation[1]).toBeGreaterThan(0);
    const link = by.get('link:tank/feeds/pump-a')!;
    const a = by.get('tank')!.translation;
    const b = by.get('pump-a')!.translation;
    expect(link.scale[0]).toBeCloseTo(Math.hypot(b[0] - a[0], b[2] - a[2]), 2);
  });

  it('writes a GLB that three.js loads, with every node by name, the same bytes every time', async () => {
    const layout = layoutScene(graph);
    const glb = sceneToGlb(layout, { title: 't' });
    expect(Buffer.from(glb.subarray(0, 4)).toString()).toBe('glTF');
    expect(glb.length % 4).toBe(0);
    expect(Buffer.from(sceneToGlb(layoutScene(graph), { title: 't' })).equals(Buffer.from(glb))).toBe(true);
    expect(readGlbNodeNames(glb)).toEqual(layout.nodes.map((n) => n.name));
    const meshes = await parse(glb);
    // three.js changes some characters of node names (`/`, `.`, `:`, `[`, `]`): the part name
    // travels in the node's extras too, which is what the viewer reads.
    expect([...meshes.values()].map((m) => m.userData.part as string).sort()).toEqual(
      layout.nodes.map((n) => n.name).sort(),
    );
    expect(meshes.get('<b>odd<b>')?.userData.part).toBe('<b>odd</b>');
    const pump = meshes.get('pump-a')!;
    const n = layout.nodes.find((x) => x.name === 'pump-a')!;
    expect(pump.position.toArray()).toEqual(n.translation);
    expect(pump.scale.toArray()).toEqual(n.scale);
    expect(pump.userData).toMatchObject({ part: 'pump-a', twin: 'pump-a', kind: 'part' });
    pump.geometry.computeBoundingBox();
    expect(pump.geometry.boundingBox!.max.toArray()).toEqual([0.5, 0.5, 0.5]);
  });

  it('breaks a containment cycle instead of looping on it', () => {
    const { nodes } = layoutScene({
      twins: [
        { id: 'a', modelId: 'dtmi:x:Line;1' },
        { id: 'b', modelId: 'dtmi:x:Line;1' },
      ],
      relationships: [
        { source: 'a', target: 'b', name: 'contains' },
        { source: 'b', target: 'a', name: 'contains' },
      ],
    });
    expect(nodes.map((n) => `${n.name} ${n.material}`)).toEqual(['a ground', 'b part']);
  });

  it('caps the nodes of a huge graph', () => {
    const twins = Array.from({ length: 20_000 }, (_, i) => ({ id: `t${i}`, modelId: 'dtmi:x:Pump;1' }));
    const { nodes } = layoutScene({ twins, relationships: [] }, { maxNodes: 100 });
    expect(nodes).toHaveLength(100);
  });

  it('refuses bytes that are not a GLB 2.0 file, saying why', () => {
    expect(() => readGlbNodeNames(new Uint8Array(4))).toThrow(/shorter/);
    const glb = sceneToGlb(layoutScene(graph));
    const wrongMagic = glb.slice();
    wrongMagic[0] = 0x78;
    expect(() => readGlbNodeNames(wrongMagic)).toThrow(/glTF/);
    expect(() => readGlbNodeNames(glb.slice(0, glb.length - 4))).toThrow(/length/);
  });
});
