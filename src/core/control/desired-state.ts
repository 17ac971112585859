/**
 * The desired-state document of a twin: its writable properties that are set (components as nested
 * objects), the desired version and the twin's etag. Devices get it retained on `twins/{id}/desired`.
 */
import type { TwinRecord } from '../graph/graph-types.js';
import type { ContentInfo, ModelLookup } from '../models/model-types.js';
import type { DesiredStateMessage } from './device-topics.js';

export function desiredDocument(twin: TwinRecord, models: ModelLookup): DesiredStateMessage {
  const desired: Record<string, unknown> = {};
  const iface = models.getInterface(twin.modelId);
  if (iface) {
    for (const c of iface.contents.values()) {
      const v = twin.contents[c.name];
      if (v === undefined) continue;
      if (isWritable(c)) desired[c.name] = v;
      else if (c.kind === 'Component' && typeof v === 'object' && v !== null) {
        const comp = models.getInterface(c.schema);
        const sub: Record<string, unknown> = {};
        for (const [k, cv] of Object.entries(v as Record<string, unknown>)) {
          const cc = comp?.contents.get(k);
          if (cc && isWritable(cc)) sub[k] = cv;
        }
        if (Object.keys(sub).length) desired[c.name] = sub;
      }
    }
  }
  return {
    desired,
    $version: twin.device?.desiredVersion ?? 0,
    $etag: twin.etag,
    $lastUpdateTime: new Date(twin.lastUpdateTime).toISOString(),
  };
}

export function isWritable(c: ContentInfo): boolean {
  return c.kind === 'Property' && c.writable;
}
