/**
 * The analytics' read-only view of twins (TwinContext) over the process's in-memory twin graph and
 * its models: model ids, IS_OF_MODEL, current property values and relationship targets. Reads are
 * of the live records, so a property changed a moment ago is what the next reading is judged by.
 */
import type { GraphView } from '../../core/graph/graph-types.js';
import type { TwinContext } from '../analytics-types.js';

export interface GraphTwinContextOptions {
  /** The graph of a workspace (undefined: no such workspace). */
  graphOf: (workspace: string) => GraphView | undefined;
  /** IS_OF_MODEL (ModelService.matchesModel: extends, later versions). */
  isOfModel: (workspace: string, modelId: string, baseId: string) => boolean;
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * A property's value in a twin's contents: `name`, or `component/name`. Own keys only: a property
 * named like an Object.prototype member must not read one.
 */
export function propertyIn(contents: Readonly<Record<string, unknown>>, name: string): unknown {
  const slash = name.indexOf('/');
  if (slash < 0) return hasOwn(contents, name) ? contents[name] : undefined;
  const comp = name.slice(0, slash);
  const c = hasOwn(contents, comp) ? contents[comp] : undefined;
  if (typeof c !== 'object' || c === null) return undefined;
  const prop = name.slice(slash + 1);
  return hasOwn(c, prop) ? (c as Record<string, unknown>)[prop] : undefined;
}

export function graphTwinContext(o: GraphTwinContextOptions): TwinContext {
  return {
    modelOf: (ws, id) => o.graphOf(ws)?.getTwin(id)?.modelId,
    isOfModel: o.isOfModel,
    property(ws, id, name) {
      const twin = o.graphOf(ws)?.getTwin(id);
      return twin === undefined ? undefined : propertyIn(twin.contents, name);
    },
    related(ws, id, rel) {
      const g = o.graphOf(ws);
      if (g === undefined) return [];
      const out: string[] = [];
      for (const r of g.outgoing(id, rel)) out.push(r.targetId);
      return out;
    },
  };
}
