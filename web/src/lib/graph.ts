/**
 * The relationship graph as Cytoscape draws it: nodes for twins (labelled by id, classed by model),
 * edges for relationships. Edges whose ends are not in the graph bring a placeholder node, so a
 * click on it can walk there. Element ids live in two namespaces (`t:` twins, `r:` relationships)
 * since a twin id may be any text, `r:…` included; the twin's own id is `data.twinId`.
 */
export interface GraphTwin {
  id: string;
  model?: string;
}
export interface GraphRelationship {
  id: string;
  source: string;
  target: string;
  name: string;
}
export interface GraphElement {
  group: 'nodes' | 'edges';
  data: Record<string, string>;
  classes?: string;
}

/** The short name of a DTMI (`dtmi:twinloop:pumpline:Pump;1` → `Pump`). */
export function modelShortName(dtmi: string | undefined): string {
  if (!dtmi) return '';
  const m = /:([^:;]+)(;[\d.]+)?$/.exec(dtmi);
  return m ? m[1]! : dtmi;
}

export function graphElements(
  twins: readonly GraphTwin[],
  rels: readonly GraphRelationship[],
  focus?: string,
): GraphElement[] {
  const nodes = new Map<string, GraphElement>();
  for (const t of twins) {
    if (nodes.has(t.id)) continue;
    nodes.set(t.id, {
      group: 'nodes',
      data: { id: `t:${t.id}`, twinId: t.id, label: t.id, model: modelShortName(t.model) },
      ...(t.id === focus ? { classes: 'focus' } : {}),
    });
  }
  const edges = new Map<string, GraphElement>();
  for (const r of rels) {
    for (const end of [r.source, r.target])
      if (!nodes.has(end))
        nodes.set(end, {
          group: 'nodes',
          data: { id: `t:${end}`, twinId: end, label: end, model: '' },
          classes: 'outside',
        });
    const id = `r:${JSON.stringify([r.source, r.id])}`;
    if (!edges.has(id))
      edges.set(id, {
        group: 'edges',
        data: { id, source: `t:${r.source}`, target: `t:${r.target}`, label: r.name },
      });
  }
  return [...nodes.values(), ...edges.values()];
}

/** Twins found in query rows, whatever the projection: `$dtId` at the top or in a selected collection. */
export function twinsInRows(rows: readonly Record<string, unknown>[]): GraphTwin[] {
  const out = new Map<string, GraphTwin>();
  const visit = (v: unknown, depth: number) => {
    if (!v || typeof v !== 'object' || depth > 2) return;
    const o = v as Record<string, unknown>;
    if (typeof o['$dtId'] === 'string') {
      const meta = o['$metadata'] as { $model?: unknown } | undefined;
      const model = typeof meta?.$model === 'string' ? meta.$model : undefined;
      if (!out.has(o['$dtId'])) out.set(o['$dtId'], { id: o['$dtId'], ...(model ? { model } : {}) });
      return;
    }
    for (const x of Object.values(o)) visit(x, depth + 1);
  };
  for (const r of rows) visit(r, 0);
  return [...out.values()];
}
