import { describe, expect, it } from 'vitest';
import { appendError, invalidPoint } from './history-append-check.js';
import type { HistoryPoint } from './storage-ports.js';

const p = (over: Partial<Record<keyof HistoryPoint, unknown>>): HistoryPoint =>
  ({ workspace: 'w', twinId: 't', path: 'v', kind: 'telemetry', ts: 1, value: 1, ...over }) as HistoryPoint;

describe('history append checks (every store)', () => {
  it('refuses keys no store can hold exactly, non-finite times and numbers, and values JSON cannot write', () => {
    expect(invalidPoint(p({}))).toBeUndefined();
    expect(invalidPoint(p({ value: { __proto__: 1, deep: [null] } }))).toBeUndefined();
    expect(invalidPoint(p({ twinId: 'a\u0000b' }))?.message).toMatch(/NUL/);
    expect(invalidPoint(p({ path: '\uD800' }))?.message).toMatch(/lone surrogate/);
    expect(invalidPoint(p({ workspace: '' }))?.field).toBe('workspace');
    expect(invalidPoint(p({ kind: 'x' }))?.field).toBe('kind');
    expect(invalidPoint(p({ ts: Infinity }))?.field).toBe('ts');
    expect(invalidPoint(p({ value: NaN }))?.message).toMatch(/finite/);
    expect(invalidPoint(p({ value: -Infinity }))?.message).toMatch(/finite/);
    expect(invalidPoint(p({ value: 10n }))?.message).toMatch(/cannot be written as JSON/);
    expect(invalidPoint(p({ value: () => 1 }))?.message).toMatch(/cannot be written as JSON/);
    expect(invalidPoint(p({ value: undefined }))?.message).toMatch(/missing/);
  });

  it('checks every point after good ones of the same twin (the fast path never lets a bad key through)', () => {
    expect(invalidPoint(p({}))).toBeUndefined();
    expect(invalidPoint(p({ path: 'a\u0000b' }))?.field).toBe('path');
    expect(invalidPoint(p({ path: '' }))?.field).toBe('path');
    expect(invalidPoint(p({ path: 7 }))?.field).toBe('path');
    expect(invalidPoint(p({}))).toBeUndefined();
    expect(invalidPoint(p({ twinId: '\uDC00' }))?.field).toBe('twinId');
    expect(invalidPoint(p({ workspace: undefined, twinId: undefined, path: undefined }))?.field).toBe(
      'workspace',
    );
    expect(invalidPoint(p({ ts: NaN }))?.field).toBe('ts'); // same good key, bad time
  });

  it('names the first bad point with a pointer, and a bad checkpoint', () => {
    const e = appendError([p({}), p({ ts: NaN })], {});
    expect(e?.code).toBe('InvalidTelemetry');
    expect(e?.problems[0]?.pointer).toBe('/1/ts');
    expect(appendError([], { checkpoint: { key: 'a\u0000', seq: 1 } })?.code).toBe('StorageError');
    expect(appendError([], { checkpoint: { key: 'a', seq: 1.5 } })?.code).toBe('StorageError');
    expect(appendError([p({})], { checkpoint: { key: 'p1', seq: 7 } })).toBeUndefined();
  });
});
