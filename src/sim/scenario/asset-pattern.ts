/**
 * Patterns of generated twins: `{index}` is the twin's 1-based index in its group, `{index:03}` (or
 * `{index:3}`) the index padded with zeros to 3 digits. `{n}` / `{n:3}` are accepted as older spellings.
 */

const PLACEHOLDER = /\{(index|n)(?::0?(\d{1,2}))?\}/g;
const ANY_BRACES = /\{[^{}]*\}/g;

/** True when the pattern contains an index placeholder (so every generated id differs). */
export function hasIndexPlaceholder(pattern: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(pattern);
}

/** The `{…}` parts of a pattern that are not index placeholders (typos such as `{idx}`). */
export function unknownPlaceholders(pattern: string): string[] {
  return [...pattern.matchAll(ANY_BRACES)]
    .map((m) => m[0])
    .filter((p) => !new RegExp(`^${PLACEHOLDER.source}$`).test(p));
}

/**
 * The pattern with its index placeholders filled for twin `index` (1-based).
 * @example assetTwinId('ev-{index:03}', 7) // 'ev-007'
 */
export function assetTwinId(pattern: string, index: number): string {
  return pattern.replace(PLACEHOLDER, (_, _name: string, width: string | undefined) =>
    width ? String(index).padStart(Number(width), '0') : String(index),
  );
}

/** @deprecated The older name of assetTwinId. */
export const fleetTwinId = assetTwinId;

/**
 * A value for twin `index`: `{ each: [...] }` takes its items in turn; strings have their
 * placeholders filled; arrays and objects are filled throughout.
 */
export function fillValue(v: unknown, index: number): unknown {
  if (typeof v === 'string') return assetTwinId(v, index);
  if (Array.isArray(v)) return v.map((x) => fillValue(x, index));
  if (isEach(v)) return fillValue(v.each[(index - 1) % v.each.length], index);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillValue(x, index)]));
  return v;
}

/** `{ each: [a, b, …] }`, a non-empty list of values taken in turn. */
export function isEach(v: unknown): v is { each: unknown[] } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const each = (v as { each?: unknown }).each;
  return keys.length === 1 && keys[0] === 'each' && Array.isArray(each) && each.length > 0;
}
