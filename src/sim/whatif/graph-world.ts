/**
 * The world a what-if run forks from, read off a twin graph: models, properties, relationships and
 * latest telemetry come from the graph (read only: a GraphView has no writers); the live simulation
 * state and applied parameters come from whoever holds them (the device simulator, shadows,
 * calibration), passed in by the composition root.
 */
import type { GraphView } from '../../core/graph/graph-types.js';
import type { WhatIfWorld } from './what-if-types.js';

export interface GraphWorldOptions {
  /** Simulated time now, s (where a twin forks from its model). */
  now: () => number;
  snapshot?: WhatIfWorld['snapshot'];
  parameters?: WhatIfWorld['parameters'];
}

/**
 * @example
 *   const world = graphWorld(graph, { now: () => Date.now() / 1000, snapshot: (id) => ... });
 *   new WhatIfService({ catalog, world, yieldNow });
 */
export function graphWorld(graph: GraphView, o: GraphWorldOptions): WhatIfWorld {
  return {
    modelOf: (id) => graph.getTwin(id)?.modelId,
    property: (id, name) => graph.getTwin(id)?.contents[name],
    related: (id, name, direction) =>
      direction === 'outgoing'
        ? [...graph.outgoing(id, name)].map((r) => r.targetId)
        : [...graph.incoming(id, name)].map((r) => r.sourceId),
    outgoing: (id) => [...graph.outgoing(id)].map((r) => ({ name: r.name, targetId: r.targetId })),
    latest: (id, name) => {
      const t = graph.getTwin(id);
      return t?.telemetry[name]?.value ?? t?.contents[name];
    },
    now: o.now,
    ...(o.snapshot ? { snapshot: o.snapshot } : {}),
    ...(o.parameters ? { parameters: o.parameters } : {}),
  };
}
