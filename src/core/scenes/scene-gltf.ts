/**
 * Writes a scene layout as a binary glTF 2.0 file (GLB: the JSON and its buffer in one file, so a
 * browser fetches one URL from this origin and no `data:` URI is needed under the app's CSP).
 * One unit box and one unit cylinder are stored once; every node scales and places one of them.
 * Nodes carry their name (the part name a binding uses; also as `extras.part`, since three.js
 * rewrites `/ . : [ ]` in node names) and `extras.twin`. Each shape × material
 * pair is one mesh; the viewer gives every part its own material copy to colour it.
 * Pure and deterministic (same layout, same bytes).
 *
 * @example
 * const glb = sceneToGlb(layoutScene(graph)); // Uint8Array starting with 'glTF'
 */
import type { SceneLayout, SceneMaterial, SceneShape } from './scene-layout.js';

const MATERIALS: Record<
  SceneMaterial,
  { color: [number, number, number, number]; metallic: number; roughness: number }
> = {
  part: { color: [0.62, 0.66, 0.72, 1], metallic: 0.2, roughness: 0.6 },
  group: { color: [0.36, 0.4, 0.46, 1], metallic: 0, roughness: 0.9 },
  ground: { color: [0.24, 0.27, 0.31, 1], metallic: 0, roughness: 1 },
  link: { color: [0.3, 0.55, 0.85, 1], metallic: 0.1, roughness: 0.5 },
};
const MATERIAL_ORDER: SceneMaterial[] = ['part', 'group', 'ground', 'link'];
const SHAPE_ORDER: SceneShape[] = ['box', 'cylinder'];

interface Geometry {
  positions: number[];
  normals: number[];
  indices: number[];
}

/** A unit cube centred on the origin (24 vertices: flat normals per face). */
export function boxGeometry(): Geometry {
  const g: Geometry = { positions: [], normals: [], indices: [] };
  const faces: [number[], number[], number[]][] = [
    // normal, u axis, v axis
    [
      [1, 0, 0],
      [0, 0, -1],
      [0, 1, 0],
    ],
    [
      [-1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
    ],
    [
      [0, 1, 0],
      [1, 0, 0],
      [0, 0, -1],
    ],
    [
      [0, -1, 0],
      [1, 0, 0],
      [0, 0, 1],
    ],
    [
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ],
    [
      [0, 0, -1],
      [-1, 0, 0],
      [0, 1, 0],
    ],
  ];
  for (const [n, u, v] of faces) {
    const base = g.positions.length / 3;
    for (const [su, sv] of [
      [-1, -1],
      [1, -1],
      [1, 1],
      [-1, 1],
    ] as const) {
      for (let k = 0; k < 3; k++) g.positions.push(0.5 * (n[k]! + su * u[k]! + sv * v[k]!));
      g.normals.push(...n);
    }
    g.indices.push(base, base + 1, base + 2, base, base + 2, base + 3);
  }
  return g;
}

/** A unit cylinder (diameter 1, height 1) along Y, centred on the origin, `segments` around. */
export function cylinderGeometry(segments = 24): Geometry {
  const g: Geometry = { positions: [], normals: [], indices: [] };
  const ring = (i: number) => {
    const a = (i / segments) * Math.PI * 2;
    return [Math.fround(Math.cos(a)) * 0.5, Math.fround(Math.sin(a)) * 0.5] as const;
  };
  // Side: two vertices per step, smooth normals.
  for (let i = 0; i <= segments; i++) {
    const [x, z] = ring(i % segments);
    g.positions.push(x, -0.5, z, x, 0.5, z);
    g.normals.push(x * 2, 0, z * 2, x * 2, 0, z * 2);
  }
  for (let i = 0; i < segments; i++) {
    const a = i * 2;
    g.indices.push(a, a + 1, a + 3, a, a + 3, a + 2);
  }
  // Caps: a centre and a ring each.
  for (const y of [0.5, -0.5]) {
    const centre = g.positions.length / 3;
    g.positions.push(0, y, 0);
    g.normals.push(0, Math.sign(y), 0);
    for (let i = 0; i < segments; i++) {
      const [x, z] = ring(i);
      g.positions.push(x, y, z);
      g.normals.push(0, Math.sign(y), 0);
    }
    for (let i = 0; i < segments; i++) {
      const a = centre + 1 + i;
      const b = centre + 1 + ((i + 1) % segments);
      if (y > 0) g.indices.push(centre, b, a);
      else g.indices.push(centre, a, b);
    }
  }
  return g;
}

/** Quaternion [x, y, z, w] of a rotation about Y. */
function yRotation(angle: number): [number, number, number, number] {
  const r = (x: number) => Math.round(x * 1e6) / 1e6;
  return [0, r(Math.sin(angle / 2)), 0, r(Math.cos(angle / 2))];
}

const pad4 = (n: number) => (n + 3) & ~3;

/** The glTF JSON document and its binary buffer, before packing. */
export function sceneToGltf(
  layout: SceneLayout,
  options: { title?: string } = {},
): { json: Record<string, unknown>; bin: Uint8Array } {
  const geometries: Record<SceneShape, Geometry> = { box: boxGeometry(), cylinder: cylinderGeometry() };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const bufferViews: Record<string, unknown>[] = [];
  const accessors: Record<string, unknown>[] = [];
  const push = (bytes: Uint8Array, target: number) => {
    const start = offset;
    chunks.push(bytes);
    const padded = pad4(bytes.length);
    if (padded > bytes.length) chunks.push(new Uint8Array(padded - bytes.length));
    offset += padded;
    bufferViews.push({ buffer: 0, byteOffset: start, byteLength: bytes.length, target });
    return bufferViews.length - 1;
  };
  const attrs: Record<SceneShape, { POSITION: number; NORMAL: number; indices: number }> = {} as never;
  for (const shape of SHAPE_ORDER) {
    const g = geometries[shape];
    const pos = new Float32Array(g.positions);
    const nor = new Float32Array(g.normals);
    const idx = new Uint16Array(g.indices);
    const min = [0, 1, 2].map((k) => Math.min(...g.positions.filter((_, i) => i % 3 === k)));
    const max = [0, 1, 2].map((k) => Math.max(...g.positions.filter((_, i) => i % 3 === k)));
    const vp = push(new Uint8Array(pos.buffer), 34962);
    accessors.push({ bufferView: vp, componentType: 5126, count: pos.length / 3, type: 'VEC3', min, max });
    const POSITION = accessors.length - 1;
    const vn = push(new Uint8Array(nor.buffer), 34962);
    accessors.push({ bufferView: vn, componentType: 5126, count: nor.length / 3, type: 'VEC3' });
    const NORMAL = accessors.length - 1;
    const vi = push(new Uint8Array(idx.buffer), 34963);
    accessors.push({ bufferView: vi, componentType: 5123, count: idx.length, type: 'SCALAR' });
    attrs[shape] = { POSITION, NORMAL, indices: accessors.length - 1 };
  }
  const materials = MATERIAL_ORDER.map((m) => ({
    name: m,
    pbrMetallicRoughness: {
      baseColorFactor: MATERIALS[m].color,
      metallicFactor: MATERIALS[m].metallic,
      roughnessFactor: MATERIALS[m].roughness,
    },
  }));
  const meshes: Record<string, unknown>[] = [];
  const meshIndex = new Map<string, number>();
  for (const shape of SHAPE_ORDER)
    for (const m of MATERIAL_ORDER) {
      meshIndex.set(`${shape}/${m}`, meshes.length);
      meshes.push({
        name: `${shape}-${m}`,
        primitives: [
          {
            attributes: { POSITION: attrs[shape].POSITION, NORMAL: attrs[shape].NORMAL },
            indices: attrs[shape].indices,
            material: MATERIAL_ORDER.indexOf(m),
          },
        ],
      });
    }
  const nodes = layout.nodes.map((n) => ({
    name: n.name,
    mesh: meshIndex.get(`${n.shape}/${n.material}`),
    translation: n.translation,
    ...(n.rotationY ? { rotation: yRotation(n.rotationY) } : {}),
    scale: n.scale,
    // The part name again in extras: three.js rewrites some characters of node names.
    extras: { part: n.name, ...(n.twin !== undefined ? { twin: n.twin } : {}), kind: n.material },
  }));
  const bin = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    bin.set(c, at);
    at += c.length;
  }
  const json = {
    asset: { version: '2.0', generator: 'Twinloop scene generator' },
    scene: 0,
    scenes: [{ name: options.title ?? 'scene', nodes: nodes.map((_, i) => i) }],
    nodes,
    meshes,
    materials,
    accessors,
    bufferViews,
    buffers: [{ byteLength: bin.length }],
  };
  return { json, bin };
}

/** Packs glTF JSON and its buffer as GLB (little-endian header, JSON chunk, BIN chunk). */
export function packGlb(json: Record<string, unknown>, bin: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json));
  const jsonLen = pad4(text.length);
  const binLen = pad4(bin.length);
  const total = 12 + 8 + jsonLen + 8 + binLen;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x46546c67, true); // 'glTF'
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonLen, true);
  view.setUint32(16, 0x4e4f534a, true); // 'JSON'
  out.set(text, 20);
  out.fill(0x20, 20 + text.length, 20 + jsonLen);
  const b = 20 + jsonLen;
  view.setUint32(b, binLen, true);
  view.setUint32(b + 4, 0x004e4942, true); // 'BIN\0'
  out.set(bin, b + 8);
  return out;
}

/** The layout as a GLB file. */
export function sceneToGlb(layout: SceneLayout, options: { title?: string } = {}): Uint8Array {
  const { json, bin } = sceneToGltf(layout, options);
  return packGlb(json, bin);
}

/**
 * Reads a GLB's JSON chunk and its node names (what a binding may name), checking the header.
 * @throws Error with what is wrong when the bytes are not a GLB 2.0 file
 */
export function readGlbNodeNames(bytes: Uint8Array): string[] {
  if (bytes.length < 20) throw new Error('Not a GLB file: shorter than its header.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== 0x46546c67)
    throw new Error("Not a GLB file: it does not start with 'glTF'.");
  if (view.getUint32(4, true) !== 2) throw new Error('Not a glTF 2.0 file (GLB version is not 2).');
  if (view.getUint32(8, true) !== bytes.length)
    throw new Error('The GLB length in its header is not the file length.');
  const jsonLen = view.getUint32(12, true);
  if (view.getUint32(16, true) !== 0x4e4f534a || 20 + jsonLen > bytes.length)
    throw new Error('The GLB has no JSON chunk first.');
  const json = JSON.parse(
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(20, 20 + jsonLen)),
  ) as {
    nodes?: { name?: unknown }[];
  };
  return (json.nodes ?? []).flatMap((n) => (typeof n.name === 'string' ? [n.name] : []));
}
