/**
 * Lays out a scene from a twin graph (docs/scenes.md): simple shapes, placed by the graph's
 * containment. A relationship whose name is `contains` or starts with `has` makes its target a child
 * of its source; a twin with children is a group drawn as a plate under them (a site holds lines, a
 * line holds its pumps and tanks, a fleet its vehicles and stations); childless twins stand on their
 * group's plate in rows of at most `perRow`. Every other relationship between two placed twins
 * (`feeds`) is a thin connector between them. Parts are named by their twin's id, so a binding
 * finds them; connectors are named `link:<source>/<relationship>/<target>`.
 * Pure and deterministic: the same graph gives the same layout (twins in id order).
 *
 * @example
 * const layout = layoutScene({ twins: [{ id: 'line-1', modelId: 'dtmi:x:Line;1' }, { id: 'pump-1a', modelId: 'dtmi:x:Pump;1' }],
 *   relationships: [{ source: 'line-1', target: 'pump-1a', name: 'hasEquipment' }] });
 * layout.nodes.map((n) => n.name); // ['line-1', 'pump-1a']
 */

export type SceneShape = 'box' | 'cylinder';
/** Which material a node is drawn with (the glTF has one of each). */
export type SceneMaterial = 'part' | 'group' | 'ground' | 'link';

export interface SceneNode {
  name: string;
  /** The twin this node stands for (connectors: none). */
  twin?: string;
  modelId?: string;
  shape: SceneShape;
  material: SceneMaterial;
  translation: [number, number, number];
  scale: [number, number, number];
  /** Connectors: rotation about the Y axis (radians), so the bar points from source to target. */
  rotationY?: number;
}

export interface SceneLayout {
  nodes: SceneNode[];
}

export interface SceneGraphInput {
  twins: readonly { id: string; modelId: string }[];
  relationships: readonly { source: string; target: string; name: string }[];
}

export interface SceneLayoutOptions {
  /** Most parts in one row of a group (default 6). */
  perRow?: number;
  /** Most nodes in a scene (default 5000): a larger graph is cut, the first twins by id kept. */
  maxNodes?: number;
}

const SPACING = 3;
const ROW_GAP = 3;
const GROUP_GAP = 2;

export function isContainment(relationshipName: string): boolean {
  return relationshipName === 'contains' || /^has[A-Z_]/.test(relationshipName);
}

/** The shape and size of a part, by what its model id says it is. */
export function partShape(modelId: string): { shape: SceneShape; size: [number, number, number] } {
  const name = (/:([^:;]+);\d+$/.exec(modelId)?.[1] ?? modelId).toLowerCase();
  if (/pump|motor|fan|compressor/.test(name)) return { shape: 'cylinder', size: [1.2, 1.6, 1.2] };
  if (/tank|silo|vessel/.test(name)) return { shape: 'box', size: [1.8, 2.6, 1.8] };
  if (/vehicle|car|truck|bus/.test(name)) return { shape: 'box', size: [1.2, 0.9, 2.2] };
  if (/station|charger/.test(name)) return { shape: 'box', size: [0.6, 1.8, 0.6] };
  if (/sensor/.test(name)) return { shape: 'box', size: [0.5, 0.5, 0.5] };
  return { shape: 'box', size: [1, 1, 1] };
}

interface Placed {
  /** Width (x) and depth (z) of the block. */
  w: number;
  d: number;
  nodes: SceneNode[];
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function layoutScene(graph: SceneGraphInput, options: SceneLayoutOptions = {}): SceneLayout {
  const perRow = Math.max(1, options.perRow ?? 6);
  const maxNodes = options.maxNodes ?? 5000;
  const byId = new Map<string, { id: string; modelId: string }>();
  for (const t of [...graph.twins].sort((a, b) => cmp(a.id, b.id))) {
    if (byId.size >= maxNodes) break;
    byId.set(t.id, t);
  }
  const children = new Map<string, string[]>();
  const parent = new Map<string, string>();
  const rels = [...graph.relationships].sort(
    (a, b) => cmp(a.source, b.source) || cmp(a.name, b.name) || cmp(a.target, b.target),
  );
  for (const r of rels) {
    if (!isContainment(r.name) || !byId.has(r.source) || !byId.has(r.target)) continue;
    if (parent.has(r.target) || r.source === r.target || isAncestor(r.target, r.source)) continue;
    parent.set(r.target, r.source);
    const list = children.get(r.source) ?? [];
    list.push(r.target);
    children.set(r.source, list);
  }
  function isAncestor(a: string, of: string): boolean {
    for (let p: string | undefined = of; p !== undefined; p = parent.get(p)) if (p === a) return true;
    return false;
  }

  // Bottom-up: a leaf is its shape; a group lays its leaves in rows, its sub-groups beside them.
  const place = (id: string, level: number): Placed => {
    const kids = (children.get(id) ?? []).slice().sort(cmp);
    const t = byId.get(id)!;
    if (kids.length === 0) {
      const { shape, size } = partShape(t.modelId);
      return {
        w: size[0],
        d: size[2],
        nodes: [
          {
            name: id,
            twin: id,
            modelId: t.modelId,
            shape,
            material: 'part',
            translation: [0, r3(size[1] / 2), 0],
            scale: size,
          },
        ],
      };
    }
    const leaves = kids.filter((k) => !children.has(k));
    const groups = kids.filter((k) => children.has(k));
    const nodes: SceneNode[] = [];
    // Leaves in rows along x, rows along z, centred on the block's origin.
    const rows = Math.ceil(leaves.length / perRow);
    const cols = Math.min(perRow, leaves.length);
    let w = Math.max(0, (cols - 1) * SPACING) + 2;
    let d = Math.max(0, (rows - 1) * ROW_GAP) + 2.4;
    const leafNodes: SceneNode[] = [];
    leaves.forEach((leaf, i) => {
      const p = place(leaf, level + 1);
      const x = (i % perRow) * SPACING - ((cols - 1) * SPACING) / 2;
      const z = Math.floor(i / perRow) * ROW_GAP - ((rows - 1) * ROW_GAP) / 2;
      for (const n of p.nodes) leafNodes.push(shift(n, x, z));
    });
    // Sub-groups side by side along z, after the leaves.
    const sub = groups.map((g) => place(g, level + 1));
    const subDepth = sub.reduce((s, p) => s + p.d, 0) + GROUP_GAP * Math.max(0, sub.length - 1);
    const subWidth = sub.reduce((m, p) => Math.max(m, p.w), 0);
    const leafDepth = leaves.length ? d : 0;
    const totalD = leafDepth + (sub.length && leaves.length ? GROUP_GAP : 0) + subDepth;
    w = Math.max(leaves.length ? w : 0, subWidth);
    let z0 = -totalD / 2;
    if (leaves.length) {
      for (const n of leafNodes) nodes.push(shift(n, 0, z0 + leafDepth / 2));
      z0 += leafDepth + (sub.length ? GROUP_GAP : 0);
    }
    for (const p of sub) {
      for (const n of p.nodes) nodes.push(shift(n, 0, z0 + p.d / 2));
      z0 += p.d + GROUP_GAP;
    }
    d = totalD;
    // The group's own plate, a little larger than what stands on it; nested plates stack up.
    const pad = 0.6;
    const plateW = r3(w + pad * 2);
    const plateD = r3(d + pad * 2);
    const thick = 0.1;
    nodes.unshift({
      name: id,
      twin: id,
      modelId: t.modelId,
      shape: 'box',
      material: level === 0 ? 'ground' : 'group',
      // Nested plates stack: an inner plate's top is a little above its container's.
      translation: [0, r3(-0.02 * (4 - Math.min(level, 4)) - thick / 2), 0],
      scale: [plateW, thick, plateD],
    });
    return { w: plateW, d: plateD, nodes };
  };

  // Roots (no container) side by side along x.
  const roots = [...byId.keys()].filter((id) => !parent.has(id));
  const blocks = roots.map((id) => place(id, 0));
  const total = blocks.reduce((s, b) => s + b.w, 0) + GROUP_GAP * Math.max(0, blocks.length - 1);
  const nodes: SceneNode[] = [];
  let x0 = -total / 2;
  for (const b of blocks) {
    for (const n of b.nodes) nodes.push(shift(n, x0 + b.w / 2, 0));
    x0 += b.w + GROUP_GAP;
  }

  // Connectors between placed parts, at the height of the lower one's middle.
  const at = new Map(nodes.filter((n) => n.material === 'part').map((n) => [n.name, n]));
  for (const r of rels) {
    if (isContainment(r.name)) continue;
    const a = at.get(r.source);
    const b = at.get(r.target);
    if (!a || !b || a === b || nodes.length >= maxNodes) continue;
    const dx = b.translation[0] - a.translation[0];
    const dz = b.translation[2] - a.translation[2];
    const len = Math.hypot(dx, dz);
    if (len === 0) continue;
    const y = Math.min(a.translation[1], b.translation[1]);
    nodes.push({
      name: `link:${r.source}/${r.name}/${r.target}`,
      shape: 'box',
      material: 'link',
      translation: [r3(a.translation[0] + dx / 2), r3(y), r3(a.translation[2] + dz / 2)],
      scale: [r3(len), 0.15, 0.15],
      rotationY: r3(-Math.atan2(dz, dx)),
    });
  }
  return { nodes };
}

function shift(n: SceneNode, dx: number, dz: number): SceneNode {
  return { ...n, translation: [r3(n.translation[0] + dx), n.translation[1], r3(n.translation[2] + dz)] };
}

/** Code-unit order (not locale): the same everywhere. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
