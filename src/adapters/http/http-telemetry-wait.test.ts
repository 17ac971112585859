/** The bounded wait of HTTP telemetry: 503 with Retry-After instead of hanging while storage is away. */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { retryAfterSeconds, statusOf } from './http-errors.js';
import { boundedWait } from './http-telemetry-routes.js';

describe('boundedWait', () => {
  it('passes a result or a failure through when it settles in time', async () => {
    await expect(boundedWait(Promise.resolve(7), 1000)).resolves.toBe(7);
    const e = new TwinloopError('StorageError', 'disk full');
    await expect(boundedWait(Promise.reject(e), 1000)).rejects.toBe(e);
  });

  it('answers ServiceUnavailable (503, Retry-After 5) when durability takes longer; a late failure is not unhandled', async () => {
    let fail!: (e: unknown) => void;
    const never = new Promise<never>((_, reject) => (fail = reject));
    const t0 = Date.now();
    const e = await boundedWait(never, 50).catch((x: unknown) => x);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(e).toBeInstanceOf(TwinloopError);
    expect(statusOf(e as TwinloopError)).toBe(503);
    expect(retryAfterSeconds(e as TwinloopError)).toBe(5);
    expect((e as Error).message).toMatch(/not durable after 50 ms: .* may still be stored/);
    fail(new Error('late')); // must not surface as an unhandled rejection
    await new Promise((r) => setTimeout(r, 10));
  });
});
