/**
 * ModelStore on SQLite: one row per (workspace, model id), listed in upload order. The port is
 * asynchronous (for PostgreSQL); better-sqlite3 answers synchronously inside.
 */
import type Database from 'better-sqlite3';
import type { ModelStore, StoredModel } from '../../core/ports/storage-ports.js';
import { storageError } from './sqlite-database.js';

interface Row {
  workspace: string;
  id: string;
  definition: string;
  upload_time: number;
  decommissioned: number;
}

export class SqliteModelStore implements ModelStore {
  private readonly insertStmt: Database.Statement<[string, string, string, number, number]>;

  constructor(private readonly db: Database.Database) {
    this.insertStmt = db.prepare(
      'INSERT INTO models (workspace, id, definition, upload_time, decommissioned) VALUES (?, ?, ?, ?, ?)',
    );
  }

  async list(workspace: string): Promise<StoredModel[]> {
    await Promise.resolve();
    try {
      return this.db
        .prepare<[string], Row>('SELECT * FROM models WHERE workspace = ? ORDER BY upload_time, seq')
        .all(workspace)
        .map((r) => ({
          workspace: r.workspace,
          id: r.id,
          definition: r.definition,
          uploadTime: r.upload_time,
          decommissioned: r.decommissioned !== 0,
        }));
    } catch (e) {
      throw storageError('Cannot list models', e);
    }
  }

  async insert(models: readonly StoredModel[]): Promise<void> {
    await Promise.resolve();
    try {
      this.db.transaction(() => {
        for (const m of models) {
          this.insertStmt.run(m.workspace, m.id, m.definition, m.uploadTime, m.decommissioned ? 1 : 0);
        }
      })();
    } catch (e) {
      throw storageError('Cannot store models', e);
    }
  }

  async setDecommissioned(workspace: string, id: string, decommissioned: boolean): Promise<boolean> {
    await Promise.resolve();
    try {
      return (
        this.db
          .prepare('UPDATE models SET decommissioned = ? WHERE workspace = ? AND id = ?')
          .run(decommissioned ? 1 : 0, workspace, id).changes > 0
      );
    } catch (e) {
      throw storageError('Cannot update a model', e);
    }
  }

  async delete(workspace: string, id: string): Promise<boolean> {
    await Promise.resolve();
    try {
      return (
        this.db.prepare('DELETE FROM models WHERE workspace = ? AND id = ?').run(workspace, id).changes > 0
      );
    } catch (e) {
      throw storageError('Cannot delete a model', e);
    }
  }
}
