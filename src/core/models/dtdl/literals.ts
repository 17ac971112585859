/**
 * Representational literals (a bare JSON string/integer/boolean or an `{"@value", "@type"}` object) and
 * localizable strings (a string, an array of strings and language-tagged values, or a language map).
 */
import { childPointer } from './positions.js';
import type { Reporter } from './problems.js';

export type LiteralKind = 'string' | 'integer' | 'boolean';
type LiteralValue = string | number | boolean;

const XSD_TYPES: Record<LiteralKind, readonly string[]> = {
  string: ['xsd:string', 'http://www.w3.org/2001/XMLSchema#string'],
  integer: ['xsd:integer', 'http://www.w3.org/2001/XMLSchema#integer'],
  boolean: ['xsd:boolean', 'http://www.w3.org/2001/XMLSchema#boolean'],
};

const LANGUAGE_RE = /^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$/;

export const MAX_STRING_LENGTH = 512;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for an integer expressible in 4 bytes. */
export function isInt32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;
}

function bareOk(kind: LiteralKind, v: unknown): v is LiteralValue {
  if (kind === 'string') return typeof v === 'string';
  if (kind === 'boolean') return typeof v === 'boolean';
  return isInt32(v);
}

/**
 * Checks the extra members of a value object (beyond `allowed`). v3: none may be present. v2 (`lenient`):
 * every name must start with "@", "@id", "@context" and "@graph" must not be present, other keywords
 * should not (a warning). Returns false when an error was reported.
 */
function checkValueObjectKeys(
  v: Record<string, unknown>,
  allowed: readonly string[],
  p: string,
  what: string,
  lenient: boolean,
  r: Reporter,
): boolean {
  let ok = true;
  for (const key of Object.keys(v)) {
    if (allowed.includes(key)) continue;
    const kp = childPointer(p, key);
    const only = `${allowed.map((a) => `"${a}"`).join(' and ')}`;
    if (lenient && key.startsWith('@') && !['@id', '@context', '@graph'].includes(key)) {
      r.warn('dtdl.literal.keyword', `${what} should only have ${only}, not "${key}".`, kp);
      continue;
    }
    r.error(
      what.startsWith('A language') ? 'dtdl.lstring.invalid' : 'dtdl.literal.invalid',
      `${what} may only have ${only}, not "${key}".`,
      kp,
    );
    ok = false;
  }
  return ok;
}

/** One representational literal; undefined (after reporting) when it is not one. */
export function readLiteral(
  kind: LiteralKind,
  v: unknown,
  p: string,
  member: string,
  r: Reporter,
  lenient = false,
): LiteralValue | undefined {
  if (bareOk(kind, v)) return v;
  if (!isObject(v)) {
    r.error('dtdl.literal.invalid', `"${member}" must be a ${kind} (or a value object holding one).`, p);
    return undefined;
  }
  let ok = checkValueObjectKeys(v, ['@value', '@type'], p, `A value object of "${member}"`, lenient, r);
  if (!('@value' in v)) {
    r.error('dtdl.literal.invalid', `A value object of "${member}" must have "@value".`, p);
    return undefined;
  }
  const value = v['@value'];
  if (!bareOk(kind, value)) {
    r.error('dtdl.literal.invalid', `"@value" of "${member}" must be a ${kind}.`, childPointer(p, '@value'));
    ok = false;
  }
  if ('@type' in v) {
    const raw = v['@type'];
    const t = Array.isArray(raw) && raw.length === 1 ? (raw[0] as unknown) : raw;
    if (typeof t !== 'string' || !XSD_TYPES[kind].includes(t)) {
      r.error(
        'dtdl.literal.invalid',
        `"@type" of a ${kind} value object must be "${XSD_TYPES[kind][0]}".`,
        childPointer(p, '@type'),
      );
      ok = false;
    }
  } else r.warn('dtdl.literal.untyped', `A value object of "${member}" should have "@type".`, p);
  return ok ? (value as LiteralValue) : undefined;
}

/**
 * A member holding one literal, or an array of at most / exactly one. Returns null when absent-by-array
 * (an empty array where that is allowed), undefined on error.
 */
export function readSingleLiteral(
  kind: LiteralKind,
  v: unknown,
  p: string,
  member: string,
  card: 'atMostOne' | 'exactlyOne',
  r: Reporter,
  lenient = false,
): LiteralValue | null | undefined {
  if (Array.isArray(v)) {
    if (v.length > 1 || (card === 'exactlyOne' && v.length === 0)) {
      r.error(
        'dtdl.literal.invalid',
        `"${member}" must hold ${card === 'exactlyOne' ? 'exactly one' : 'at most one'} value.`,
        p,
      );
      return undefined;
    }
    if (v.length === 0) return null;
    return readLiteral(kind, v[0], childPointer(p, 0), member, r, lenient);
  }
  return readLiteral(kind, v, p, member, r, lenient);
}

export interface LocalizableOptions {
  /** Longest value (default 512; DTDL v2's displayName: 64). */
  maxLength?: number;
  /** DTDL v2: other "@" keywords in a language-tagged value are a warning, not an error. */
  lenientKeywords?: boolean;
}

/** A localizable string; returns its values by language ("en" for the default language). */
export function readLocalizable(
  v: unknown,
  p: string,
  member: string,
  r: Reporter,
  options: LocalizableOptions = {},
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let ok = true;
  const max = options.maxLength ?? MAX_STRING_LENGTH;
  const checkLength = (s: string, at: string): void => {
    if (s.length > max) {
      r.error('dtdl.string.tooLong', `"${member}" must not be longer than ${max} characters.`, at);
      ok = false;
    }
  };
  if (typeof v === 'string') {
    checkLength(v, p);
    out.en = v;
  } else if (Array.isArray(v)) {
    let defaults = 0;
    const langs = new Set<string>();
    v.forEach((item, i) => {
      const ip = childPointer(p, i);
      if (typeof item === 'string') {
        defaults++;
        checkLength(item, ip);
        out.en = item;
        return;
      }
      if (!isObject(item)) {
        r.error(
          'dtdl.lstring.invalid',
          `Each value of "${member}" must be a string or a language-tagged value object.`,
          ip,
        );
        ok = false;
        return;
      }
      if (
        !checkValueObjectKeys(
          item,
          ['@value', '@language'],
          ip,
          'A language-tagged value',
          options.lenientKeywords ?? false,
          r,
        )
      )
        ok = false;
      const value = item['@value'];
      if (typeof value !== 'string') {
        r.error('dtdl.lstring.invalid', 'A language-tagged value must have a string "@value".', ip);
        ok = false;
      } else checkLength(value, childPointer(ip, '@value'));
      if ('@language' in item) {
        const lang = item['@language'];
        if (typeof lang !== 'string' || !LANGUAGE_RE.test(lang)) {
          r.error(
            'dtdl.lstring.language',
            `"@language" must be a language code such as "en" or "en-US".`,
            childPointer(ip, '@language'),
          );
          ok = false;
          return;
        }
        if (langs.has(lang)) {
          r.error(
            'dtdl.lstring.language',
            `Language "${lang}" appears more than once.`,
            childPointer(ip, '@language'),
          );
          ok = false;
        }
        langs.add(lang);
        if (lang === 'en') defaults++;
        if (typeof value === 'string') out[lang] = value;
      } else {
        r.warn('dtdl.lstring.noLanguage', 'A language-tagged value should have "@language".', ip);
        defaults++;
        if (typeof value === 'string') out.en = value;
      }
    });
    if (defaults > 1) {
      r.error('dtdl.lstring.defaults', `"${member}" has more than one value for the default language.`, p);
      ok = false;
    }
  } else if (isObject(v)) {
    for (const [lang, value] of Object.entries(v)) {
      const ip = childPointer(p, lang);
      if (!LANGUAGE_RE.test(lang)) {
        r.error('dtdl.lstring.language', `"${lang}" is not a language code.`, ip);
        ok = false;
      }
      if (typeof value !== 'string') {
        r.error('dtdl.lstring.invalid', `The "${lang}" value of "${member}" must be a string.`, ip);
        ok = false;
      } else {
        checkLength(value, ip);
        out[lang] = value;
      }
    }
  } else {
    r.error('dtdl.lstring.invalid', `"${member}" must be a string, an array or a language map.`, p);
    ok = false;
  }
  return ok ? out : undefined;
}

/** Picks the text to show from a localizable string: English, else the first. */
export function preferredText(values: Record<string, string> | undefined): string | undefined {
  if (!values) return undefined;
  return values.en ?? values['en-US'] ?? Object.values(values)[0];
}
