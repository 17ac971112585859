/**
 * Rules on the element graph formed by inclusion and referential inclusion: no path from an element to
 * itself, `extends` at most 10 deep and at most 1024 values in a hierarchy, complex schemas at most 5
 * `schema`/`elementSchema` steps deep, and no Component whose Interface (transitively) holds a Component.
 */
import type { InterfaceInfo } from '../model-types.js';
import type { ParsedElement } from './element-types.js';
import type { ProblemSink } from './problems.js';
import type { KnownInterfaces, References, Target } from './references.js';
import { SCHEMA_STEP_MEMBERS } from './vocabulary.js';

export const MAX_EXTENDS_DEPTH = 10;
export const MAX_EXTENDS_VALUES = 1024;
export const MAX_SCHEMA_DEPTH = 5;

/** Reports cycles; returns the elements that lie on one (later rules skip them to stay finite). */
export function checkCycles(
  elements: readonly ParsedElement[],
  refs: References,
  sink: ProblemSink,
): Set<ParsedElement> {
  const state = new Map<ParsedElement, 1 | 2>();
  const onCycle = new Set<ParsedElement>();
  const stack: ParsedElement[] = [];
  const visit = (el: ParsedElement): void => {
    state.set(el, 1);
    stack.push(el);
    for (const e of refs.edges(el)) {
      if (e.target.kind !== 'element') continue;
      const t = e.target.el;
      const s = state.get(t);
      if (s === 1) {
        const code =
          e.member === 'extends'
            ? 'dtdl.extends.cycle'
            : SCHEMA_STEP_MEMBERS.has(e.member)
              ? 'dtdl.schema.cycle'
              : 'dtdl.reference.cycle';
        sink.error(
          code,
          `"${e.member}" leads back to ${t.id ?? 'an enclosing element'}: an element must not have a path to itself.`,
          el.source,
          e.pointer,
        );
        for (let i = stack.indexOf(t); i < stack.length; i++) onCycle.add(stack[i] as ParsedElement);
      } else if (s === undefined) visit(t);
    }
    stack.pop();
    state.set(el, 2);
  };
  for (const el of elements) if (!state.has(el)) visit(el);
  return onCycle;
}

function knownExtends(info: InterfaceInfo, known: KnownInterfaces | undefined): InterfaceInfo[] {
  const out: InterfaceInfo[] = [];
  for (const id of info.extends) {
    const b = known?.getInterface(id);
    if (b) out.push(b);
  }
  return out;
}

/** Checks the extends depth and count limits of every Interface of the batch. */
export function checkExtends(
  elements: readonly ParsedElement[],
  refs: References,
  known: KnownInterfaces | undefined,
  onCycle: Set<ParsedElement>,
  sink: ProblemSink,
): void {
  const depthMemo = new Map<unknown, number>();
  const depth = (t: Target): number => {
    const key = t.kind === 'element' ? t.el : t.kind === 'known' ? t.info : t;
    const m = depthMemo.get(key);
    if (m !== undefined) return m;
    depthMemo.set(key, 0);
    let d = 0;
    if (t.kind === 'element' && !onCycle.has(t.el))
      for (const b of refs.targets(t.el, 'extends')) d = Math.max(d, 1 + depth(b));
    if (t.kind === 'known')
      for (const b of knownExtends(t.info, known)) d = Math.max(d, 1 + depth({ kind: 'known', info: b }));
    depthMemo.set(key, d);
    return d;
  };
  for (const el of elements) {
    if (el.cls !== 'Interface' || onCycle.has(el)) continue;
    const d = depth({ kind: 'element', el });
    const v2 = el.ctx.version === 2; // v2 bounds each "extends" (2 values) instead of the whole hierarchy
    if (d > MAX_EXTENDS_DEPTH)
      sink.error(
        'dtdl.extends.depth',
        `"extends" is ${d} levels deep; at most ${MAX_EXTENDS_DEPTH} are allowed.`,
        el.source,
        `${el.pointer}/extends`,
      );
    // union of all extends paths: count the values of every extends member met
    const seen = new Set<unknown>();
    let count = 0;
    const walk = (t: Target): void => {
      const key = t.kind === 'element' ? t.el : t.kind === 'known' ? t.info : t;
      if (seen.has(key)) return;
      seen.add(key);
      if (t.kind === 'element') {
        count += t.el.children.get('extends')?.length ?? 0;
        for (const b of refs.targets(t.el, 'extends')) walk(b);
      } else if (t.kind === 'known') {
        count += t.info.extends.length;
        for (const b of knownExtends(t.info, known)) walk({ kind: 'known', info: b });
      }
    };
    walk({ kind: 'element', el });
    if (!v2 && count > MAX_EXTENDS_VALUES)
      sink.error(
        'dtdl.extends.count',
        `The "extends" hierarchy holds ${count} values; at most ${MAX_EXTENDS_VALUES} are allowed.`,
        el.source,
        `${el.pointer}/extends`,
      );
  }
}

const SCHEMA_PATH_MEMBERS = new Set([
  'schema',
  'elementSchema',
  'mapValue',
  'mapKey',
  'fields',
  'enumValues',
]);
const COMPLEX = new Set(['Array', 'Map', 'Object']);

/** Checks the nesting depth of complex schemas. */
export function checkSchemaDepth(
  elements: readonly ParsedElement[],
  refs: References,
  onCycle: Set<ParsedElement>,
  sink: ProblemSink,
): void {
  const memo = new Map<ParsedElement, number>();
  const steps = (el: ParsedElement): number => {
    const m = memo.get(el);
    if (m !== undefined) return m;
    memo.set(el, 0);
    let d = 0;
    if (!onCycle.has(el)) {
      for (const e of refs.edges(el)) {
        if (!SCHEMA_PATH_MEMBERS.has(e.member)) continue;
        const inc = SCHEMA_STEP_MEMBERS.has(e.member) ? 1 : 0;
        d = Math.max(d, inc + (e.target.kind === 'element' ? steps(e.target.el) : 0));
      }
    }
    memo.set(el, d);
    return d;
  };
  for (const el of elements) {
    if (!COMPLEX.has(el.cls)) continue;
    const d = steps(el);
    if (d > MAX_SCHEMA_DEPTH)
      sink.error(
        'dtdl.schema.depth',
        `Complex schemas are nested ${d} levels deep here; at most ${MAX_SCHEMA_DEPTH} are allowed.`,
        el.source,
        el.pointer,
      );
  }
}

const GEOSPATIAL = new Set([
  'point',
  'multiPoint',
  'lineString',
  'multiLineString',
  'polygon',
  'multiPolygon',
]);
const PROPERTY_SCHEMA_PATH = new Set(['schema', 'elementSchema', 'fields', 'mapValue']);

/**
 * DTDL v2: a Property must not be an ancestor of an element whose "schema" includes an Array or a
 * geospatial schema (v3 lifted this: Arrays, hence GeoJSON, are allowed in Properties).
 */
export function checkV2PropertySchemas(
  elements: readonly ParsedElement[],
  refs: References,
  onCycle: Set<ParsedElement>,
  sink: ProblemSink,
): void {
  for (const prop of elements) {
    if (prop.cls !== 'Property' || prop.ctx.version !== 2) continue;
    const seen = new Set<ParsedElement>();
    let found: string | undefined;
    const walk = (el: ParsedElement): void => {
      if (found || seen.has(el) || onCycle.has(el)) return;
      seen.add(el);
      for (const e of refs.edges(el)) {
        if (found || !PROPERTY_SCHEMA_PATH.has(e.member)) continue;
        const t = e.target;
        if (e.member === 'schema' && t.kind === 'std' && GEOSPATIAL.has(t.name))
          found = `the geospatial schema "${t.name}"`;
        else if (e.member === 'schema' && t.kind === 'element' && t.el.cls === 'Array') found = 'an Array';
        else if (t.kind === 'element') walk(t.el);
      }
    };
    walk(prop);
    if (found)
      sink.error(
        'dtdl.property.schemaExcluded',
        `A DTDL v2 Property cannot hold ${found} in its schema (Arrays and geospatial schemas need DTDL v3).`,
        prop.source,
        `${prop.pointer}/schema`,
      );
  }
}
