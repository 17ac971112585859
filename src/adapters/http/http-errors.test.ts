import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, TwinloopError, type ErrorCode } from '../../core/errors/errors.js';
import { errorBody, retryAfterSeconds, statusOf, toTwinloopError } from './http-errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalogue ↔ HTTP ↔ docs', () => {
  const codes = Object.keys(ERROR_STATUS) as ErrorCode[];

  it.each(codes)('%s has an HTTP status and a line in docs/errors.md with that status', (code) => {
    const status = ERROR_STATUS[code];
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
    // Cells are compared trimmed: column padding is the formatter's business, not the content's.
    const cells = doc
      .split('\n')
      .map((l) => l.split('|').map((c) => c.trim()))
      .find((c) => c[1] === `\`${code}\``);
    expect(cells, `docs/errors.md has no line for ${code}`).toBeDefined();
    expect(cells?.[2]).toBe(String(status));
  });

  it('a temporary 5xx (details.retryAfterSeconds, e.g. PostgreSQL unreachable) is 503 with Retry-After', () => {
    const down = new TwinloopError('StorageError', 'PostgreSQL at h:5432/db is unreachable', {
      details: { retryAfterSeconds: 5 },
    });
    expect(statusOf(down)).toBe(503);
    expect(retryAfterSeconds(down)).toBe(5);
    expect(statusOf(new TwinloopError('StorageError', 'disk full'))).toBe(500);
    expect(retryAfterSeconds(new TwinloopError('StorageError', 'disk full'))).toBeUndefined();
    // Only a 5xx, only a positive integer: a 4xx keeps its status, odd values are ignored.
    const bad = new TwinloopError('BadRequest', 'x', { details: { retryAfterSeconds: 5 } });
    expect(statusOf(bad)).toBe(400);
    for (const v of [0, -1, 1.5, '5', Infinity]) {
      const e = new TwinloopError('StorageError', 'x', { details: { retryAfterSeconds: v } });
      expect(statusOf(e)).toBe(500);
    }
  });

  it('the docs list no code that does not exist', () => {
    const documented = [...doc.matchAll(/^\| `([A-Za-z]+)`\s*\|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...codes].sort());
  });

  it('turns problems into ADT error details and Fastify errors into catalogue codes', () => {
    const e = new TwinloopError('ValidationFailed', 'bad', {
      problems: [{ code: 'x', message: 'y', pointer: '/a' }],
    });
    expect(errorBody(e)).toEqual({
      error: {
        code: 'ValidationFailed',
        message: 'bad',
        details: [{ code: 'x', message: 'y', pointer: '/a' }],
      },
    });
    expect(
      toTwinloopError(
        Object.assign(new Error('too big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
      ).code,
    ).toBe('PayloadTooLarge');
    expect(toTwinloopError(new Error('boom')).code).toBe('InternalError');
    expect(
      toTwinloopError(
        Object.assign(new Error('bad type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }),
      ).code,
    ).toBe('UnsupportedMediaType');
    const v = toTwinloopError(
      Object.assign(new Error('v'), {
        validation: [
          { instancePath: '', message: 'must have required property', params: { missingProperty: 'query' } },
        ],
        validationContext: 'body',
      }),
    );
    expect(v.code).toBe('BadRequest');
    expect(v.problems[0]?.pointer).toBe('/query');
  });
});
