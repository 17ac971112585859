/**
 * MlModelStore on PostgreSQL: the SQLite store's tables (a head row per (workspace, kind, target), the
 * models, their artefacts apart, the activation log). Several nodes may share them, so every write
 * takes the head row's lock first: an add bumps `latest` with one `INSERT … ON CONFLICT DO UPDATE …
 * RETURNING` (two adds never get one version), an activation or rollback locks the head with `FOR
 * UPDATE` and re-reads the active model under the lock. A delete locks the head too, so it never
 * races a promotion of the model it deletes.
 *
 * Text columns cannot hold a NUL: ids, targets, notes and the like holding one are refused
 * (BadRequest) and looked up as absent. JSON fields are kept as JSON text (NULs escaped).
 */
import type pg from 'pg';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  MlActivation,
  MlActivationInfo,
  MlActivationQuery,
  MlActivationResult,
  MlModelKind,
  MlModelQuery,
  MlModelRecord,
  MlModelStore,
  NewMlModel,
} from '../../core/ports/ml-model-store.js';
import {
  ML_ACTIVATION_COLUMNS,
  checkActivationInfo,
  checkBeforeSeq,
  checkImportedActivation,
  checkKind,
  checkMlText,
  checkStatus,
  mlActivationFromRow,
  mlModelActive,
  mlModelColumns,
  mlModelExists,
  mlModelFromRow,
  mlModelId,
  mlModelNotFound,
  mlPageLimit,
  planRollback,
  prepareImportedModel,
  prepareMlModel,
  targetLabel,
  type MlActivationRow,
  type MlModelRow,
  type PreparedMlModel,
} from '../sql/ml-model-rows.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { anyNul, refuseNul } from './pg-text.js';

export const PG_ML_MODEL_MIGRATIONS: PgComponentMigrations = {
  component: 'ml-models',
  migrations: [
    {
      version: 1,
      name: 'ml models: versioned trained models, their artefacts and activation log',
      sql: `
        CREATE TABLE ml_model_heads (
          workspace text COLLATE "C" NOT NULL,
          kind text NOT NULL,
          target text COLLATE "C" NOT NULL,
          latest integer NOT NULL,
          active_id text COLLATE "C",
          PRIMARY KEY (workspace, kind, target)
        );
        CREATE TABLE ml_models (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          workspace text COLLATE "C" NOT NULL,
          id text COLLATE "C" NOT NULL,
          kind text NOT NULL,
          target text COLLATE "C" NOT NULL,
          version integer NOT NULL,
          status text NOT NULL,
          created_at bigint NOT NULL,
          activated_at bigint,
          features text NOT NULL,
          training_range text NOT NULL,
          metrics text NOT NULL,
          code_version text NOT NULL,
          note text,
          artefact_size bigint NOT NULL,
          UNIQUE (workspace, id),
          UNIQUE (workspace, kind, target, version)
        );
        CREATE INDEX ml_models_by_target ON ml_models (workspace, kind, target, seq);
        CREATE INDEX ml_models_by_workspace ON ml_models (workspace, seq);
        CREATE TABLE ml_model_artefacts (
          workspace text COLLATE "C" NOT NULL,
          id text COLLATE "C" NOT NULL,
          artefact text NOT NULL,
          PRIMARY KEY (workspace, id)
        );
        CREATE TABLE ml_model_activations (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          workspace text COLLATE "C" NOT NULL,
          kind text NOT NULL,
          target text COLLATE "C" NOT NULL,
          action text NOT NULL,
          model_id text NOT NULL,
          version integer NOT NULL,
          from_id text,
          from_version integer,
          rollback_to_id text,
          at bigint NOT NULL,
          by_whom text NOT NULL,
          reason text
        );
        CREATE INDEX ml_model_activations_by_target ON ml_model_activations (workspace, kind, target, seq);
      `,
    },
  ],
};

const COLS = mlModelColumns();

function isUnique(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string } }).cause;
  return (e as { code?: string }).code === '23505' || cause?.code === '23505';
}

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_ML_MODEL_MIGRATIONS] });
 *   const models = new PgMlModelStore(db);
 *   const m = await models.add({ workspace, kind: 'rul', target: 'dtmi:x:Pump;1', … });
 */
export class PgMlModelStore implements MlModelStore {
  constructor(private readonly db: PgDatabase) {}

  async add(model: NewMlModel): Promise<MlModelRecord> {
    const p = prepareMlModel(model);
    const { m } = p;
    refuseNul('an ML model', {
      workspace: m.workspace,
      target: m.target,
      codeVersion: m.codeVersion,
      note: m.note,
    });
    return this.db.transaction(async (c) => {
      const { latest } = (
        await c.query<{ latest: number }>(
          `INSERT INTO ml_model_heads (workspace, kind, target, latest, active_id) VALUES ($1, $2, $3, 1, NULL)
           ON CONFLICT (workspace, kind, target) DO UPDATE SET latest = ml_model_heads.latest + 1 RETURNING latest`,
          [m.workspace, m.kind, m.target],
        )
      ).rows[0]!;
      return this.insertRow(c, p, mlModelId(m.kind, m.target, latest), latest, 'candidate', undefined);
    });
  }

  private async insertRow(
    c: pg.PoolClient,
    p: PreparedMlModel,
    id: string,
    version: number,
    status: string,
    activatedAt: number | undefined,
  ): Promise<MlModelRecord> {
    const { m } = p;
    let row: MlModelRow;
    try {
      row = (
        await c.query<MlModelRow>(
          `INSERT INTO ml_models (workspace, id, kind, target, version, status, created_at, activated_at, features,
                                  training_range, metrics, code_version, note, artefact_size)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ${COLS}`,
          [
            m.workspace,
            id,
            m.kind,
            m.target,
            version,
            status,
            m.createdAt,
            activatedAt ?? null,
            p.features,
            p.trainingRange,
            p.metrics,
            m.codeVersion,
            m.note ?? null,
            m.artefact.length,
          ],
        )
      ).rows[0]!;
      await c.query('INSERT INTO ml_model_artefacts (workspace, id, artefact) VALUES ($1, $2, $3)', [
        m.workspace,
        id,
        m.artefact,
      ]);
    } catch (e) {
      if (isUnique(e)) throw mlModelExists(id);
      throw e;
    }
    return mlModelFromRow(row);
  }

  async get(
    workspace: string,
    id: string,
    options: { artefact?: boolean } = {},
  ): Promise<MlModelRecord | undefined> {
    checkMlText({ workspace, id });
    if (anyNul(workspace, id)) return undefined;
    if (options.artefact === true) {
      const r = await this.db.query<MlModelRow & { artefact: string | null }>(
        `SELECT ${mlModelColumns('m.')}, a.artefact FROM ml_models m
         LEFT JOIN ml_model_artefacts a ON a.workspace = m.workspace AND a.id = m.id
         WHERE m.workspace = $1 AND m.id = $2`,
        [workspace, id],
      );
      const row = r.rows[0];
      return row && mlModelFromRow(row, row.artefact ?? '');
    }
    const r = await this.db.query<MlModelRow>(
      `SELECT ${COLS} FROM ml_models WHERE workspace = $1 AND id = $2`,
      [workspace, id],
    );
    return r.rows[0] && mlModelFromRow(r.rows[0]);
  }

  async list(q: MlModelQuery): Promise<MlModelRecord[]> {
    checkMlText({ workspace: q.workspace, ...(q.target !== undefined ? { target: q.target } : {}) });
    checkKind(q.kind);
    checkStatus(q.status);
    checkBeforeSeq(q.beforeSeq);
    const limit = mlPageLimit(q.limit);
    if (anyNul(q.workspace, q.target)) return [];
    const where = ['workspace = $1'];
    const args: unknown[] = [q.workspace];
    const add = (sql: string, v: unknown): void => {
      args.push(v);
      where.push(`${sql} $${args.length}`);
    };
    if (q.kind !== undefined) add('kind =', q.kind);
    if (q.target !== undefined) add('target =', q.target);
    if (q.status !== undefined) add('status =', q.status);
    if (q.beforeSeq !== undefined) add('seq <', q.beforeSeq);
    args.push(limit);
    const r = await this.db.query<MlModelRow>(
      `SELECT ${COLS} FROM ml_models WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map((x) => mlModelFromRow(x));
  }

  async setActive(workspace: string, id: string, info: MlActivationInfo): Promise<MlActivationResult> {
    checkMlText({ workspace, id });
    checkActivationInfo(info);
    refuseNul('an activation', { by: info.by, reason: info.reason });
    if (anyNul(workspace, id)) throw mlModelNotFound(workspace, id);
    return this.db.transaction(async (c) => {
      const first = await this.row(c, workspace, id);
      if (!first) throw mlModelNotFound(workspace, id);
      const head = await this.lockHead(c, workspace, first.kind, first.target);
      // Read again under the head's lock (a delete takes it too).
      const row = await this.row(c, workspace, id);
      if (!row) throw mlModelNotFound(workspace, id);
      return this.activate(
        c,
        row,
        head?.active_id ?? undefined,
        'promote',
        head?.active_id ?? undefined,
        info,
      );
    });
  }

  async rollback(
    workspace: string,
    kind: MlModelKind,
    target: string,
    info: MlActivationInfo,
  ): Promise<MlActivationResult> {
    checkMlText({ workspace, target });
    checkKind(kind, true);
    checkActivationInfo(info);
    refuseNul('an activation', { by: info.by, reason: info.reason });
    const label = targetLabel(kind, target);
    const none = () =>
      new TwinloopError('Conflict', `Cannot roll back ${label}: no model of it is active.`, {
        innerCode: 'MlNothingToRollBack',
      });
    if (anyNul(workspace, target)) throw none();
    return this.db.transaction(async (c) => {
      const head = await this.lockHead(c, workspace, kind, target);
      if (!head?.active_id) throw none();
      const log = (
        await c.query<MlActivationRow>(
          `SELECT ${ML_ACTIVATION_COLUMNS} FROM ml_model_activations
           WHERE workspace = $1 AND kind = $2 AND target = $3 ORDER BY seq DESC`,
          [workspace, kind, target],
        )
      ).rows.map(mlActivationFromRow);
      const existing = new Set(
        (
          await c.query<{ id: string }>(
            'SELECT id FROM ml_models WHERE workspace = $1 AND kind = $2 AND target = $3',
            [workspace, kind, target],
          )
        ).rows.map((r) => r.id),
      );
      const plan = planRollback(log, head.active_id, (mid) => existing.has(mid), label);
      const row = (await this.row(c, workspace, plan.to))!;
      return this.activate(c, row, head.active_id, 'rollback', plan.rollbackToId, info);
    });
  }

  private async row(c: pg.PoolClient, workspace: string, id: string): Promise<MlModelRow | undefined> {
    return (
      await c.query<MlModelRow>(`SELECT ${COLS} FROM ml_models WHERE workspace = $1 AND id = $2`, [
        workspace,
        id,
      ])
    ).rows[0];
  }

  private async lockHead(
    c: pg.PoolClient,
    workspace: string,
    kind: string,
    target: string,
  ): Promise<{ latest: number; active_id: string | null } | undefined> {
    return (
      await c.query<{ latest: number; active_id: string | null }>(
        'SELECT latest, active_id FROM ml_model_heads WHERE workspace = $1 AND kind = $2 AND target = $3 FOR UPDATE',
        [workspace, kind, target],
      )
    ).rows[0];
  }

  private async activate(
    c: pg.PoolClient,
    row: MlModelRow,
    current: string | undefined,
    action: MlActivation['action'],
    rollbackToId: string | undefined,
    info: MlActivationInfo,
  ): Promise<MlActivationResult> {
    const { workspace } = row;
    if (current === row.id) return { model: mlModelFromRow(row), changed: false };
    const prevRow = current !== undefined ? await this.row(c, workspace, current) : undefined;
    let previous: MlModelRecord | undefined;
    if (prevRow) {
      const r = await c.query<MlModelRow>(
        `UPDATE ml_models SET status = 'retired' WHERE workspace = $1 AND id = $2 RETURNING ${COLS}`,
        [workspace, prevRow.id],
      );
      previous = mlModelFromRow(r.rows[0]!);
    }
    const model = mlModelFromRow(
      (
        await c.query<MlModelRow>(
          `UPDATE ml_models SET status = 'active', activated_at = $3 WHERE workspace = $1 AND id = $2 RETURNING ${COLS}`,
          [workspace, row.id, info.at],
        )
      ).rows[0]!,
    );
    await c.query(
      'UPDATE ml_model_heads SET active_id = $4 WHERE workspace = $1 AND kind = $2 AND target = $3',
      [workspace, row.kind, row.target, row.id],
    );
    const entry = {
      workspace,
      kind: row.kind as MlModelKind,
      target: row.target,
      action,
      modelId: row.id,
      version: Number(row.version),
      ...(prevRow ? { fromId: prevRow.id, fromVersion: Number(prevRow.version) } : {}),
      ...(rollbackToId !== undefined ? { rollbackToId } : {}),
      at: info.at,
      by: info.by,
      ...(info.reason !== undefined ? { reason: info.reason } : {}),
    };
    const seq = await this.insertActivation(c, entry);
    return { model, ...(previous ? { previous } : {}), changed: true, activation: { seq, ...entry } };
  }

  private async insertActivation(c: pg.PoolClient, a: Omit<MlActivation, 'seq'>): Promise<number> {
    const r = await c.query<{ seq: number }>(
      `INSERT INTO ml_model_activations (workspace, kind, target, action, model_id, version, from_id, from_version,
                                         rollback_to_id, at, by_whom, reason)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING seq`,
      [
        a.workspace,
        a.kind,
        a.target,
        a.action,
        a.modelId,
        a.version,
        a.fromId ?? null,
        a.fromVersion ?? null,
        a.rollbackToId ?? null,
        a.at,
        a.by,
        a.reason ?? null,
      ],
    );
    return Number(r.rows[0]!.seq);
  }

  async delete(workspace: string, id: string): Promise<boolean> {
    checkMlText({ workspace, id });
    if (anyNul(workspace, id)) return false;
    return this.db.transaction(async (c) => {
      const first = await this.row(c, workspace, id);
      if (!first) return false;
      const head = await this.lockHead(c, workspace, first.kind, first.target);
      const row = await this.row(c, workspace, id);
      if (!row) return false;
      if (row.status === 'active' || head?.active_id === id) throw mlModelActive(id);
      await c.query('DELETE FROM ml_models WHERE workspace = $1 AND id = $2', [workspace, id]);
      await c.query('DELETE FROM ml_model_artefacts WHERE workspace = $1 AND id = $2', [workspace, id]);
      return true;
    });
  }

  async active(workspace: string, kind: MlModelKind, target: string): Promise<MlModelRecord | undefined> {
    checkMlText({ workspace, target });
    checkKind(kind, true);
    if (anyNul(workspace, target)) return undefined;
    const r = await this.db.query<MlModelRow & { artefact: string | null }>(
      `SELECT ${mlModelColumns('m.')}, a.artefact FROM ml_model_heads h
       JOIN ml_models m ON m.workspace = h.workspace AND m.id = h.active_id
       LEFT JOIN ml_model_artefacts a ON a.workspace = m.workspace AND a.id = m.id
       WHERE h.workspace = $1 AND h.kind = $2 AND h.target = $3`,
      [workspace, kind, target],
    );
    const row = r.rows[0];
    return row && mlModelFromRow(row, row.artefact ?? '');
  }

  async activations(q: MlActivationQuery): Promise<MlActivation[]> {
    checkMlText({ workspace: q.workspace, ...(q.target !== undefined ? { target: q.target } : {}) });
    checkKind(q.kind);
    checkBeforeSeq(q.beforeSeq);
    const limit = mlPageLimit(q.limit);
    if (anyNul(q.workspace, q.target)) return [];
    const where = ['workspace = $1'];
    const args: unknown[] = [q.workspace];
    const add = (sql: string, v: unknown): void => {
      args.push(v);
      where.push(`${sql} $${args.length}`);
    };
    if (q.kind !== undefined) add('kind =', q.kind);
    if (q.target !== undefined) add('target =', q.target);
    if (q.beforeSeq !== undefined) add('seq <', q.beforeSeq);
    args.push(limit);
    const r = await this.db.query<MlActivationRow>(
      `SELECT ${ML_ACTIVATION_COLUMNS} FROM ml_model_activations WHERE ${where.join(' AND ')}
       ORDER BY seq DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map(mlActivationFromRow);
  }

  async importModels(models: readonly (MlModelRecord & { artefact: string })[]): Promise<void> {
    if (!Array.isArray(models))
      throw new TwinloopError('BadRequest', 'importModels takes an array of models.');
    const prepared = models.map(prepareImportedModel);
    for (const p of prepared) {
      const m = p.m as MlModelRecord;
      refuseNul('an ML model', {
        id: m.id,
        workspace: m.workspace,
        target: m.target,
        codeVersion: m.codeVersion,
        note: m.note,
      });
    }
    if (!prepared.length) return;
    await this.db.transaction(async (c) => {
      for (const p of prepared) {
        const m = p.m as MlModelRecord & { artefact: string };
        await this.insertRow(c, p, m.id, m.version, m.status, m.activatedAt);
        await c.query(
          `INSERT INTO ml_model_heads (workspace, kind, target, latest, active_id) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (workspace, kind, target) DO UPDATE SET latest = greatest(ml_model_heads.latest, excluded.latest),
             active_id = coalesce(excluded.active_id, ml_model_heads.active_id)`,
          [m.workspace, m.kind, m.target, m.version, m.status === 'active' ? m.id : null],
        );
      }
    });
  }

  async importActivations(entries: readonly MlActivation[]): Promise<void> {
    if (!Array.isArray(entries)) throw new TwinloopError('BadRequest', 'importActivations takes an array.');
    entries.forEach(checkImportedActivation);
    for (const e of entries)
      refuseNul('an activation', {
        workspace: e.workspace,
        target: e.target,
        by: e.by,
        reason: e.reason,
        modelId: e.modelId,
      });
    if (!entries.length) return;
    await this.db.transaction(async (c) => {
      for (const e of entries) await this.insertActivation(c, e);
    });
  }
}
