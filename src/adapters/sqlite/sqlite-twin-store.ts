/**
 * TwinStore on SQLite: twins and relationships keyed by (workspace, id), contents and property
 * times as JSON. loadTwins fills each twin's telemetry from the history `series` table (latest value
 * per telemetry series) in the same pass, reading pages of rows in key order (no statement stays
 * open across an await, so writes may go on between pages; a million twins load in bounded memory).
 *
 * commit() checks every etag expectation first, in op order against the stored rows overlaid with
 * the ops before it, and only then writes, in one transaction with the outbox rows: a failed
 * expectation writes nothing and never half-runs a deleteTwin's history delete.
 */
import type Database from 'better-sqlite3';
import type { RelationshipRecord, TwinRecord } from '../../core/graph/graph-types.js';
import { TwinloopError } from '../../core/errors/errors.js';
import {
  desiredPart,
  devicePart,
  mergeDeviceParts,
  type DesiredPart,
  type DevicePart,
} from '../../core/graph/device-state-parts.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { TwinStore, TwinStoreOp, TwinWrite } from '../../core/ports/storage-ports.js';
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
  /** Where a commit's outbox rows go, in its transaction (the SqliteEventOutbox of the database). */
  outbox?: { insertRows(rows: readonly OutboxRow[]): void };
  /** Told when a write fails (the storage's readiness). */
  onWriteError?: (e: unknown) => void;
  /** Rows read per page while loading (default 2000). */
  pageSize?: number;
}

/** What the expectation check knows of a key while it walks the ops. */
type Known = { etag: string; source?: string; target?: string } | null;

/** id, model_id, etag, last_update, contents, property_times, telemetry, desired, device (raw row). */
type TwinRow = [string, string, string, number, string, string, string, string | null, string | null];

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
    load: Database.Statement<[string, string, number], TwinRow>;
    loadRels: Database.Statement<[string, string, string, string, number], RelRow>;
    twinEtag: Database.Statement<[string, string], { etag: string }>;
    relEtag: Database.Statement<[string, string, string], { etag: string; target_id: string }>;
    saveTwin: Database.Statement;
    saveDevice: Database.Statement<[string, string, string]>;
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
               WHERE s.workspace = t.workspace AND s.twin_id = t.id AND s.kind = 'telemetry' AND s.last_ts IS NOT NULL),
             t.desired, t.device
           FROM twins t WHERE t.workspace = ? AND t.id > ? ORDER BY t.id LIMIT ?`,
        )
        .raw(true) as unknown as Database.Statement<[string, string, number], TwinRow>,
      loadRels: db.prepare(
        `SELECT * FROM relationships WHERE workspace = ? AND (source_id > ? OR source_id = ? AND id > ?)
         ORDER BY source_id, id LIMIT ?`,
      ),
      twinEtag: db.prepare('SELECT etag FROM twins WHERE workspace = ? AND id = ?'),
      relEtag: db.prepare(
        'SELECT etag, target_id FROM relationships WHERE workspace = ? AND source_id = ? AND id = ?',
      ),
      // A write of the twin keeps the stored device part (the device's side, not the writer's).
      saveTwin: db.prepare(
        `INSERT INTO twins (workspace, id, model_id, etag, last_update, contents, property_times, desired, device)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace, id) DO UPDATE SET model_id = excluded.model_id, etag = excluded.etag,
           last_update = excluded.last_update, contents = excluded.contents,
           property_times = excluded.property_times, desired = excluded.desired`,
      ),
      saveDevice: db.prepare('UPDATE twins SET device = ? WHERE workspace = ? AND id = ?'),
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

  /** Streams the workspace's twins, a page at a time. */
  async *loadTwins(workspace: string): AsyncIterable<TwinRecord> {
    this.options.history?.compactNow();
    const size = this.options.pageSize ?? 2000;
    let after = '';
    for (;;) {
      let page: TwinRow[];
      try {
        page = this.s.load.all(workspace, after, size);
      } catch (e) {
        throw storageError('Cannot load twins', e);
      }
      for (const [id, modelId, etag, lastUpdateTime, contents, propertyTimes, tel, desired, device] of page) {
        const telemetry: TwinRecord['telemetry'] = {};
        const last = JSON.parse(tel) as Record<string, [number, unknown]>;
        for (const path in last) {
          const [time, value] = last[path]!;
          telemetry[path] = { value, time };
        }
        const twin: TwinRecord = {
          id,
          modelId,
          workspace,
          etag,
          lastUpdateTime,
          contents: JSON.parse(contents) as Record<string, unknown>,
          ...readTimes(propertyTimes),
          telemetry,
        };
        const state = mergeDeviceParts(
          desired === null ? null : (JSON.parse(desired) as DesiredPart),
          device === null ? null : (JSON.parse(device) as DevicePart),
        );
        if (state) twin.device = state;
        yield twin;
      }
      if (page.length < size) return;
      after = page[page.length - 1]![0];
    }
  }

  async *loadRelationships(workspace: string): AsyncIterable<RelationshipRecord> {
    const size = this.options.pageSize ?? 2000;
    let afterSource = '';
    let afterId = '';
    for (;;) {
      let page: RelRow[];
      try {
        page = this.s.loadRels.all(workspace, afterSource, afterSource, afterId, size);
      } catch (e) {
        throw storageError('Cannot load relationships', e);
      }
      for (const r of page) {
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
      if (page.length < size) return;
      const last = page[page.length - 1]!;
      afterSource = last.source_id;
      afterId = last.id;
    }
  }

  async commit(writes: readonly TwinWrite[]): Promise<void> {
    await Promise.resolve();
    const ops = writes.flatMap((w) => w.ops);
    try {
      this.checkExpectations(ops);
    } catch (e) {
      throw storageError('Cannot check a twin write', e);
    }
    this.run('Cannot commit twin writes', () =>
      this.db.transaction(() => {
        for (const op of ops) this.apply(op);
        const outbox = this.options.outbox;
        if (outbox) for (const w of writes) if (w.outbox?.length) outbox.insertRows(w.outbox);
      })(),
    );
  }

  private apply(op: TwinStoreOp): void {
    switch (op.op) {
      case 'putTwin': {
        const t = op.twin;
        this.s.saveTwin.run(
          t.workspace,
          t.id,
          t.modelId,
          t.etag,
          t.lastUpdateTime,
          JSON.stringify(t.contents),
          writeTimes(t),
          t.device === undefined ? null : JSON.stringify(desiredPart(t.device)),
          t.device === undefined ? null : JSON.stringify(devicePart(t.device)),
        );
        return;
      }
      case 'putDeviceState':
        this.s.saveDevice.run(JSON.stringify(devicePart(op.device)), op.workspace, op.id);
        return;
      case 'deleteTwin': {
        const { workspace, id } = op;
        const deleteRows = () => {
          this.s.deleteRelsOf.run(workspace, id, workspace, id);
          this.s.deleteTwin.run(workspace, id);
        };
        // A nested transaction (a savepoint) inside the commit's.
        if (this.options.history) this.options.history.deleteTwin(workspace, id, deleteRows);
        else deleteRows();
        return;
      }
      case 'putRelationship': {
        const r = op.rel;
        this.s.saveRel.run(
          r.workspace,
          r.sourceId,
          r.id,
          r.targetId,
          r.name,
          r.etag,
          r.lastUpdateTime,
          JSON.stringify(r.properties),
        );
        return;
      }
      case 'deleteRelationship':
        this.s.deleteRel.run(op.workspace, op.sourceId, op.relId);
        return;
    }
  }

  /**
   * Walks the ops in order over the stored rows overlaid with the earlier ops' effects.
   * @throws PreconditionFailed
   */
  private checkExpectations(ops: readonly TwinStoreOp[]): void {
    if (!ops.some((o) => 'expectEtag' in o && o.expectEtag !== undefined)) return;
    const overlay = new Map<string, Known>();
    const deletedTwins = new Set<string>();
    const twinKey = (ws: string, id: string) => `t\u0000${ws}\u0000${id}`;
    const relKey = (ws: string, src: string, id: string) => `r\u0000${ws}\u0000${src}\u0000${id}`;
    const twinNow = (ws: string, id: string): Known => {
      const k = twinKey(ws, id);
      if (overlay.has(k)) return overlay.get(k)!;
      const row = this.s.twinEtag.get(ws, id);
      return row ? { etag: row.etag } : null;
    };
    const relNow = (ws: string, src: string, id: string): Known => {
      const k = relKey(ws, src, id);
      if (overlay.has(k)) return overlay.get(k)!;
      const row = this.s.relEtag.get(ws, src, id);
      if (!row) return null;
      // Gone with a twin deleted earlier in this commit.
      if (deletedTwins.has(twinKey(ws, src)) || deletedTwins.has(twinKey(ws, row.target_id))) return null;
      return { etag: row.etag, source: src, target: row.target_id };
    };
    for (const op of ops) {
      switch (op.op) {
        case 'putTwin':
          expect(op.expectEtag, twinNow(op.twin.workspace, op.twin.id), `Digital twin '${op.twin.id}'`);
          overlay.set(twinKey(op.twin.workspace, op.twin.id), { etag: op.twin.etag });
          break;
        case 'deleteTwin': {
          expect(op.expectEtag, twinNow(op.workspace, op.id), `Digital twin '${op.id}'`);
          const k = twinKey(op.workspace, op.id);
          overlay.set(k, null);
          deletedTwins.add(k);
          for (const [key, v] of overlay)
            if (key.startsWith('r') && v && (v.source === op.id || v.target === op.id))
              overlay.set(key, null);
          break;
        }
        case 'putRelationship': {
          const r = op.rel;
          expect(op.expectEtag, relNow(r.workspace, r.sourceId, r.id), `Relationship '${r.id}'`);
          overlay.set(relKey(r.workspace, r.sourceId, r.id), {
            etag: r.etag,
            source: r.sourceId,
            target: r.targetId,
          });
          break;
        }
        case 'deleteRelationship':
          expect(op.expectEtag, relNow(op.workspace, op.sourceId, op.relId), `Relationship '${op.relId}'`);
          overlay.set(relKey(op.workspace, op.sourceId, op.relId), null);
          break;
        case 'putDeviceState': // no expectation: it changes no etag
          break;
      }
    }
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

/** @throws PreconditionFailed when the stored state is not what the writer expected. */
function expect(expected: string | null | undefined, now: Known, what: string): void {
  if (expected === undefined) return;
  if (expected === null) {
    if (now !== null)
      throw new TwinloopError('PreconditionFailed', `${what} exists already (the write expected it absent).`);
    return;
  }
  if (now === null || now.etag !== expected)
    throw new TwinloopError(
      'PreconditionFailed',
      `${what} was changed or deleted by another write (its etag is not the one the write started from).`,
    );
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
