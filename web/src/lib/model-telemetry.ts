/**
 * The telemetry a twin's model declares (its own, inherited through `extends`, and its components'
 * as `component/name`) and the commands it takes, read from DTDL documents as
 * `GET /models?dependenciesFor=` gives them: the twin page shows declared telemetry first and what
 * the platform derives (residuals, scores, forecasts) apart, and a form per command.
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

/**
 * Calls `visit` with every content element of the model `rootId` — its own, inherited through
 * `extends`, and its components' (with `prefix` "component/") — from `models`, DTDL interfaces
 * (objects with @id), e.g. the `model` fields of GET /models?includeModelDefinition=true.
 */
function visitContents(
  rootId: string,
  models: readonly unknown[],
  visit: (el: Json, name: string, types: string[], prefix: string) => void,
): void {
  const byId = new Map<string, Json>();
  for (const m of models) if (m && typeof m === 'object' && idOf(m)) byId.set(idOf(m)!, m as Json);
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
      visit(el, name, t, prefix);
      if (t.includes('Component') && prefix === '') {
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
}

/** The telemetry names a model declares (components' as `component/name`). */
export function modelTelemetry(rootId: string, models: readonly unknown[]): Set<string> {
  const out = new Set<string>();
  visitContents(rootId, models, (_el, name, t, prefix) => {
    if (t.includes('Telemetry')) out.add(prefix + name);
  });
  return out;
}

/** A command a twin of the model takes (POST /digitaltwins/{id}/commands/{name}). */
export interface ModelCommand {
  name: string;
  description?: string;
  /** The request's name and schema (a DTDL schema: a primitive name, or an object shown as JSON). */
  request?: { name: string; schema: unknown };
}

/** The commands of the model itself and of what it extends (the route takes no component commands). */
export function modelCommands(rootId: string, models: readonly unknown[]): ModelCommand[] {
  const out = new Map<string, ModelCommand>();
  visitContents(rootId, models, (el, name, t, prefix) => {
    if (prefix !== '' || !t.includes('Command') || out.has(name)) return;
    const d = el['description'];
    const description =
      typeof d === 'string'
        ? d
        : d && typeof d === 'object'
          ? (d as Record<string, unknown>)['en']
          : undefined;
    const r = el['request'];
    const req = r && typeof r === 'object' ? (r as Json) : undefined;
    out.set(name, {
      name,
      ...(typeof description === 'string' ? { description } : {}),
      ...(req && typeof req['name'] === 'string'
        ? { request: { name: req['name'], schema: req['schema'] } }
        : {}),
    });
  });
  return [...out.values()];
}

/** The model and every interface it extends, directly or not (ids), from the same documents. */
export function modelLineage(rootId: string, models: readonly unknown[]): Set<string> {
  const byId = new Map<string, Json>();
  for (const m of models) if (m && typeof m === 'object' && idOf(m)) byId.set(idOf(m)!, m as Json);
  const out = new Set<string>();
  const walk = (id: string, depth: number): void => {
    if (out.has(id) || depth > 12) return;
    out.add(id);
    const ext = byId.get(id)?.['extends'];
    for (const e of Array.isArray(ext) ? ext : ext !== undefined ? [ext] : []) {
      const eid = idOf(e);
      if (eid) walk(eid, depth + 1);
    }
  };
  walk(rootId, 0);
  return out;
}
