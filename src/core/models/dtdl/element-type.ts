/**
 * Reading an element's `@type` (its class among the expected ones, its semantic types, whether it is
 * informally co-typed) and checking semantic types against `schema` and `unit`. DTDL v2 and v3 differ
 * here: v2 has semantic types and units built in (one per element, `unit` required, terms or
 * "dtmi:standard:..." DTMIs) and lets any undefined term or non-DTMI IRI co-type an element (which then
 * may carry undefined members); v3 takes semantic types from the quantitativeTypes extension and rejects
 * undefined co-types.
 */
import type { ActiveContext } from './context.js';
import { isDtmiIn } from './dtmi.js';
import type { ParsedElement } from './element-types.js';
import { classOfType, classSpec, isReservedIn } from './language.js';
import { childPointer } from './positions.js';
import type { Reporter } from './problems.js';
import { isSemanticType, isUnitOf } from './quantitative-types.js';
import { isUnitOfV2, semanticTypeV2, unitV2 } from './semantic-types-v2.js';
import { NUMERIC_SCHEMAS } from './vocabulary.js';
import type { ClassName } from './vocabulary.js';

export interface TypeReading {
  cls: ClassName;
  /** Semantic types as terms ("Temperature"), whatever form they were written in. */
  semanticTypes: string[];
  informallyCoTyped: boolean;
}

export interface TypeExpectation {
  classes: readonly ClassName[];
  defaultClass?: ClassName;
}

/** Reads `@type`; undefined (after reporting) when no expected class is among its values. */
export function readType(
  obj: Record<string, unknown>,
  p: string,
  exp: TypeExpectation,
  ctx: ActiveContext,
  r: Reporter,
): TypeReading | undefined {
  const tp = childPointer(p, '@type');
  if (!('@type' in obj)) {
    if (exp.defaultClass) return { cls: exp.defaultClass, semanticTypes: [], informallyCoTyped: false };
    r.error('dtdl.type.missing', `"@type" is required here (one of ${exp.classes.join(', ')}).`, p);
    return undefined;
  }
  const raw = obj['@type'];
  const list = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  if (!list || list.some((t) => typeof t !== 'string')) {
    r.error('dtdl.type.invalid', '"@type" must be a string or an array of strings.', tp);
    return undefined;
  }
  const types = list as string[];
  const at = (i: number): string => (typeof raw === 'string' ? tp : childPointer(tp, i));
  const material = new Map<ClassName, number>();
  types.forEach((t, i) => {
    const c = classOfType(t, ctx.version);
    if (c && exp.classes.includes(c.cls)) {
      material.set(c.cls, (material.get(c.cls) ?? 0) + 1);
      if (c.viaDtmi) r.warn('dtdl.style.preferTerm', `Prefer "${c.cls}" over "${t}".`, at(i));
    }
  });
  if (material.size === 0) {
    r.error(
      'dtdl.type.notAllowed',
      `"@type" must include ${exp.classes.map((c) => `"${c}"`).join(' or ')} here.`,
      tp,
    );
    return undefined;
  }
  const [cls] = [...material.keys()] as [ClassName];
  if ((material.get(cls) ?? 0) > 1)
    r.warn('dtdl.style.duplicateType', `"@type" lists "${cls}" more than once.`, tp);
  const spec = classSpec(cls, ctx.version);
  const v2 = ctx.version === 2;
  const semanticTypes: string[] = [];
  let informal = false;
  const irrelevant = (t: string, i: number, what = 'Type'): void => {
    if (ctx.undefinedExtension)
      informal = true; // an undefined extension may designate it
    else r.error('dtdl.type.irrelevant', `${what} "${t}" cannot co-type a ${cls}.`, at(i));
  };
  types.forEach((t, i) => {
    const c = classOfType(t, ctx.version);
    if (c && c.cls === cls) return;
    const st = v2 ? semanticTypeV2(t) : undefined;
    if (t.startsWith('dtmi:') && !isDtmiIn(t, ctx.version)) {
      r.error('dtdl.type.invalidDtmi', `Type "${t}" starts with "dtmi:" but is not a valid DTMI.`, at(i));
    } else if (t.includes(':') && !t.startsWith('dtmi:')) {
      if (v2)
        informal = true; // v2 allows any other IRI as an (informal) co-type
      else r.error('dtdl.type.notDtmiNorTerm', `Type "${t}" is neither a DTMI nor a term.`, at(i));
    } else if (st) {
      if (!spec.semanticTypes) irrelevant(t, i, 'Semantic type');
      else {
        if (st.viaDtmi) r.warn('dtdl.style.preferTerm', `Prefer "${st.term}" over "${t}".`, at(i));
        if (semanticTypes.includes(st.term))
          r.warn('dtdl.style.duplicateType', `"@type" lists "${st.term}" more than once.`, at(i));
        else semanticTypes.push(st.term);
      }
    } else if (isReservedIn(t, ctx.version) || c || (v2 && t.startsWith('dtmi:'))) {
      irrelevant(t, i);
    } else if (!v2 && ctx.quantitativeTypes && isSemanticType(t)) {
      if (spec.semanticTypes) semanticTypes.push(t);
      else irrelevant(t, i, 'Semantic type');
    } else if (v2 || ctx.undefinedExtension) {
      informal = true; // v2: an undefined term co-types informally; v3: an undefined extension may define it
    } else {
      r.error(
        'dtdl.type.undefined',
        `Type "${t}" is not defined by DTDL or by an extension in the active context.`,
        at(i),
      );
    }
  });
  if (v2 && semanticTypes.length > 1)
    r.error(
      'dtdl.semanticType.multiple',
      `A DTDL v2 ${cls} may have one semantic type, not ${semanticTypes.join(' and ')}.`,
      tp,
    );
  return { cls, semanticTypes, informallyCoTyped: informal };
}

/** The `unit` member of a semantically typed element, as found (value and where). */
export interface UnitMember {
  value: unknown;
  pointer: string;
}

/** Checks the schema and unit of an element with semantic types; sets `el.unit` (a term) when valid. */
export function checkQuantity(el: ParsedElement, unit: UnitMember | undefined, p: string, r: Reporter): void {
  const schema = el.children.get('schema')?.[0];
  if (schema && !(schema.kind === 'std' && NUMERIC_SCHEMAS.has(schema.name)))
    r.error(
      'dtdl.semanticType.schema',
      `A ${el.semanticTypes.join('/')} must have a numeric schema (double, float, integer or long).`,
      childPointer(p, 'schema'),
    );
  if (!unit) {
    if (el.ctx.version === 2)
      r.error(
        'dtdl.unit.missing',
        `A ${el.cls} with semantic type ${el.semanticTypes.join('/')} must have "unit".`,
        p,
      );
    return;
  }
  const u = Array.isArray(unit.value) && unit.value.length === 1 ? (unit.value[0] as unknown) : unit.value;
  if (el.ctx.version === 2) {
    const read = typeof u === 'string' ? unitV2(u) : undefined;
    if (!read || !el.semanticTypes.some((t) => isUnitOfV2(t, read.term))) {
      r.error(
        'dtdl.unit.invalid',
        `"unit" must be a DTDL v2 unit of ${el.semanticTypes.join('/')}${typeof u === 'string' ? `, not "${u}"` : ''}.`,
        unit.pointer,
      );
      return;
    }
    if (read.viaDtmi)
      r.warn('dtdl.style.preferTerm', `Prefer "${read.term}" over "${String(u)}".`, unit.pointer);
    el.unit = read.term;
    return;
  }
  if (typeof u !== 'string' || !el.semanticTypes.some((t) => isUnitOf(t, u)))
    r.error('dtdl.unit.invalid', `"unit" must be a unit of ${el.semanticTypes.join('/')}.`, unit.pointer);
  else el.unit = u;
}
