/**
 * TwinStore on SQLite: twins and relationships keyed by (workspace, id), contents and property
 * times as JSON. loadTwins fills each twin's telemetry from the history `series` table (latest value
 * per telemetry series) in the same pass, streaming rows with .iterate() so a million twins load
 * without building an array of rows.
 */
import type Database from 'better-sqlite3';
import type { RelationshipRecord, TwinRecord } from '../../core/graph/graph-types.js';
import type { TwinStore } from '../../core/ports/storage-ports.js';
import { storageError } from './sqlite-database.js';

export interface SqliteTwinStoreOptions {
  /**
   * The history store of the same database: its buffered last values are written to `series` before
   * loading (the store does that at open too, so this matters only for loads after start), and a
   * deleted twin's history goes with it (in the same transaction), so a new twin that reuses the id
   * starts clean, also after a restart.
   */
  history?: {
    compactNow(): void;
    deleteTwin(workspace: string, twinId: string, alsoInTransaction?: () => void): void;
  };
  /** Told when a write fails (the storage's readiness). */
  onWriteError?: (e: unknown) => void;
}

/** id, model_id, etag, last_update, contents, property_times, telemetry JSON (raw row). */
type TwinRow = [string, string, string, number, string, string, string];

interface RelRow {
  workspace: string;
  source_id: string;
  id: string;
  target_id: string;
  name: string;
  etag: string;
  last_update: number;
  properties: string;
}

export class SqliteTwinStore implements TwinStore {
  private readonly s: {
    load: Database.Statement<[string], TwinRow>;
    loadRels: Database.Statement<[string], RelRow>;
    saveTwin: Database.Statement;
    deleteTwin: Database.Statement<[string, string]>;
    deleteRelsOf: Database.Statement<[string, string, string, string]>;
    saveRel: Database.Statement;
    deleteRel: Database.Statement<[string, string, string]>;
  };

  constructor(
    private readonly db: Database.Database,
    private readonly options: SqliteTwinStoreOptions = {},
  ) {
    this.s = {
      // One row per twin, its telemetry's last values gathered by SQLite as JSON {path: [ts, value]}:
      // one row crossing into JS per twin is what makes a million twins load in seconds.
      load: db
        .prepare(
          `SELECT t.id, t.model_id, t.etag, t.last_update, t.contents, t.property_times,
             (SELECT json_group_object(s.path, json_array(s.last_ts, json(s.last_value))) FROM series s
               WHERE s.workspace = t.workspace AND s.twin_id = t.id AND s.kind = 'telemetry' AND s.last_ts IS NOT NULL)
           FROM twins t WHERE t.workspace = ?`,
        )
        .raw(true) as unknown as Database.Statement<[string], TwinRow>,
      loadRels: db.prepare('SELECT * FROM relationships WHERE workspace = ?'),
      saveTwin: db.prepare(
        `INSERT OR REPLACE INTO twins (workspace, id, model_id, etag, last_update, contents, property_times)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteTwin: db.prepare('DELETE FROM twins WHERE workspace = ? AND id = ?'),
      deleteRelsOf: db.prepare(
        'DELETE FROM relationships WHERE workspace = ? AND source_id = ? OR workspace = ? AND target_id = ?',
      ),
      saveRel: db.prepare(
        `INSERT OR REPLACE INTO relationships (workspace, source_id, id, target_id, name, etag, last_update, properties)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteRel: db.prepare('DELETE FROM relationships WHERE workspace = ? AND source_id = ? AND id = ?'),
    };
  }

  /** Streams the workspace's twins; do not write to this database until the iteration ends. */
  *loadTwins(workspace: string): Iterable<TwinRecord> {
    this.options.history?.compactNow();
    let it: IterableIterator<TwinRow>;
    try {
      it = this.s.load.iterate(workspace);
    } catch (e) {
      throw storageError('Cannot load twins', e);
    }
    for (;;) {
      let next: IteratorResult<TwinRow>;
      try {
        next = it.next();
      } catch (e) {
        throw storageError('Cannot load twins', e);
      }
      if (next.done) return;
      const [id, modelId, etag, lastUpdateTime, contents, propertyTimes, tel] = next.value;
      const telemetry: TwinRecord['telemetry'] = {};
      const last = JSON.parse(tel) as Record<string, [number, unknown]>;
      for (const path in last) {
        const [time, value] = last[path]!;
        telemetry[path] = { value, time };
      }
      yield {
        id,
        modelId,
        workspace,
        etag,
        lastUpdateTime,
        contents: JSON.parse(contents) as Record<string, unknown>,
        ...readTimes(propertyTimes),
        telemetry,
      };
    }
  }

  *loadRelationships(workspace: string): Iterable<RelationshipRecord> {
    try {
      for (const r of this.s.loadRels.iterate(workspace)) {
        yield {
          id: r.id,
          sourceId: r.source_id,
          targetId: r.target_id,
          name: r.name,
          workspace: r.workspace,
          etag: r.etag,
          lastUpdateTime: r.last_update,
          properties: JSON.parse(r.properties) as Record<string, unknown>,
        };
      }
    } catch (e) {
      throw storageError('Cannot load relationships', e);
    }
  }

  saveTwin(t: TwinRecord): void {
    this.run('Cannot save a twin', () =>
      this.s.saveTwin.run(
        t.workspace,
        t.id,
        t.modelId,
        t.etag,
        t.lastUpdateTime,
        JSON.stringify(t.contents),
        writeTimes(t),
      ),
    );
  }

  deleteTwin(workspace: string, id: string): void {
    const deleteRows = () => {
      this.s.deleteRelsOf.run(workspace, id, workspace, id);
      this.s.deleteTwin.run(workspace, id);
    };
    const history = this.options.history;
    this.run('Cannot delete a twin', () =>
      history ? history.deleteTwin(workspace, id, deleteRows) : this.transaction(deleteRows),
    );
  }

  saveRelationship(r: RelationshipRecord): void {
    this.run('Cannot save a relationship', () =>
      this.s.saveRel.run(
        r.workspace,
        r.sourceId,
        r.id,
        r.targetId,
        r.name,
        r.etag,
        r.lastUpdateTime,
        JSON.stringify(r.properties),
      ),
    );
  }

  deleteRelationship(workspace: string, sourceId: string, relId: string): void {
    this.run('Cannot delete a relationship', () => this.s.deleteRel.run(workspace, sourceId, relId));
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private run(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (e) {
      const err = storageError(what, e);
      if (err.code === 'StorageError' || err.code === 'StorageCorrupt') this.options.onWriteError?.(err);
      throw err;
    }
  }
}

/**
 * The property_times column holds the per-property update times and, under the key `$sourceTimes`,
 * the sourceTimes a writer set (property names never start with `$`, so the key cannot collide;
 * no migration needed, and rows written before sourceTime existed read as having none).
 */
const SOURCE_TIMES_KEY = '$sourceTimes';

function writeTimes(t: TwinRecord): string {
  if (t.sourceTimes === undefined || Object.keys(t.sourceTimes).length === 0) {
    return JSON.stringify(t.propertyTimes);
  }
  return JSON.stringify({ ...t.propertyTimes, [SOURCE_TIMES_KEY]: t.sourceTimes });
}

function readTimes(column: string): Pick<TwinRecord, 'propertyTimes' | 'sourceTimes'> {
  const all = JSON.parse(column) as Record<string, unknown>;
  const sourceTimes = all[SOURCE_TIMES_KEY];
  if (sourceTimes === undefined) return { propertyTimes: all as Record<string, number> };
  delete all[SOURCE_TIMES_KEY];
  return {
    propertyTimes: all as Record<string, number>,
    sourceTimes: sourceTimes as Record<string, string>,
  };
}
