/**
 * Maintenance timers: retention of history (when configured) and of dead letters (by age and by
 * size, by default), pruned once at start and every hour after.
 */
import type { Logger } from 'pino';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import { subsystem, type Subsystem } from './subsystem.js';

export function startRetention(o: {
  config: Readonly<Pick<TwinloopConfig, 'history' | 'deadLetters'>>;
  logger: Logger;
  storage: Pick<Storage, 'history' | 'deadLetters'>;
}): Promise<Subsystem> {
  const { config, logger, storage } = o;
  return subsystem(logger, async (closers) => {
    const historyRetentionMs = config.history.retentionDays * 86_400_000;
    const letterRetentionMs = config.deadLetters.retentionDays * 86_400_000;
    const prune = async () => {
      try {
        const now = Date.now();
        const points = historyRetentionMs > 0 ? await storage.history.prune(now - historyRetentionMs) : 0;
        const letters =
          (letterRetentionMs > 0 ? await storage.deadLetters.prune(now - letterRetentionMs) : 0) +
          (await storage.deadLetters.pruneToSize());
        if (points || letters) logger.info({ points, deadLetters: letters }, 'retention: pruned');
      } catch (e) {
        logger.error({ err: e }, 'retention: prune failed');
      }
    };
    await prune();
    const retentionTimer = setInterval(() => void prune(), 3600_000);
    retentionTimer.unref();
    closers.push(() => clearInterval(retentionTimer));
    return {};
  });
}
