/**
 * What every subsystem of the composition root has in common: it is started by a function that takes
 * what it needs (a typed slice of config, a logger, the services it depends on) and returns its
 * services and a `close()`; closing runs its steps in reverse, each step's error logged, never thrown,
 * so one broken step does not leave the rest open. Also the port fallback MQTT and HTTP share.
 */
import type { Logger } from 'pino';
import { isTwinloopError, type ErrorCode } from '../../core/errors/errors.js';

export type Closer = () => Promise<void> | void;

/** What a subsystem gives back besides its services. */
export interface Subsystem {
  /** Stops what the subsystem started, in reverse. Errors are logged, not thrown. */
  close(): Promise<void>;
}

/** A stack of stop steps, run last-in first-out. */
export class Closers {
  private readonly steps: Closer[] = [];

  constructor(private readonly logger: Logger) {}

  push(step: Closer): void {
    this.steps.push(step);
  }

  /** Runs every step in reverse order, logging (never throwing) their errors; then empties the stack. */
  async close(): Promise<void> {
    for (const [i, c] of this.steps.reverse().entries()) {
      try {
        const t0 = performance.now();
        await c();
        this.logger.debug({ step: i, ms: Math.round(performance.now() - t0) }, 'stopped a component');
      } catch (e) {
        this.logger.error({ err: e }, 'error while stopping');
      }
    }
    this.steps.length = 0;
  }
}

/**
 * Runs `build` with a fresh stack of stop steps; when `build` throws, what it had started is stopped
 * before the error goes on. The result carries `close()`.
 */
export async function subsystem<T extends object>(
  logger: Logger,
  build: (closers: Closers) => Promise<T> | T,
): Promise<T & Subsystem> {
  const closers = new Closers(logger);
  try {
    const services = await build(closers);
    return Object.assign(services, { close: () => closers.close() });
  } catch (e) {
    await closers.close();
    throw e;
  }
}

/** How many ports above a busy default port are tried before giving up. */
const PORT_FALLBACK_TRIES = 20;

/**
 * Tries `bind(port)`; when the port is a busy default, tries the next ones and says so.
 * An explicit port is never changed: its PortInUse error (which says how to pick another) stands.
 */
export async function bindWithFallback<T>(
  what: string,
  port: number,
  explicit: boolean,
  logger: Logger,
  bind: (port: number) => Promise<T>,
): Promise<T> {
  let lastError: unknown;
  const tries = explicit || port === 0 ? 1 : PORT_FALLBACK_TRIES;
  for (let i = 0; i < tries; i++) {
    try {
      const r = await bind(port + i);
      if (i > 0) logger.warn(`${what}: default port ${port} is in use, bound ${port + i} instead`);
      return r;
    } catch (e) {
      if (!(isTwinloopError(e) && e.code === ('PortInUse' satisfies ErrorCode))) throw e;
      lastError = e;
    }
  }
  throw lastError;
}
