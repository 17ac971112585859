/**
 * Maintenance timers: retention of history (when configured), of dead letters (by age and by
 * size, by default), of cleared alarms and of finished commands (by age), pruned once at start and
 * every hour after.
 */
import type { Logger } from 'pino';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import { subsystem, type Subsystem } from './subsystem.js';

export function startRetention(o: {
  config: Readonly<Pick<TwinloopConfig, 'history' | 'deadLetters' | 'alarms' | 'control'>>;
  logger: Logger;
  storage: Pick<Storage, 'history' | 'deadLetters' | 'alarms' | 'commands'>;
}): Promise<Subsystem> {
  const { config, logger, storage } = o;
  return subsystem(logger, async (closers) => {
    const historyRetentionMs = config.history.retentionDays * 86_400_000;
    const letterRetentionMs = config.deadLetters.retentionDays * 86_400_000;
    const alarmRetentionMs = config.alarms.retentionDays * 86_400_000;
    const commandRetentionMs = config.control.retentionDays * 86_400_000;
    const prune = async () => {
      try {
        const now = Date.now();
        const points = historyRetentionMs > 0 ? await storage.history.prune(now - historyRetentionMs) : 0;
        const letters =
          (letterRetentionMs > 0 ? await storage.deadLetters.prune(now - letterRetentionMs) : 0) +
          (await storage.deadLetters.pruneToSize());
        const alarms = alarmRetentionMs > 0 ? await storage.alarms.pruneCleared(now - alarmRetentionMs) : 0;
        const commands = commandRetentionMs > 0 ? await storage.commands.prune(now - commandRetentionMs) : 0;
        if (points || letters || alarms || commands)
          logger.info({ points, deadLetters: letters, alarms, commands }, 'retention: pruned');
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
