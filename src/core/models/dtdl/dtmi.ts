/**
 * Digital Twin Model Identifier (DTMI) syntax, as DTDL v3 defines it: the user-DTMI regular expression,
 * the reserved prefixes that user `@id`s may not use, and the de-versioned form used by `@context` rules.
 */

const DTMI_RE =
  /^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*(?:;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?)?$/;

/** DTDL v2's DTMI: the version is required and is a single integer (no unversioned or "1.2" forms). */
const DTMI_V2_RE =
  /^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}$/;

/** Longest DTMI accepted anywhere (elements other than Interfaces). */
export const MAX_DTMI_LENGTH = 2048;
/** Longest `@id` of an Interface. */
export const MAX_INTERFACE_ID_LENGTH = 128;

const RESERVED_PREFIXES = ['dtmi:dtdl:', 'dtmi:standard:'] as const;

/** True when `s` is a syntactically valid DTMI (with or without a version). */
export function isDtmi(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_DTMI_LENGTH && DTMI_RE.test(s);
}

/** True when `s` is a valid DTMI of DTDL v2 (version required, integer only). */
export function isDtmiV2(s: unknown): s is string {
  return typeof s === 'string' && s.length <= MAX_DTMI_LENGTH && DTMI_V2_RE.test(s);
}

/** True when `s` is a valid DTMI for an element of the given DTDL version. */
export function isDtmiIn(s: unknown, version: number): s is string {
  return version === 2 ? isDtmiV2(s) : isDtmi(s);
}

/** True when the DTMI carries a `;version` suffix. */
export function hasVersion(dtmi: string): boolean {
  return dtmi.includes(';');
}

/** True when a DTMI starts with a prefix that only the language itself may use in `@id`. */
export function hasReservedPrefix(dtmi: string): boolean {
  return RESERVED_PREFIXES.some((p) => dtmi.startsWith(p));
}

/** "dtmi:ex:foo;3" -> "dtmi:ex:foo". */
export function deversion(dtmi: string): string {
  const i = dtmi.indexOf(';');
  return i < 0 ? dtmi : dtmi.slice(0, i);
}

/** The major version of a DTMI ("dtmi:dtdl:context;3" -> 3), or undefined when it has none. */
export function majorVersion(dtmi: string): number | undefined {
  const i = dtmi.indexOf(';');
  if (i < 0) return undefined;
  const v = Number.parseInt(dtmi.slice(i + 1), 10);
  return Number.isFinite(v) ? v : undefined;
}

/** The version of a DTMI as [major, minor] ("…;3" -> [3, 0], "…;3.1" -> [3, 1]), undefined when it has none. */
export function dtmiVersion(dtmi: string): [number, number] | undefined {
  const i = dtmi.indexOf(';');
  if (i < 0) return undefined;
  const [major, minor = '0'] = dtmi.slice(i + 1).split('.');
  const v: [number, number] = [Number(major), Number(minor)];
  return Number.isSafeInteger(v[0]) && Number.isSafeInteger(v[1]) ? v : undefined;
}

/**
 * True when `dtmi` names the model `queried` names, in the same or a later version: the version
 * rule of ADT's IS_OF_MODEL ("dtmi:ex:widget;5" and ";4.2" are versions of "dtmi:ex:widget;4" or
 * later; ";3" is not). An unversioned `queried` accepts every version; an unversioned `dtmi` only
 * the very same identifier.
 * @example isSameOrLaterVersion('dtmi:ex:widget;5', 'dtmi:ex:widget;4') // true
 */
export function isSameOrLaterVersion(dtmi: string, queried: string): boolean {
  if (dtmi === queried) return true;
  if (deversion(dtmi) !== deversion(queried)) return false;
  const want = dtmiVersion(queried);
  if (want === undefined) return !queried.includes(';');
  const have = dtmiVersion(dtmi);
  if (have === undefined) return false;
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}
