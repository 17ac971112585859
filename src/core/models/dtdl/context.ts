/**
 * `@context` rules of DTDL v3 and v2: shape, DTMI-with-version values, the DTDL context first, known extensions,
 * and how contexts combine down the element hierarchy into the *active context* of each element.
 */
import { deversion, hasVersion, isDtmi, isDtmiV2, majorVersion } from './dtmi.js';
import type { Reporter } from './problems.js';
import { QUANTITATIVE_TYPES_CONTEXT } from './quantitative-types.js';

const DTDL_CONTEXT_PREFIX = 'dtmi:dtdl:context;';
export const DTDL_V3_CONTEXT = 'dtmi:dtdl:context;3';
export const DTDL_V2_CONTEXT = 'dtmi:dtdl:context;2';
/** IoT Central's v2 extension: allowed (discouraged) before the DTDL context; its definition is not built in. */
const IOTCENTRAL_V2_CONTEXT = 'dtmi:iotcentral:context;2';

/** Extension contexts this parser knows the definition of. */
export const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([QUANTITATIVE_TYPES_CONTEXT]);

export interface ActiveContext {
  /** DTDL language version of the element (2 or 3). */
  version: number;
  /** Active values, keyed by their de-versioned form. */
  values: ReadonlyMap<string, string>;
  /** True when the quantitativeTypes extension is active. */
  quantitativeTypes: boolean;
  /** True when an extension without an available definition is active (model contextually incomplete). */
  undefinedExtension: boolean;
}

export const ROOTLESS_CONTEXT: ActiveContext = {
  version: 3,
  values: new Map(),
  quantitativeTypes: false,
  undefinedExtension: false,
};

export interface ContextOptions {
  allowUndefinedExtensions: boolean;
}

/**
 * Reads an element's `@context` (value may be undefined when the element has none) and returns its active
 * context. Problems go to `r`; a broken value leaves the parent's context in force.
 */
export function readContext(
  value: unknown,
  pointer: string,
  parent: ActiveContext,
  topLevel: boolean,
  options: ContextOptions,
  r: Reporter,
): ActiveContext {
  if (value === undefined) {
    if (topLevel)
      r.error(
        'dtdl.context.missing',
        'A top-level element must have "@context" including "dtmi:dtdl:context;3" (or ";2" for DTDL v2).',
        pointer,
      );
    return parent;
  }
  let items: unknown[];
  if (typeof value === 'string') items = [value];
  else if (Array.isArray(value)) items = value;
  else {
    r.error('dtdl.context.invalid', '"@context" must be a string or an array of strings.', pointer);
    return parent;
  }
  const strings: string[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const p = Array.isArray(value) ? `${pointer}/${i}` : pointer;
    if (typeof item !== 'string') {
      r.error('dtdl.context.invalid', 'Every "@context" value must be a string.', p);
      ok = false;
    } else if (!isDtmi(item) || !hasVersion(item)) {
      r.error('dtdl.context.invalid', `Context "${item}" must be a DTMI with a version number.`, p);
      ok = false;
    } else strings.push(item);
  });
  if (!ok) return parent;

  // The element's DTDL version decides which context rules apply: the last DTDL context in force.
  const merged = new Map(parent.values);
  for (const s of strings) merged.set(deversion(s), s);
  const dtdlValue = merged.get('dtmi:dtdl:context');
  const version = dtdlValue ? (majorVersion(dtdlValue) ?? 3) : parent.version;

  let sawOther = false;
  let dtdlCount = 0;
  const seen = new Set<string>();
  const seenDeversioned = new Set<string>();
  const values = new Map(parent.values);
  let undefinedExtension = parent.undefinedExtension;
  strings.forEach((s, i) => {
    const p = Array.isArray(value) ? `${pointer}/${i}` : pointer;
    if (seen.has(s)) r.warn('dtdl.context.duplicate', `Context "${s}" is listed more than once.`, p);
    else if (seenDeversioned.has(deversion(s)))
      r.warn('dtdl.context.duplicate', `Context "${s}" repeats a context with another version.`, p);
    seen.add(s);
    seenDeversioned.add(deversion(s));
    if (version === 2 && !isDtmiV2(s))
      r.error('dtdl.context.invalid', `Context "${s}" must be a DTDL v2 DTMI (integer version).`, p);
    if (s.startsWith(DTDL_CONTEXT_PREFIX)) {
      const v = majorVersion(s);
      if (v !== 2 && v !== 3)
        r.error('dtdl.context.version', `"${s}" is not a DTDL version this parser knows (2 or 3).`, p);
      if (version === 2 && s === DTDL_V2_CONTEXT && i > 0) {
        // v2: the DTDL context comes first; only IoT Central's context may (but should not) precede it.
        if (strings.slice(0, i).every((x) => x === IOTCENTRAL_V2_CONTEXT))
          r.warn('dtdl.context.order', `"${DTDL_V2_CONTEXT}" should be the first context.`, p);
        else r.error('dtdl.context.order', `"${DTDL_V2_CONTEXT}" must be the first context.`, p);
      } else if (version !== 2 && sawOther)
        r.error('dtdl.context.order', '"dtmi:dtdl:context;3" must precede any extension context.', p);
      dtdlCount++;
      if (dtdlCount === 2)
        r.warn('dtdl.context.multipleDtdl', 'More than one DTDL language context is listed.', p);
    } else {
      sawOther = true;
      // quantitativeTypes extends DTDL v3; v2 has its semantic types built in and no such extension.
      const known = KNOWN_EXTENSIONS.has(s) && version !== 2;
      if (!known) {
        if (options.allowUndefinedExtensions) undefinedExtension = true;
        else
          r.error(
            'dtdl.context.undefinedExtension',
            `Extension context "${s}" has no available definition${version === 2 ? ' for DTDL v2' : ''}.`,
            p,
          );
      }
    }
    values.set(deversion(s), s);
  });
  if (topLevel && !strings.includes(DTDL_V3_CONTEXT) && !strings.includes(DTDL_V2_CONTEXT))
    r.error(
      'dtdl.context.missing',
      'A top-level element must have "@context" including "dtmi:dtdl:context;3" (or ";2" for DTDL v2).',
      pointer,
    );

  // An extension listed with another version than the one we know is not defined for us.
  const quant =
    version !== 2 &&
    values.get(QUANTITATIVE_TYPES_CONTEXT.split(';')[0] ?? '') === QUANTITATIVE_TYPES_CONTEXT;
  return { version, values, quantitativeTypes: quant, undefinedExtension };
}
