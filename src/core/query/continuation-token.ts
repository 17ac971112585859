/**
 * Continuation tokens for query paging. A token names the query (a hash of its text and options)
 * and the kept server-side cursor that holds the rest of its result (query-cursors.ts), with the
 * number of pages served, signed with an HMAC so that a client cannot forge a cursor id. Tokens are
 * opaque to clients and valid while their cursor is kept, in the process that signed them. A token
 * stands for its query: the next page needs nothing else (the .NET SDK sends only the token).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TwinloopError } from '../errors/errors.js';

const PROCESS_SECRET = randomBytes(32);

export interface TokenState {
  queryHash: string;
  /** The kept cursor (QueryCursorStore id). */
  cursor: string;
  /** Pages served before the one this token asks for. */
  seq: number;
}

export function queryHash(text: string, maxHops: number): string {
  return createHash('sha256').update(`${maxHops}\u0000${text}`).digest('base64url').slice(0, 22);
}

function mac(payload: string, secret: Uint8Array): string {
  return createHmac('sha256', secret).update(payload).digest('base64url').slice(0, 22);
}

export function encodeToken(state: TokenState, secret: Uint8Array = PROCESS_SECRET): string {
  const payload = Buffer.from(JSON.stringify([2, state.queryHash, state.cursor, state.seq])).toString(
    'base64url',
  );
  return `${payload}.${mac(payload, secret)}`;
}

const invalid = (why: string): TwinloopError =>
  new TwinloopError(
    'InvalidContinuationToken',
    `The continuation token is not valid for this query: ${why}.`,
  );

/**
 * Reads a token this process signed. The token alone names its query (ADT: "the query is ignored
 * if a continuation token is provided"), so a client may send it without the query text.
 * @throws TwinloopError 'InvalidContinuationToken' when the token was altered or forged.
 */
export function decodeToken(token: string, secret: Uint8Array = PROCESS_SECRET): TokenState {
  if (typeof token !== 'string' || token.length > 200) throw invalid('malformed');
  const dot = token.indexOf('.');
  if (dot < 0) throw invalid('malformed');
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const wanted = Buffer.from(mac(payload, secret));
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw invalid('signature mismatch');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new TwinloopError('InvalidContinuationToken', 'The continuation token is malformed.', { cause });
  }
  if (
    !Array.isArray(parsed) ||
    parsed[0] !== 2 ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string' ||
    !Number.isSafeInteger(parsed[3]) ||
    (parsed[3] as number) < 1
  ) {
    throw invalid('malformed');
  }
  return { queryHash: parsed[1], cursor: parsed[2], seq: parsed[3] as number };
}
