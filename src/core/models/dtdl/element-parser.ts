/**
 * The generic DTDL element parser: reads one JSON object as an element of one of the expected classes,
 * applying the rules every class shares (`@context`, `@type` and co-types, `@id`, allowed / irrelevant /
 * undefined members, term-or-DTMI member names, required members) and descending into element members.
 */
import { readContext } from './context.js';
import type { ActiveContext, ContextOptions } from './context.js';
import { MAX_INTERFACE_ID_LENGTH, hasReservedPrefix, isDtmi, isDtmiIn } from './dtmi.js';
import { checkQuantity, readType } from './element-type.js';
import type { UnitMember } from './element-type.js';
import type { ElementRef, ParsedElement } from './element-types.js';
import { classSpec, isReservedIn } from './language.js';
import { readLiteralMember } from './member-values.js';
import { childPointer } from './positions.js';
import type { Reporter } from './problems.js';
import { idRequiredIn, memberTermOfDtmi, standardSchemaOf } from './vocabulary.js';
import type { ClassName, MemberSpec } from './vocabulary.js';

/** Deepest structural nesting of elements read (DTDL's own limits keep valid models far below it). */
export const MAX_ELEMENT_DEPTH = 64;

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

function readId(
  obj: Record<string, unknown>,
  p: string,
  cls: ClassName,
  version: number,
  r: Reporter,
): string | undefined {
  const v = obj['@id'];
  const ip = childPointer(p, '@id');
  if (typeof v !== 'string') {
    r.error('dtdl.id.invalid', '"@id" must be a DTMI string.', ip);
    return undefined;
  }
  const text: string = v;
  if (!isDtmiIn(v, version)) {
    const v2hint = version === 2 && isDtmi(v) ? ' in DTDL v2 (a version ";N" is required, N an integer)' : '';
    r.error(
      'dtdl.dtmi.invalid',
      `"${text.length > 80 ? `${text.slice(0, 80)}…` : text}" is not a valid DTMI${v2hint}.`,
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
  let depth = 0;
  for (let q = parent; q && depth <= MAX_ELEMENT_DEPTH; q = q.parent) depth++;
  if (depth > MAX_ELEMENT_DEPTH) {
    // Far beyond what DTDL's limits allow (extends 10, schemas 5 deep): stop before the stack does.
    r.error(
      'dtdl.element.tooDeep',
      `Elements are nested more than ${MAX_ELEMENT_DEPTH} levels deep here; DTDL's limits allow far less.`,
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
  // v3 admits v2 elements in some members (contents, extends, schema ...); v2 admits no other version.
  if (!topLevel && ctx.version !== parentCtx.version && !(ctx.version === 2 && exp.allowV2))
    r.error(
      'dtdl.context.version',
      `A DTDL v${ctx.version} element is not allowed in "${exp.memberName ?? ''}" of a DTDL v${parentCtx.version} element.`,
      p,
    );
  const tr = readType(v, p, exp, ctx, r);
  if (!tr) return undefined;
  const { cls } = tr;
  const v2 = ctx.version === 2;
  const spec = classSpec(cls, ctx.version);
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
    const id = readId(v, p, cls, ctx.version, r);
    if (id) el.id = id;
  } else if (idRequiredIn(cls, exp.memberName)) {
    r.error(
      'dtdl.id.required',
      `A ${cls} ${cls === 'Interface' ? '' : 'in "schemas" '}must have an "@id".`,
      p,
    );
  }

  const seen = new Map<string, string>();
  let unitMember: UnitMember | undefined;
  const enumVs = cls === 'Enum' ? rawValueSchema(v, ctx.version) : undefined;
  for (const [key, value] of Object.entries(v)) {
    const kp = childPointer(p, key);
    if (key.startsWith('@')) {
      if (key === '@context' || key === '@id' || key === '@type') continue;
      // v2: "@graph" must not be present, other keywords should not; v3: no other keyword.
      if (v2 && key !== '@graph')
        r.warn('dtdl.member.keyword', `Keyword "${key}" should not be used in a ${cls}.`, kp);
      else r.error('dtdl.member.keyword', `Keyword "${key}" is not allowed in a ${cls}.`, kp);
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
    if ((key === 'unit' || (v2 && key === 'dtmi:dtdl:property:unit;2')) && tr.semanticTypes.length > 0) {
      if (unitMember)
        r.error('dtdl.member.termAndDtmi', '"unit" is given twice (as a term and as a DTMI).', kp);
      else {
        unitMember = { value, pointer: kp };
        if (key !== 'unit') r.warn('dtdl.style.preferTerm', `Prefer "unit" over "${key}".`, kp);
      }
      continue;
    }
    if (v2 && tr.informallyCoTyped) continue; // v2: an informal co-type may define any member
    if (key.startsWith('dtmi:') && !isDtmiIn(key, ctx.version))
      r.error('dtdl.member.invalidDtmi', `Member "${key}" starts with "dtmi:" but is not a valid DTMI.`, kp);
    else if (key.includes(':') && !key.startsWith('dtmi:'))
      r.error('dtdl.member.notDtmiNorTerm', `Member "${key}" is neither a DTMI nor a term.`, kp);
    else if (tr.informallyCoTyped)
      continue; // an undefined extension may define it
    else if (isDtmi(key) || isReservedIn(key, ctx.version))
      r.error('dtdl.member.irrelevant', `Member "${key}" is not allowed in a ${cls}.`, kp);
    else r.error('dtdl.member.undefined', `Member "${key}" is not defined for a ${cls}.`, kp);
  }
  for (const [term, ms] of Object.entries(spec.members)) {
    if (ms.required && !seen.has(term)) r.error('dtdl.member.required', `A ${cls} must have "${term}".`, p);
  }
  if (tr.semanticTypes.length > 0) checkQuantity(el, unitMember, p, r);
  return el;
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
  if (ms.minCount !== undefined && items.length < ms.minCount)
    r.error(
      'dtdl.member.count',
      `"${term}" of a DTDL v${el.ctx.version} ${el.cls} must hold at least ${ms.minCount} value(s).`,
      p,
    );
  if (ms.maxCount !== undefined && items.length > ms.maxCount)
    r.error(
      'dtdl.member.count',
      `"${term}" of a DTDL v${el.ctx.version} ${el.cls} holds ${items.length} values; at most ${ms.maxCount} are allowed.`,
      p,
    );
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
        isDtmiIn(item, el.ctx.version) &&
        !isReservedIn(item, el.ctx.version) &&
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
