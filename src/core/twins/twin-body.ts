/**
 * Reading ADT's twin documents and keeping per-property times: the PUT body split into model id,
 * contents and sourceTimes (with every problem), the times a patch operation touches, and the times
 * kept when a twin moves to another model.
 */
import type { Problem } from '../errors/errors.js';
import type { TwinRecord } from '../graph/graph-types.js';
import { isPlainObject } from '../graph/twin-json.js';
import type { InterfaceInfo } from '../models/model-types.js';
import type { HistoryValue } from '../ports/storage-ports.js';
import { toPointer, type PatchOp } from './json-patch.js';
import { readMetadataEntries } from './twin-metadata.js';

/** Splits ADT's twin body into model id, contents (no `$` keys) and problems. */
export function readTwinBody(body: unknown): {
  modelId: string | undefined;
  contents: Record<string, unknown>;
  sourceTimes: Record<string, string>;
  problems: Problem[];
} {
  const problems: Problem[] = [];
  const contents: Record<string, unknown> = {};
  const sourceTimes: Record<string, string> = {};
  const src = 'request body';
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push({
      code: 'twin.notObject',
      message: 'A digital twin must be a JSON object.',
      pointer: '',
      source: src,
    });
    return { modelId: undefined, contents, sourceTimes, problems };
  }
  const b = body as Record<string, unknown>;
  const meta = b.$metadata;
  let modelId: string | undefined;
  if (
    typeof meta !== 'object' ||
    meta === null ||
    typeof (meta as Record<string, unknown>).$model !== 'string'
  ) {
    problems.push({
      code: 'twin.model.missing',
      message: 'A digital twin needs "$metadata": { "$model": "<model id>" }.',
      pointer: '/$metadata/$model',
      source: src,
    });
  } else modelId = (meta as Record<string, string>).$model;
  for (const [k, v] of Object.entries(b)) {
    if (k === '$metadata' || k === '$dtId' || k === '$etag') continue;
    if (k.startsWith('$')) {
      problems.push({
        code: 'twin.member.reserved',
        message: `'${k}' is not a writable system property.`,
        pointer: toPointer([k]),
        source: src,
      });
      continue;
    }
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && '$metadata' in v) {
      const { $metadata: compMeta, ...rest } = v as Record<string, unknown>;
      contents[k] = rest;
      if (isPlainObject(compMeta)) problems.push(...readMetadataEntries(compMeta, k, rest, sourceTimes));
    } else contents[k] = v;
  }
  if (isPlainObject(meta)) problems.push(...readMetadataEntries(meta, undefined, contents, sourceTimes));
  return { modelId, contents, sourceTimes, problems };
}

/**
 * Property times of a twin moved to another model: a property keeps its time when it is still one
 * (at the same key: "prop" or "comp/prop" as the new model has it); touchTimes stamps the rest.
 */
export function retimed(
  iface: InterfaceInfo,
  twin: TwinRecord,
  next: Record<string, unknown>,
): Record<string, number> {
  const times: Record<string, number> = {};
  const keep = (key: string): void => {
    const t = twin.propertyTimes[key];
    times[key] = t ?? twin.lastUpdateTime;
  };
  for (const [name, value] of Object.entries(next)) {
    if (iface.contents.get(name)?.kind === 'Component' && isPlainObject(value)) {
      for (const p of Object.keys(value)) keep(`${name}/${p}`);
    } else keep(name);
  }
  return times;
}

export function valueAt(contents: Record<string, unknown>, path: string): HistoryValue {
  let v: unknown = contents;
  for (const seg of path.split('/')) {
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[seg] : undefined;
  }
  return v === undefined ? null : (v as HistoryValue);
}

/** Updates per-property times for one applied operation; `changed` collects the history paths. */
export function touchTimes(
  iface: InterfaceInfo,
  op: PatchOp,
  next: Record<string, unknown>,
  times: Record<string, number>,
  changed: Set<string>,
  now: number,
): void {
  const [head, second] = op.segments as [string, ...string[]];
  if (iface.contents.get(head)?.kind !== 'Component') {
    if (op.op === 'remove' && op.segments.length === 1) delete times[head];
    else times[head] = now;
    changed.add(head);
    return;
  }
  if (second !== undefined) {
    const key = `${head}/${second}`;
    if (op.op === 'remove' && op.segments.length === 2) delete times[key];
    else times[key] = now;
    changed.add(key);
    return;
  }
  // The whole component was set: its properties are all new.
  for (const k of Object.keys(times)) if (k.startsWith(`${head}/`)) delete times[k];
  const comp = next[head];
  if (typeof comp === 'object' && comp !== null) {
    for (const p of Object.keys(comp)) {
      times[`${head}/${p}`] = now;
      changed.add(`${head}/${p}`);
    }
  }
}
