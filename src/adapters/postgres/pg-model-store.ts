/**
 * ModelStore on PostgreSQL: one row per (workspace, model id), listed in upload order (then in
 * insert order, by a sequence). The definition is kept as text, exactly as uploaded.
 */
import type { ModelStore, StoredModel } from '../../core/ports/storage-ports.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { checkNoNul } from './pg-values.js';

export const PG_MODEL_MIGRATIONS: PgComponentMigrations = {
  component: 'models',
  migrations: [
    {
      version: 1,
      name: 'models',
      sql: `CREATE TABLE models (
              seq bigserial NOT NULL,
              workspace text NOT NULL,
              id text NOT NULL,
              definition text NOT NULL,
              upload_time bigint NOT NULL,
              decommissioned boolean NOT NULL DEFAULT false,
              PRIMARY KEY (workspace, id)
            );
            CREATE INDEX models_in_order ON models (workspace, upload_time, seq);`,
    },
  ],
};

interface Row {
  workspace: string;
  id: string;
  definition: string;
  upload_time: number;
  decommissioned: boolean;
}

export class PgModelStore implements ModelStore {
  constructor(private readonly db: PgDatabase) {}

  async list(workspace: string): Promise<StoredModel[]> {
    checkNoNul('workspace', workspace);
    const r = await this.db.query<Row>(
      'SELECT workspace, id, definition, upload_time, decommissioned FROM models WHERE workspace = $1 ORDER BY upload_time, seq',
      [workspace],
    );
    return r.rows.map((m) => ({
      workspace: m.workspace,
      id: m.id,
      definition: m.definition,
      uploadTime: m.upload_time,
      decommissioned: m.decommissioned,
    }));
  }

  async insert(models: readonly StoredModel[]): Promise<void> {
    if (models.length === 0) return;
    for (const m of models) {
      checkNoNul('model id', m.id);
      checkNoNul('workspace', m.workspace);
      checkNoNul('model definition', m.definition);
    }
    // One statement: all or nothing (a duplicate id fails the whole batch).
    await this.db.query(
      `INSERT INTO models (workspace, id, definition, upload_time, decommissioned)
       SELECT workspace, id, definition, upload_time, decommissioned
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[]) WITH ORDINALITY
         AS t(workspace, id, definition, upload_time, decommissioned, n)
       ORDER BY n`,
      [
        models.map((m) => m.workspace),
        models.map((m) => m.id),
        models.map((m) => m.definition),
        models.map((m) => m.uploadTime),
        models.map((m) => m.decommissioned),
      ],
    );
  }

  async setDecommissioned(workspace: string, id: string, decommissioned: boolean): Promise<boolean> {
    checkNoNul('model id', id);
    const r = await this.db.query('UPDATE models SET decommissioned = $3 WHERE workspace = $1 AND id = $2', [
      workspace,
      id,
      decommissioned,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async delete(workspace: string, id: string): Promise<boolean> {
    checkNoNul('model id', id);
    const r = await this.db.query('DELETE FROM models WHERE workspace = $1 AND id = $2', [workspace, id]);
    return (r.rowCount ?? 0) > 0;
  }
}
