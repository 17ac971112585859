/**
 * What PostgreSQL cannot hold, refused before it reaches the server: a NUL character in a text
 * value (the server rejects it with "invalid byte sequence", which would otherwise surface as a
 * StorageError that looks like an outage). JSON documents are stored as `json`, which keeps the
 * `\u0000` escape as text, so NUL inside contents is stored whole; only ids, names and other text
 * columns are checked here.
 */
import { TwinloopError } from '../../core/errors/errors.js';

/** @throws InvalidArgument when `value` holds a NUL character. */
export function checkNoNul(what: string, value: string): void {
  if (value.includes('\u0000'))
    throw new TwinloopError(
      'InvalidArgument',
      `The ${what} holds a NUL character (\\u0000), which PostgreSQL cannot store.`,
    );
}

/** JSON text for a `json` column (NUL characters become the `\u0000` escape, which json keeps). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value);
}
