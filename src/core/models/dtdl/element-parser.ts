/**
 * The generic DTDL element parser: reads one JSON object as an element of one of the expected classes,
 * applying the rules every class shares (`@context`, `@type` and co-types, `@id`, allowed / irrelevant /
 * undefined members, term-or-DTMI member names, required members) and descending into element members.
 */
import { readContext } from './context.js';
import type { ActiveContext, ContextOptions } from './context.js';
import { MAX_INTERFACE_ID_LENGTH, hasReservedPrefix, isDtmi } from './dtmi.js';
import type { ElementRef, ParsedElement } from './element-types.js';
import { readLiteralMember } from './member-values.js';
import { childPointer } from './positions.js';
import type { Reporter } from './problems.js';
import { NUMERIC_SCHEMAS, standardSchemaOf } from './vocabulary.js';
import { CLASS_SPECS, classOfTypeString, idRequiredIn, isReserved, memberTermOfDtmi } from './vocabulary.js';
import type { ClassName, MemberSpec } from './vocabulary.js';
import { isSemanticType, isUnitOf } from './quantitative-types.js';

export interface ParseState {
  options: ContextOptions;
  elements: ParsedElement[];
  nextPartition: number;
}

export interface Expectation {
  classes: readonly ClassName[];
  defaultClass?: ClassName;
  /** Member of the parent that includes this element ("schemas", "contents", ...). */
  memberName?: string;
  /** The member admits DTDL v2 elements. */
  allowV2?: boolean;
  /** For EnumValues: the parent Enum's valueSchema. */
  enumValueSchema?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface TypeReading {
  cls: ClassName;
  semanticTypes: string[];
  informallyCoTyped: boolean;
}

function readType(
  obj: Record<string, unknown>,
  p: string,
  exp: Expectation,
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
    const c = classOfTypeString(t, ctx.version);
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
  const spec = CLASS_SPECS[cls];
  const semanticTypes: string[] = [];
  let informal = false;
  let ok = true;
  types.forEach((t, i) => {
    const c = classOfTypeString(t, ctx.version);
    if (c && c.cls === cls) return;
    if (t.startsWith('dtmi:') && !isDtmi(t)) {
      r.error('dtdl.type.invalidDtmi', `Type "${t}" starts with "dtmi:" but is not a valid DTMI.`, at(i));
      ok = false;
    } else if (t.includes(':') && !t.startsWith('dtmi:')) {
      r.error('dtdl.type.notDtmiNorTerm', `Type "${t}" is neither a DTMI nor a term.`, at(i));
      ok = false;
    } else if (isReserved(t) || c) {
      if (ctx.undefinedExtension)
        informal = true; // an undefined extension may designate it
      else {
        r.error('dtdl.type.irrelevant', `Type "${t}" cannot co-type a ${cls}.`, at(i));
        ok = false;
      }
    } else if (ctx.quantitativeTypes && isSemanticType(t)) {
      if (spec.semanticTypes) semanticTypes.push(t);
      else {
        r.error('dtdl.type.irrelevant', `Semantic type "${t}" cannot co-type a ${cls}.`, at(i));
        ok = false;
      }
    } else if (ctx.undefinedExtension) {
      informal = true; // defined, perhaps, by an extension whose definition we do not have
    } else {
      r.error(
        'dtdl.type.undefined',
        `Type "${t}" is not defined by DTDL or by an extension in the active context.`,
        at(i),
      );
      ok = false;
    }
  });
  if (!ok && types.length === 0) return undefined;
  return { cls, semanticTypes, informallyCoTyped: informal };
}

function readId(obj: Record<string, unknown>, p: string, cls: ClassName, r: Reporter): string | undefined {
  const v = obj['@id'];
  const ip = childPointer(p, '@id');
  if (typeof v !== 'string') {
    r.error('dtdl.id.invalid', '"@id" must be a DTMI string.', ip);
    return undefined;
  }
  const text: string = v;
  if (!isDtmi(v)) {
    r.error(
      'dtdl.dtmi.invalid',
      `"${text.length > 80 ? `${text.slice(0, 80)}…` : text}" is not a valid DTMI.`,
      ip,
    );
    return undefined;
  }
  if (hasReservedPrefix(v)) {
    r.error('dtdl.id.reserved', `"@id" must not start with "dtmi:dtdl:" or "dtmi:standard:".`, ip);
    return undefined;
  }
  if (cls === 'Interface' && v.length > MAX_INTERFACE_ID_LENGTH) {
    r.error(
      'dtdl.id.tooLong',
      `An Interface "@id" must not be longer than ${MAX_INTERFACE_ID_LENGTH} characters.`,
      ip,
    );
    return undefined;
  }
  return v;
}

/** Parses one element; returns undefined (after reporting) when it cannot be read as any expected class. */
export function parseElement(
  v: unknown,
  p: string,
  exp: Expectation,
  parent: ParsedElement | undefined,
  parentCtx: ActiveContext,
  topLevel: boolean,
  st: ParseState,
  source: string,
  r: Reporter,
): ParsedElement | undefined {
  if (!isObject(v)) {
    r.error(
      'dtdl.element.invalid',
      `Expected a DTDL element (a JSON object) of class ${exp.classes.join(' or ')}.`,
      p,
    );
    return undefined;
  }
  const ctx = readContext(
    v['@context'],
    '@context' in v ? childPointer(p, '@context') : p,
    parentCtx,
    topLevel,
    st.options,
    r,
  );
  if (ctx.version === 2 && !topLevel && ctx !== parentCtx && !exp.allowV2)
    r.error(
      'dtdl.context.version',
      `A DTDL v2 element is not allowed in "${exp.memberName ?? ''}" of a DTDL v3 element.`,
      p,
    );
  const tr = readType(v, p, exp, ctx, r);
  if (!tr) return undefined;
  const { cls } = tr;
  const spec = CLASS_SPECS[cls];
  const newPartition = topLevel || cls === 'Interface' || !parent;
  const el: ParsedElement = {
    cls,
    source,
    pointer: p,
    partition: newPartition ? st.nextPartition++ : parent.partition,
    topLevel,
    ctx,
    semanticTypes: tr.semanticTypes,
    children: new Map(),
  };
  if (parent) el.parent = parent;
  if (exp.memberName) el.parentMember = exp.memberName;
  st.elements.push(el);

  if ('@id' in v) {
    const id = readId(v, p, cls, r);
    if (id) el.id = id;
  } else if (idRequiredIn(cls, exp.memberName)) {
    r.error(
      'dtdl.id.required',
      `A ${cls} ${cls === 'Interface' ? '' : 'in "schemas" '}must have an "@id".`,
      p,
    );
  }

  const seen = new Map<string, string>();
  let unitMember: { value: unknown; pointer: string } | undefined;
  const enumVs = cls === 'Enum' ? rawValueSchema(v, ctx.version) : undefined;
  for (const [key, value] of Object.entries(v)) {
    const kp = childPointer(p, key);
    if (key.startsWith('@')) {
      if (key !== '@context' && key !== '@id' && key !== '@type')
        r.error('dtdl.member.keyword', `Keyword "${key}" is not allowed in a ${cls}.`, kp);
      continue;
    }
    let term: string | undefined;
    if (Object.prototype.hasOwnProperty.call(spec.members, key)) term = key;
    else {
      const t = memberTermOfDtmi(key, ctx.version);
      if (t && Object.prototype.hasOwnProperty.call(spec.members, t)) {
        term = t;
        r.warn('dtdl.style.preferTerm', `Prefer "${t}" over "${key}".`, kp);
      }
    }
    if (term) {
      if (seen.has(term)) {
        r.error('dtdl.member.termAndDtmi', `"${term}" is given twice (as a term and as a DTMI).`, kp);
        continue;
      }
      seen.set(term, key);
      const ms = spec.members[term] as MemberSpec;
      if (ms.kind === 'elements' || ms.kind === 'schema')
        readElementMember(el, term, ms, value, kp, st, r, enumVs);
      else readLiteralMember(el, term, ms, value, kp, r, exp.enumValueSchema);
      continue;
    }
    if (key === 'unit' && tr.semanticTypes.length > 0) {
      unitMember = { value, pointer: kp };
      continue;
    }
    if (key.startsWith('dtmi:') && !isDtmi(key))
      r.error('dtdl.member.invalidDtmi', `Member "${key}" starts with "dtmi:" but is not a valid DTMI.`, kp);
    else if (key.includes(':') && !key.startsWith('dtmi:'))
      r.error('dtdl.member.notDtmiNorTerm', `Member "${key}" is neither a DTMI nor a term.`, kp);
    else if (tr.informallyCoTyped)
      continue; // an undefined extension may define it
    else if (isDtmi(key) || isReserved(key))
      r.error('dtdl.member.irrelevant', `Member "${key}" is not allowed in a ${cls}.`, kp);
    else r.error('dtdl.member.undefined', `Member "${key}" is not defined for a ${cls}.`, kp);
  }
  for (const [term, ms] of Object.entries(spec.members)) {
    if (ms.required && !seen.has(term)) r.error('dtdl.member.required', `A ${cls} must have "${term}".`, p);
  }
  if (tr.semanticTypes.length > 0) checkQuantity(el, unitMember, p, r);
  return el;
}

function checkQuantity(
  el: ParsedElement,
  unit: { value: unknown; pointer: string } | undefined,
  p: string,
  r: Reporter,
): void {
  const schema = el.children.get('schema')?.[0];
  if (schema && !(schema.kind === 'std' && NUMERIC_SCHEMAS.has(schema.name)))
    r.error(
      'dtdl.semanticType.schema',
      `A ${el.semanticTypes.join('/')} must have a numeric schema (double, float, integer or long).`,
      childPointer(p, 'schema'),
    );
  if (!unit) return;
  const u = Array.isArray(unit.value) && unit.value.length === 1 ? (unit.value[0] as unknown) : unit.value;
  if (typeof u !== 'string' || !el.semanticTypes.some((t) => isUnitOf(t, u)))
    r.error('dtdl.unit.invalid', `"unit" must be a unit of ${el.semanticTypes.join('/')}.`, unit.pointer);
  else el.unit = u;
}

function readElementMember(
  el: ParsedElement,
  term: string,
  ms: MemberSpec,
  value: unknown,
  p: string,
  st: ParseState,
  r: Reporter,
  enumVs: string | undefined,
): void {
  const items = Array.isArray(value) ? value : [value];
  const card = ms.card ?? 'many';
  if ((card === 'exactlyOne' && items.length !== 1) || (card === 'atMostOne' && items.length > 1)) {
    r.error(
      'dtdl.member.value',
      `"${term}" must hold ${card === 'exactlyOne' ? 'exactly one' : 'at most one'} value.`,
      p,
    );
    return;
  }
  const refs: ElementRef[] = [];
  items.forEach((item, i) => {
    const ip = Array.isArray(value) ? childPointer(p, i) : p;
    if (isObject(item)) {
      const childExp: Expectation = {
        classes: ms.classes ?? [],
        memberName: term,
        allowV2: ms.allowV2 === true,
      };
      if (ms.defaultClass) childExp.defaultClass = ms.defaultClass;
      if (term === 'enumValues') {
        if (enumVs) childExp.enumValueSchema = enumVs;
      }
      const child = parseElement(item, ip, childExp, el, el.ctx, false, st, el.source, r);
      if (child) refs.push({ kind: 'element', el: child });
      return;
    }
    if (typeof item === 'string') {
      if (ms.kind === 'schema') {
        const std = standardSchemaOf(item, el.ctx.version);
        if (std) {
          if (std.viaDtmi) r.warn('dtdl.style.preferTerm', `Prefer "${std.name}" over "${item}".`, ip);
          refs.push({ kind: 'std', name: std.name });
          return;
        }
      }
      if (
        isDtmi(item) &&
        !isReserved(item) &&
        !item.startsWith('dtmi:dtdl:') &&
        !item.startsWith('dtmi:standard:')
      ) {
        refs.push({ kind: 'ref', id: item, pointer: ip });
        return;
      }
    }
    r.error(
      ms.kind === 'schema' ? 'dtdl.schema.invalid' : 'dtdl.member.value',
      ms.kind === 'schema'
        ? `"${term}" must be a standard schema, a complex schema element or the DTMI of one.`
        : `"${term}" must hold DTDL elements or DTMI references to them.`,
      ip,
    );
  });
  el.children.set(term, refs);
}

/** An Enum's valueSchema is needed while reading its enumValues, which may come first in the object. */
function rawValueSchema(obj: Record<string, unknown>, version: number): string | undefined {
  const raw = obj.valueSchema ?? obj[`dtmi:dtdl:property:valueSchema;${version}`];
  const v = Array.isArray(raw) && raw.length === 1 ? (raw[0] as unknown) : raw;
  if (typeof v !== 'string') return undefined;
  for (const t of ['integer', 'string']) {
    if (
      v === t ||
      v === `dtmi:dtdl:instance:Schema:${t};${version}` ||
      v === `dtmi:dtdl:instance:Schema:${t};2`
    )
      return t;
  }
  return undefined;
}
