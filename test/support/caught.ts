/**
 * Test support (not a test): the TwinloopError a call throws, for tests that check its code and
 * problems. Anything else thrown, or nothing thrown, fails the test.
 */
import { TwinloopError } from '../../src/core/errors/errors.js';

/** The TwinloopError a promise rejects with, or a function throws. */
export async function caught(p: Promise<unknown> | (() => unknown)): Promise<TwinloopError> {
  try {
    if (typeof p === 'function') await p();
    else await p;
  } catch (e) {
    if (e instanceof TwinloopError) return e;
    throw e;
  }
  throw new Error('expected a TwinloopError');
}

/** The TwinloopError a synchronous function throws. */
export function caughtSync(fn: () => unknown): TwinloopError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TwinloopError) return e;
    throw e;
  }
  throw new Error('expected a TwinloopError');
}
