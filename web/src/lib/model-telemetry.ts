/**
 * The telemetry a twin's model declares (its own, inherited through `extends`, and its components'
 * as `component/name`), read from DTDL documents as `GET /models?dependenciesFor=` gives them: the
 * twin page shows these first and what the platform derives (residuals, scores, forecasts) apart.
 */
type Json = Record<string, unknown>;

function types(el: Json): string[] {
  const t = el['@type'];
  return Array.isArray(t)
    ? t.filter((x): x is string => typeof x === 'string')
    : typeof t === 'string'
      ? [t]
      : [];
}

function idOf(x: unknown): string | undefined {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && typeof (x as Json)['@id'] === 'string')
    return (x as Json)['@id'] as string;
  return undefined;
}

/** `models`: DTDL interfaces (objects with @id), e.g. the `model` fields of GET /models?includeModelDefinition=true. */
export function modelTelemetry(rootId: string, models: readonly unknown[]): Set<string> {
  const byId = new Map<string, Json>();
  for (const m of models) if (m && typeof m === 'object' && idOf(m)) byId.set(idOf(m)!, m as Json);
  const out = new Set<string>();
  const walkDoc = (m: Json, prefix: string, seen: Set<string>, depth: number): void => {
    if (depth > 12) return;
    const ext = m['extends'];
    for (const e of Array.isArray(ext) ? ext : ext !== undefined ? [ext] : []) {
      if (typeof e === 'string') walk(e, prefix, seen, depth + 1);
      else if (e && typeof e === 'object') walkDoc(e as Json, prefix, seen, depth + 1); // an inline interface
    }
    const contents = Array.isArray(m['contents']) ? (m['contents'] as unknown[]) : [];
    for (const c of contents) {
      if (!c || typeof c !== 'object') continue;
      const el = c as Json;
      const name = typeof el['name'] === 'string' ? el['name'] : undefined;
      if (!name) continue;
      const t = types(el);
      if (t.includes('Telemetry')) out.add(prefix + name);
      else if (t.includes('Component') && prefix === '') {
        const schema = el['schema'];
        if (typeof schema === 'string') walk(schema, `${name}/`, new Set(), depth + 1);
        else if (schema && typeof schema === 'object')
          walkDoc(schema as Json, `${name}/`, new Set(), depth + 1);
      }
    }
  };
  const walk = (id: string, prefix: string, seen: Set<string>, depth: number): void => {
    if (seen.has(id)) return;
    seen.add(id);
    const m = byId.get(id);
    if (m) walkDoc(m, prefix, seen, depth);
  };
  walk(rootId, '', new Set(), 0);
  return out;
}
