/**
 * Storage: with `storage.url`, a PostgreSQL database (shared by a cluster; migrated at open);
 * otherwise the SQLite database of the data folder (models, twins, history, dead letters, credentials,
 * jobs, event routes, behaviour parameters), its commits timed into the metrics registry from the
 * start, and its background integrity check when the database is too big to check before starting.
 * Closing flushes and closes the database.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createCommitMetrics } from '../../adapters/metrics/prometheus-platform-metrics.js';
import { openPgStorage } from '../../adapters/postgres/pg-storage.js';
import { openSqliteStorage } from '../../adapters/sqlite/sqlite-storage.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import { readPilotRecord } from '../runtime-files.js';
import { subsystem, type Subsystem } from './subsystem.js';

export interface StorageSubsystem extends Subsystem {
  storage: Storage;
}

export function startStorage(o: {
  config: Readonly<Pick<TwinloopConfig, 'dataDir' | 'history' | 'storage' | 'deadLetters' | 'role'>>;
  logger: Logger;
  metrics: Registry;
}): Promise<StorageSubsystem> {
  const { config, logger } = o;
  return subsystem(logger, async (closers) => {
    const recorders = createCommitMetrics(o.metrics);
    if (config.storage.url) {
      const pg = await openPgStorage({
        url: config.storage.url,
        poolSize: config.storage.poolSize,
        applicationName: `twinloop-${config.role}-${process.pid}`,
        history: {
          partition: config.storage.partition,
          onCommit: (info) => recorders.observeHistoryCommit(info),
          // One line when the outage starts, one when it ends (never one per retry): docs/scaling.md.
          onOutage: (e) => {
            if (e.state === 'started') {
              logger.error(
                {
                  since: new Date(e.since).toISOString(),
                  reason: e.reason,
                  bufferedPoints: e.bufferedPoints,
                },
                'PostgreSQL is unreachable: ingest is paused (readings are kept and retried; MQTT PUBACKs withheld, HTTP telemetry answers 503 after a bounded wait; /readyz is unready)',
              );
            } else {
              logger.warn(
                {
                  downMs: e.ms,
                  points: e.points,
                  attempts: e.attempts,
                  since: new Date(e.since).toISOString(),
                },
                `PostgreSQL is reachable again: ingest resumed after ${(e.ms / 1000).toFixed(1)} s; ${e.points} points waited and are stored`,
              );
            }
          },
        },
        deadLetters: {
          maxPayloadBytes: config.deadLetters.maxPayloadBytes,
          maxBytes: config.deadLetters.maxMB * 1024 * 1024,
        },
        onIdleError: (err) => logger.warn({ err: err.message }, 'PostgreSQL dropped an idle connection'),
      });
      closers.push(() => pg.close());
      logger.info({ store: pg.where, schema: pg.db.schema }, 'storage: PostgreSQL');
      return { storage: pg };
    }
    const storage = openSqliteStorage({
      dataDir: config.dataDir,
      synchronous: config.history.synchronous,
      // A seeded folder (pilot.json) whose database is missing or empty is damage, never a new install.
      holdsData: readPilotRecord(config.dataDir) !== undefined,
      checkIntegrity: config.storage.integrityCheckMaxMB > 0,
      integrityCheckMaxBytes: config.storage.integrityCheckMaxMB * 1024 * 1024,
      history: { onCommit: (info) => recorders.observeHistoryCommit(info) },
      deadLetters: {
        maxPayloadBytes: config.deadLetters.maxPayloadBytes,
        maxBytes: config.deadLetters.maxMB * 1024 * 1024,
      },
    });
    closers.push(() => storage.close());
    if (config.storage.integrityCheckMaxMB > 0 && !storage.integrity.checked) {
      // Too big to check before starting: checked in a worker thread; damage makes /readyz fail.
      logger.warn(
        { bytes: storage.integrity.bytes, maxMB: config.storage.integrityCheckMaxMB },
        'the database is larger than storage.integrityCheckMaxMB: its integrity is checked in the background',
      );
      const check = storage.checkInBackground((r) => {
        if ('error' in r) logger.warn({ reason: r.error }, 'the background integrity check did not finish');
        else if (r.problems.length)
          logger.error({ file: storage.file, problems: r.problems }, 'the database is damaged: restore it');
        else logger.info({ file: storage.file }, 'background integrity check: ok');
      });
      closers.push(() => check.stop());
    }
    return { storage };
  });
}
