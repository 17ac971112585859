/**
 * NUL bytes and PostgreSQL: `text` and `jsonb` cannot hold U+0000 (the server answers "invalid byte
 * sequence" or "unsupported Unicode escape sequence"). The stores decide per field what to do —
 * refuse the write with a clear BadRequest, treat a lookup by such a key as "not found", or (for
 * descriptive text of bad input, such as a dead letter's reason) keep it readable with U+FFFD —
 * instead of letting the server's error surface as a StorageError.
 */
import { TwinloopError } from '../../core/errors/errors.js';

const NUL = '\u0000';

export function hasNul(s: string | undefined | null): boolean {
  return typeof s === 'string' && s.includes(NUL);
}

/** True when any of the strings holds a NUL. */
export function anyNul(...values: (string | undefined | null)[]): boolean {
  return values.some(hasNul);
}

/** True when a key or a string anywhere in the JSON value holds a NUL. */
export function jsonHasNul(value: unknown): boolean {
  let found = false;
  JSON.stringify(value, (key: string, v: unknown) => {
    if (key.includes(NUL) || (typeof v === 'string' && v.includes(NUL))) found = true;
    return v;
  });
  return found;
}

/**
 * Refuses fields that hold a NUL. @throws BadRequest naming every such field.
 * @example refuseNul('a device credential', { twinId, label });
 */
export function refuseNul(what: string, fields: Record<string, unknown>): void {
  const bad = Object.entries(fields)
    .filter(([, v]) => (typeof v === 'string' ? hasNul(v) : v !== undefined && v !== null && jsonHasNul(v)))
    .map(([k]) => k);
  if (bad.length) {
    throw new TwinloopError(
      'BadRequest',
      `Cannot store ${what}: ${bad.join(', ')} ${bad.length > 1 ? 'contain' : 'contains'} a NUL character (U+0000), which PostgreSQL text cannot hold.`,
    );
  }
}

/** The string with each NUL replaced by U+FFFD (for descriptive text that must not be lost). */
export function withoutNul<T extends string | undefined | null>(s: T): T {
  return (typeof s === 'string' && s.includes(NUL) ? s.replaceAll(NUL, '\uFFFD') : s) as T;
}

/** A JSON value with each NUL in its keys and strings replaced by U+FFFD, as JSON text. */
export function jsonWithoutNul(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (typeof v === 'string') return withoutNul(v);
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some(hasNul)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        Object.defineProperty(out, withoutNul(k), {
          value: x,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return v;
  });
}
