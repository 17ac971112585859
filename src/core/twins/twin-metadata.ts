/**
 * The writable parts of a twin's `$metadata`, as ADT has them since 2022-05-31:
 *
 * - `sourceTime` of a property: when the value was observed in the real world (an RFC 3339 / ISO
 *   8601 date-time, kept exactly as written, sub-millisecond digits included). Set in a PUT body
 *   (`"$metadata": { "temp": { "sourceTime": "…" } }`, and inside a component's own `$metadata`)
 *   or by JSON Patch on `/$metadata/<prop>/sourceTime` (component: `/<comp>/$metadata/<prop>/sourceTime`).
 * - `$model`: a twin moves to another model by `replace /$metadata/$model` (checked by the service).
 *
 * Read-only members a client may send back as it got them (`lastUpdateTime`, `$lastUpdateTime`,
 * `$connection` and the device side of a property: `desiredValue`, `reportedValue`, `pending` …)
 * are ignored; anything else under `$metadata` is a problem with its pointer.
 */
import type { Problem } from '../errors/errors.js';
import { isPlainObject } from '../graph/twin-json.js';
import { toPointer, type PatchOp } from './json-patch.js';

const SRC = 'request body';
/** What $metadata shows of the device side (docs/control.md): read-only, ignored when sent back. */
const DEVICE_MEMBERS: ReadonlySet<string> = new Set([
  'desiredValue',
  'desiredVersion',
  'desiredTime',
  'reportedValue',
  'reportedTime',
  'ackVersion',
  'ackCode',
  'ackDescription',
  'ackTime',
  'pending',
]);
/** RFC 3339 date-time with a zone; any number of fraction digits (ADT's examples use nanoseconds). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** True for a sourceTime ADT accepts. */
export function isSourceTime(v: unknown): v is string {
  return typeof v === 'string' && DATE_TIME.test(v) && !Number.isNaN(Date.parse(v.slice(0, 19) + 'Z'));
}

function badTime(pointer: string): Problem {
  return {
    code: 'twin.metadata.sourceTime',
    message: 'sourceTime must be an RFC 3339 date-time with a zone, e.g. "2024-05-01T12:00:00.123Z".',
    pointer,
    source: SRC,
  };
}

/**
 * Reads the property entries of one `$metadata` object of a PUT body (the twin's, or a component's
 * when `component` is given). Sets `sourceTimes["prop"]` / `["comp/prop"]`; returns the problems.
 */
export function readMetadataEntries(
  meta: Record<string, unknown>,
  component: string | undefined,
  values: Record<string, unknown>,
  sourceTimes: Record<string, string>,
): Problem[] {
  const problems: Problem[] = [];
  const base = component === undefined ? ['$metadata'] : [component, '$metadata'];
  for (const [name, entry] of Object.entries(meta)) {
    // Read-only members a client sends back as it got them (a GET then a PUT): ignored.
    if (
      name === '$model' ||
      name === '$lastUpdateTime' ||
      (name === '$connection' && component === undefined)
    )
      continue;
    const at = toPointer([...base, name]);
    if (name.startsWith('$') || !isPlainObject(entry)) {
      problems.push({
        code: 'twin.metadata.member',
        message: `'${name}' in $metadata is not writable: only "$model" and { "sourceTime": … } of a property are.`,
        pointer: at,
        source: SRC,
      });
      continue;
    }
    for (const [k, v] of Object.entries(entry)) {
      if (k === 'lastUpdateTime' || DEVICE_MEMBERS.has(k)) continue; // read-only, sent back as received
      if (k !== 'sourceTime') {
        problems.push({
          code: 'twin.metadata.member',
          message: `'${k}' of a property's metadata is not writable (only sourceTime is).`,
          pointer: `${at}${toPointer([k])}`,
          source: SRC,
        });
        continue;
      }
      if (!isSourceTime(v)) problems.push(badTime(`${at}/sourceTime`));
      else if (!Object.hasOwn(values, name)) {
        problems.push({
          code: 'twin.metadata.noProperty',
          message: `sourceTime is given for '${name}', which is not set.`,
          pointer: `${at}/sourceTime`,
          source: SRC,
        });
      } else sourceTimes[component === undefined ? name : `${component}/${name}`] = v;
    }
  }
  return problems;
}

/** One JSON Patch operation on `$metadata`, read. */
export type MetadataOp =
  | { kind: 'model'; index: number; value: unknown }
  | { kind: 'sourceTime'; index: number; key: string; prop: string; remove: boolean; value?: string };

/**
 * Splits a twin patch into its value operations and its `$metadata` operations
 * (`/$metadata/$model`, `/$metadata/<p>/sourceTime`, `/<comp>/$metadata/<p>/sourceTime`); every
 * other path through `$…` is a problem. `isComponent` tells components from properties.
 */
export function splitMetadataOps(
  ops: readonly PatchOp[],
  isComponent: (name: string) => boolean,
): { valueOps: PatchOp[]; metaOps: MetadataOp[]; problems: Problem[] } {
  const valueOps: PatchOp[] = [];
  const metaOps: MetadataOp[] = [];
  const problems: Problem[] = [];
  for (const op of ops) {
    const seg = op.segments;
    const refuse = (message: string): void => {
      problems.push({ code: 'patch.path.system', message, pointer: `/${op.index}/path`, source: SRC });
    };
    const metaAt = seg[0] === '$metadata' ? 0 : seg[1] === '$metadata' && isComponent(seg[0]!) ? 1 : -1;
    if (metaAt === -1) {
      if (seg.some((s, i) => s.startsWith('$') && (i === 0 || (i === 1 && isComponent(seg[0]!))))) {
        refuse(
          `${op.path}: system properties ($dtId, $etag, $metadata members other than $model and sourceTime) cannot be patched.`,
        );
      } else valueOps.push(op);
      continue;
    }
    const rest = seg.slice(metaAt + 1);
    if (metaAt === 0 && rest.length === 1 && rest[0] === '$model') {
      if (op.op === 'remove') refuse(`${op.path}: a twin always has a model; replace it instead.`);
      else metaOps.push({ kind: 'model', index: op.index, value: op.value });
      continue;
    }
    if (rest.length === 2 && rest[1] === 'sourceTime' && !rest[0]!.startsWith('$')) {
      const prop = rest[0]!;
      const key = metaAt === 0 ? prop : `${seg[0]!}/${prop}`;
      if (op.op === 'remove') {
        metaOps.push({ kind: 'sourceTime', index: op.index, key, prop, remove: true });
      } else if (!isSourceTime(op.value)) {
        problems.push({ ...badTime(`/${op.index}/value`) });
      } else metaOps.push({ kind: 'sourceTime', index: op.index, key, prop, remove: false, value: op.value });
      continue;
    }
    refuse(
      `${op.path}: only /$metadata/$model and /$metadata/<property>/sourceTime can be patched under $metadata.`,
    );
  }
  return { valueOps, metaOps, problems };
}
